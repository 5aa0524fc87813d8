/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer for start-up and report-time text (request bytes,
 * JSON, CSV), shared by request.c and report.c. Never on the data plane.
 * A failed allocation is remembered in err and later appends do nothing,
 * so callers check once at the end.
 */
#ifndef BROOD_TOOLS_SBUF_H
#define BROOD_TOOLS_SBUF_H

#include <stddef.h>

struct sbuf {
	char *p;    /* NUL-terminated once anything is appended; owned */
	size_t len; /* bytes, without the NUL */
	size_t cap; /* bytes allocated */
	int err;    /* 0 or -ENOMEM */
};

void sbuf_add(struct sbuf *b, const void *p, size_t len);
void sbuf_adds(struct sbuf *b, const char *s);
void sbuf_addf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a quoted JSON string. */
void sbuf_add_json_str(struct sbuf *b, const char *s, size_t len);
/* Hands the bytes over (caller frees) and leaves b empty. Returns 0 or b->err. */
int sbuf_take(struct sbuf *b, char **out, size_t *out_len);
void sbuf_free(struct sbuf *b);

/* JSON string escaping (no quotes); snprintf-like: writes at most dst_len
 * bytes, no NUL, returns the full escaped length. */
size_t json_escape(char *dst, size_t dst_len, const char *src, size_t src_len);

#endif
