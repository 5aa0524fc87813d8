/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: response heads, request heads and chunked bodies. The
 * first byte picks a split point so that incremental feeding is fuzzed too;
 * results must not depend on where the input was cut.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void chunked(const char *p, size_t len, size_t cut)
{
	struct http1_chunked a, b;
	size_t whole = 0, parts = 0;
	int ra = 0, rb = 0;

	/* Whole, then in two pieces: the decoded bytes must agree. */
	http1_chunked_init(&a);
	for (size_t off = 0; off < len;) {
		const char *d;
		size_t dl;
		ssize_t n = http1_chunked_feed(&a, p + off, len - off, &d, &dl);

		if (n < 0) {
			ra = -1;
			break;
		}
		assert((size_t)n <= len - off);
		if (dl)
			assert(d >= p + off && d + dl <= p + len);
		whole += dl;
		if (n == 0)
			break;
		off += (size_t)n;
	}
	http1_chunked_init(&b);
	for (int piece = 0; piece < 2 && !rb; piece++) {
		const char *base = piece ? p + cut : p;
		size_t plen = piece ? len - cut : cut;

		for (size_t off = 0; off < plen;) {
			const char *d;
			size_t dl;
			ssize_t n = http1_chunked_feed(&b, base + off, plen - off, &d, &dl);

			if (n < 0) {
				rb = -1;
				break;
			}
			parts += dl;
			if (n == 0)
				break;
			off += (size_t)n;
		}
	}
	assert(ra == rb);
	if (!ra)
		assert(whole == parts && http1_chunked_done(&a) == http1_chunked_done(&b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http1_response resp;
	struct http1_request req;
	char *buf;
	size_t cut;
	int n;

	if (size < 1)
		return 0;
	cut = size > 1 ? data[0] % size : 0;
	data++;
	size--;
	/* An exact-size copy: ASan catches any read past the end. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);

	n = http1_parse_response(buf, size, &resp);
	assert(n == -EAGAIN || n == -EPROTO || (n > 0 && (size_t)n <= size));
	if (n > 0) {
		for (size_t i = 0; i < resp.nr_headers; i++)
			assert(resp.headers[i].name >= buf &&
			       resp.headers[i].value + resp.headers[i].value_len <= buf + n);
		/* A prefix of a complete head is never complete, nor malformed. */
		if (cut < (size_t)n) {
			int m = http1_parse_response(buf, cut, &resp);
			assert(m == -EAGAIN || m == -EPROTO);
		}
	}
	n = http1_parse_request(buf, size, &req);
	assert(n == -EAGAIN || n == -EPROTO || (n > 0 && (size_t)n <= size));
	chunked(buf, size, cut > size ? size : cut);
	free(buf);
	return 0;
}
