/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"

static int grow(struct sbuf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 256;
	char *p;

	if (b->err)
		return b->err;
	if (more > SIZE_MAX / 2 - b->len) {
		b->err = -ENOMEM;
		return b->err;
	}
	while (cap < b->len + more + 1)
		cap *= 2;
	if (cap == b->cap)
		return 0;
	p = realloc(b->p, cap);
	if (!p) {
		b->err = -ENOMEM;
		return b->err;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void sbuf_add(struct sbuf *b, const void *p, size_t len)
{
	if (grow(b, len))
		return;
	memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void sbuf_adds(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

size_t json_escape(char *dst, size_t dst_len, const char *src, size_t src_len)
{
	static const char hex[] = "0123456789abcdef";
	size_t out = 0;

	for (size_t i = 0; i < src_len; i++) {
		unsigned char c = (unsigned char)src[i];
		char esc[6];
		size_t n = 0;

		switch (c) {
		case '"':
			memcpy(esc, "\\\"", n = 2);
			break;
		case '\\':
			memcpy(esc, "\\\\", n = 2);
			break;
		case '\n':
			memcpy(esc, "\\n", n = 2);
			break;
		case '\r':
			memcpy(esc, "\\r", n = 2);
			break;
		case '\t':
			memcpy(esc, "\\t", n = 2);
			break;
		case '\b':
			memcpy(esc, "\\b", n = 2);
			break;
		case '\f':
			memcpy(esc, "\\f", n = 2);
			break;
		default:
			if (c < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				n = 6;
			} else {
				esc[0] = (char)c; /* UTF-8 passes through */
				n = 1;
			}
		}
		for (size_t k = 0; k < n; k++, out++)
			if (out < dst_len)
				dst[out] = esc[k];
	}
	return out;
}

void sbuf_add_json_str(struct sbuf *b, const char *s, size_t len)
{
	size_t n = json_escape(NULL, 0, s, len);

	if (grow(b, n + 2))
		return;
	b->p[b->len++] = '"';
	json_escape(b->p + b->len, n, s, len);
	b->len += n;
	b->p[b->len++] = '"';
	b->p[b->len] = '\0';
}

int sbuf_take(struct sbuf *b, char **out, size_t *out_len)
{
	int err = b->err;

	if (!err && grow(b, 0) == 0) { /* an empty buffer still hands back "" */
		b->p[b->len] = '\0';
		*out = b->p;
		*out_len = b->len;
		memset(b, 0, sizeof(*b));
		return 0;
	}
	err = b->err;
	sbuf_free(b);
	return err;
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
