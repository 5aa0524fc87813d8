/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tok_test_util.h"

char *tt_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		fail_msg("cannot read %s: run scripts/setup.sh (it installs the test data)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static unsigned hex4(const char *p)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v = v << 4 | (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

static size_t put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

size_t tt_json_string(const char *p, char *out, size_t cap)
{
	size_t n = 0;

	assert_true(*p == '"');
	for (p++; *p != '"'; p++) {
		assert_true(n + 4 <= cap);
		if (*p != '\\') {
			out[n++] = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 'n':
			out[n++] = '\n';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 'b':
			out[n++] = '\b';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case 'u': {
			unsigned cp = hex4(p + 1);

			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && p[1] == '\\' && p[2] == 'u') {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(p + 3) - 0xdc00);
				p += 6;
			}
			n += put_utf8(out + n, cp);
			break;
		}
		default:
			out[n++] = *p;
		}
	}
	return n;
}

size_t tt_parse_ids(const char *line, uint32_t *ids, size_t cap)
{
	size_t n = 0;
	char *end;

	for (const char *p = line; *p && *p != '\n';) {
		unsigned long v = strtoul(p, &end, 10);

		if (end == p)
			break;
		assert_true(n < cap);
		ids[n++] = (uint32_t)v;
		p = end;
		while (*p == ' ')
			p++;
	}
	return n;
}

struct tok *tt_load(const char *spec)
{
	struct tok *t = NULL;
	char err[512];
	int ret = tok_load(spec, &t, err, sizeof(err));

	if (ret)
		fail_msg("tok_load(%s): %s", spec, err);
	return t;
}

long tt_encode_checked(struct tok_state *st, const char *text, size_t len, uint32_t *ids,
		       uint32_t *ends, size_t cap, int strict)
{
	long n = tok_encode_ids(st, text, len, ids, ends, cap);

	assert_true(n >= 0);
	assert_true((size_t)n <= cap);
	/* Byte-level BPE gives every byte a token; sentencepiece folds whitespace away. */
	if (len == 0)
		assert_int_equal(n, 0);
	else if (strict)
		assert_true(n > 0);
	for (long i = 0; i < n; i++) {
		uint32_t prev = i ? ends[i - 1] : 0;

		if (strict)
			assert_true(ends[i] > prev);
		else
			assert_true(ends[i] >= prev);
	}
	if (n)
		assert_int_equal(ends[n - 1], len);
	/* Counting only, and a short output array, give the same n. */
	assert_int_equal(tok_encode(st, text, len, NULL, 0), n);
	if (n > 1) {
		uint32_t first[1];

		assert_int_equal(tok_encode(st, text, len, first, 1), n);
		assert_int_equal(first[0], ends[0]);
	}
	return n;
}

/* gpt-tokenizer's TestPlans.txt: "EncodingName: x\nSample: s\nEncoded: [ids]\n\n". */
void tt_check_testplans(const char *encoding, const char *spec)
{
	char *plans =
	    tt_read_file(BROOD_NPM_DIR "/node_modules/gpt-tokenizer/data/TestPlans.txt", NULL);
	struct tok *t = tt_load(spec);
	static uint32_t ids[8192], ends[8192], want[8192];
	struct tok_state *st;
	char head[64];
	int cases = 0;

	assert_int_equal(tok_state_new(t, 1 << 16, &st), 0);
	snprintf(head, sizeof(head), "EncodingName: %s\nSample: ", encoding);
	for (char *p = strstr(plans, head); p; p = strstr(p, head)) {
		char *sample = p + strlen(head);
		char *nl = strchr(sample, '\n');
		char *enc;
		size_t len, nw = 0;

		assert_non_null(nl);
		len = (size_t)(nl - sample);
		enc = nl + 1;
		assert_true(strncmp(enc, "Encoded: [", 10) == 0);
		for (char *q = enc + 10; *q != ']';) {
			char *e;

			want[nw++] = (uint32_t)strtoul(q, &e, 10);
			if (e == q)
				break;
			q = e;
			while (*q == ',' || *q == ' ')
				q++;
		}
		if (enc[10] == ']')
			nw = 0;
		long n = tt_encode_checked(st, sample, len, ids, ends, 8192, 1);

		if ((size_t)n != nw || memcmp(ids, want, nw * sizeof(*ids)) != 0)
			fail_msg("%s: %.*s: %ld tokens, want %zu", encoding, (int)len, sample, n,
				 nw);
		cases++;
		p = enc;
	}
	assert_true(cases >= 50);
	print_message("%s: %d test plans equal (%s)\n", encoding, cases, spec);
	tok_state_free(st);
	tok_free(t);
	free(plans);
}
