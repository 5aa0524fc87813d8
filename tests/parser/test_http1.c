/* SPDX-License-Identifier: MIT */
/*
 * http1.c: heads and chunked bodies, each input against a guard page, every
 * prefix of a head and every split point (and byte by byte) of a body.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guard.h"
#include "http1.h"

#define S(lit) lit, sizeof(lit) - 1

static struct guard g1, g2;

static int setup(void **state)
{
	(void)state;
	if (guard_init(&g1, 1 << 20) || guard_init(&g2, 1 << 20))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	guard_close(&g1);
	guard_close(&g2);
	return 0;
}

static int parse_resp_at_guard(const char *s, size_t len, struct http1_response *r)
{
	return http1_parse_response(guard_place(&g1, s, len, 0), len, r);
}

static int parse_req_at_guard(const char *s, size_t len, struct http1_request *r)
{
	return http1_parse_request(guard_place(&g1, s, len, 0), len, r);
}

/*
 * Parses s and every prefix of it. Proper prefixes must ask for more, or be
 * malformed once the full input is; the full input must give want.
 */
static void check_response_prefixes(const char *s, size_t len, int want, struct http1_response *r)
{
	bool seen_eproto = false;

	for (size_t i = 0; i < len; i++) {
		int ret = parse_resp_at_guard(s, i, r);

		if (want >= 0 && i < (size_t)want) {
			assert_int_equal(ret, -EAGAIN);
		} else if (want >= 0) {
			assert_int_equal(ret, want);
		} else {
			/* Once malformed, a longer input stays malformed. */
			if (seen_eproto)
				assert_int_equal(ret, -EPROTO);
			else
				assert_true(ret == -EAGAIN || ret == -EPROTO);
			seen_eproto = ret == -EPROTO;
		}
	}
	assert_int_equal(parse_resp_at_guard(s, len, r), want);
}

static void expect_header(const struct http1_header *h, const char *name, const char *value)
{
	assert_non_null(h);
	assert_int_equal(h->name_len, strlen(name));
	assert_memory_equal(h->name, name, h->name_len);
	assert_int_equal(h->value_len, strlen(value));
	assert_memory_equal(h->value, value, h->value_len);
}

static void test_response_basic(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\n"
				   "date: Tue, 14 May 2024 10:00:00 GMT\r\n"
				   "server: uvicorn\r\n"
				   "content-type: text/event-stream; charset=utf-8\r\n"
				   "Transfer-Encoding: chunked\r\n"
				   "X-Empty:\r\n"
				   "X-Spaces: \t a b \t \r\n"
				   "\r\n";
	struct http1_response r;

	(void)state;
	check_response_prefixes(S(head), (int)(sizeof(head) - 1), &r);
	assert_int_equal(r.minor_version, 1);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.reason_len, 2);
	assert_memory_equal(r.reason, "OK", 2);
	assert_int_equal(r.nr_headers, 6);
	expect_header(&r.headers[0], "date", "Tue, 14 May 2024 10:00:00 GMT");
	expect_header(&r.headers[2], "content-type", "text/event-stream; charset=utf-8");
	expect_header(&r.headers[4], "X-Empty", "");
	expect_header(&r.headers[5], "X-Spaces", "a b");
	assert_int_equal(r.framing, HTTP1_FRAMING_CHUNKED);
	assert_true(r.keep_alive);

	/* The body that follows is not the head's business. */
	char buf[512];
	memcpy(buf, head, sizeof(head) - 1);
	memcpy(buf + sizeof(head) - 1, "5\r\nhello", 8);
	assert_int_equal(parse_resp_at_guard(buf, sizeof(head) - 1 + 8, &r), sizeof(head) - 1);
}

static void test_find_header(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: a\r\n"
				   "X-Dup: 1\r\n"
				   "x-dup: 2\r\n\r\n";
	struct http1_response r;

	(void)state;
	assert_int_equal(parse_resp_at_guard(S(head), &r), sizeof(head) - 1);
	expect_header(http1_find_header(r.headers, r.nr_headers, "content-type"), "Content-Type",
		      "a");
	expect_header(http1_find_header(r.headers, r.nr_headers, "CONTENT-TYPE"), "Content-Type",
		      "a");
	expect_header(http1_find_header(r.headers, r.nr_headers, "X-DUP"), "X-Dup", "1");
	assert_null(http1_find_header(r.headers, r.nr_headers, "content"));
	assert_null(http1_find_header(r.headers, r.nr_headers, "content-type2"));
	assert_null(http1_find_header(r.headers, 0, "content-type"));
}

struct framing_case {
	const char *head;
	int status;
	int minor_version;
	enum http1_framing framing;
	uint64_t content_length;
	bool keep_alive;
};

static void test_response_framing(void **state)
{
	static const struct framing_case cases[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", 200, 1, HTTP1_FRAMING_LENGTH, 42,
		  true },
		{ "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", 200, 1, HTTP1_FRAMING_LENGTH, 0,
		  true },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n", 200, 1,
		  HTTP1_FRAMING_LENGTH, 7, true },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n", 200, 1,
		  HTTP1_FRAMING_LENGTH, UINT64_MAX, true },
		{ "HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: Chunked\r\n\r\n", 200, 1,
		  HTTP1_FRAMING_CHUNKED, 0, true },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 200, 1,
		  HTTP1_FRAMING_CHUNKED, 0, true },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
		  "chunked\r\n\r\n",
		  200, 1, HTTP1_FRAMING_CHUNKED, 0, true },
		/* chunked not last: the body runs to close (RFC 9112 6.3). */
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 200, 1,
		  HTTP1_FRAMING_CLOSE, 0, false },
		/* Transfer-Encoding overrides Content-Length. */
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 200,
		  1, HTTP1_FRAMING_CHUNKED, 0, true },
		{ "HTTP/1.1 200 OK\r\n\r\n", 200, 1, HTTP1_FRAMING_CLOSE, 0, false },
		{ "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 204, 1,
		  HTTP1_FRAMING_NONE, 0, true },
		{ "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 304, 1,
		  HTTP1_FRAMING_NONE, 0, true },
		{ "HTTP/1.1 100 Continue\r\n\r\n", 100, 1, HTTP1_FRAMING_NONE, 0, true },
		{ "HTTP/1.1 101 Switching Protocols\r\n\r\n", 101, 1, HTTP1_FRAMING_NONE, 0, true },
		{ "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", 200, 1,
		  HTTP1_FRAMING_LENGTH, 1, false },
		{ "HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 1\r\n\r\n",
		  200, 1, HTTP1_FRAMING_LENGTH, 1, false },
		{ "HTTP/1.1 200 OK\r\nConnection: upgrade\r\nContent-Length: 1\r\n\r\n", 200, 1,
		  HTTP1_FRAMING_LENGTH, 1, true },
		{ "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", 200, 0, HTTP1_FRAMING_LENGTH, 1,
		  false },
		{ "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", 200, 0,
		  HTTP1_FRAMING_LENGTH, 1, true },
		{ "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", 200, 0, HTTP1_FRAMING_CLOSE,
		  0, false },
		{ "HTTP/1.1 500 \r\nContent-Length: 3\r\n\r\n", 500, 1, HTTP1_FRAMING_LENGTH, 3,
		  true },
		{ "HTTP/1.1 404\r\nContent-Length: 3\r\n\r\n", 404, 1, HTTP1_FRAMING_LENGTH, 3,
		  true },
		{ "HTTP/1.1 999 Whatever \xc3\xa9\t!\r\nContent-Length: 3\r\n\r\n", 999, 1,
		  HTTP1_FRAMING_LENGTH, 3, true },
	};
	struct http1_response r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct framing_case *c = &cases[i];
		size_t len = strlen(c->head);

		check_response_prefixes(c->head, len, (int)len, &r);
		assert_int_equal(r.status, c->status);
		assert_int_equal(r.minor_version, c->minor_version);
		assert_int_equal(r.framing, c->framing);
		if (c->framing == HTTP1_FRAMING_LENGTH)
			assert_true(r.content_length == c->content_length);
		assert_int_equal(r.keep_alive, c->keep_alive);
	}
}

static void test_response_malformed(void **state)
{
	static const char *const cases[] = {
		"HTTP/1.2 200 OK\r\n\r\n",
		"HTTP/2.0 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 OK\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\n\n",
		"HTTP/1.1 200 OK\r\r\n\r\n",
		"HTTP/1.1 200 O\x01K\r\n\r\n",
		"HTTP/1.1 200 OK\r\nFoo: bar\n\r\n",
		"HTTP/1.1 200 OK\r\nFoo: bar\r\n\n",
		"HTTP/1.1 200 OK\r\nFoo : bar\r\n\r\n",
		"HTTP/1.1 200 OK\r\nFo(o: bar\r\n\r\n",
		"HTTP/1.1 200 OK\r\nFo\x80o: bar\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: bar\r\n\r\n",
		"HTTP/1.1 200 OK\r\nFoo\r\n\r\n",
		"HTTP/1.1 200 OK\r\nFoo: b\x7fr\r\n\r\n",
		"HTTP/1.1 200 OK\r\nFoo: b\rr\r\n\r\n",
		"HTTP/1.1 200 OK\r\nFoo: bar\r\n baz\r\n\r\n",
		"HTTP/1.1 200 OK\r\n Foo: bar\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	};
	struct http1_response r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check_response_prefixes(cases[i], strlen(cases[i]), -EPROTO, &r);
	}
	/* A NUL in a value, which strlen() above could not carry. */
	check_response_prefixes(S("HTTP/1.1 200 OK\r\nFoo: b\0r\r\n\r\n"), -EPROTO, &r);
}

static size_t build_headers(char *buf, size_t nr)
{
	size_t len = (size_t)sprintf(buf, "HTTP/1.1 200 OK\r\n");

	for (size_t i = 0; i < nr; i++)
		len += (size_t)sprintf(buf + len, "X-H%zu: %zu\r\n", i, i);
	len += (size_t)sprintf(buf + len, "\r\n");
	return len;
}

static void test_response_limits(void **state)
{
	static char buf[2 * HTTP1_MAX_HEAD_BYTES];
	struct http1_response r;
	size_t len;

	(void)state;
	len = build_headers(buf, HTTP1_MAX_HEADERS);
	assert_int_equal(parse_resp_at_guard(buf, len, &r), (int)len);
	assert_int_equal(r.nr_headers, HTTP1_MAX_HEADERS);
	expect_header(&r.headers[HTTP1_MAX_HEADERS - 1], "X-H63", "63");
	len = build_headers(buf, HTTP1_MAX_HEADERS + 1);
	assert_int_equal(parse_resp_at_guard(buf, len, &r), -EPROTO);

	/* A head of exactly HTTP1_MAX_HEAD_BYTES, then one byte more. */
	static const char pre[] = "HTTP/1.1 200 OK\r\nX-Big: ";
	for (size_t extra = 0; extra < 2; extra++) {
		size_t fill = HTTP1_MAX_HEAD_BYTES - (sizeof(pre) - 1) - 4 + extra;

		len = 0;
		memcpy(buf, pre, sizeof(pre) - 1);
		len = sizeof(pre) - 1;
		memset(buf + len, 'a', fill);
		len += fill;
		memcpy(buf + len, "\r\n\r\n", 4);
		len += 4;
		assert_int_equal(len, HTTP1_MAX_HEAD_BYTES + extra);
		assert_int_equal(parse_resp_at_guard(buf, len, &r), extra ? -EPROTO : (int)len);
		/* Unfinished: asks for more below the limit, fails at it. */
		assert_int_equal(parse_resp_at_guard(buf, HTTP1_MAX_HEAD_BYTES - 1, &r), -EAGAIN);
		assert_int_equal(parse_resp_at_guard(buf, HTTP1_MAX_HEAD_BYTES, &r),
				 extra ? -EPROTO : (int)len);
	}
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, pre, sizeof(pre) - 1);
	assert_int_equal(parse_resp_at_guard(buf, sizeof(buf), &r), -EPROTO);
}

static void test_request(void **state)
{
	static const char req1[] = "POST /v1/chat/completions?x=1 HTTP/1.1\r\n"
				   "Host: 127.0.0.1:8000\r\n"
				   "Content-Type: application/json\r\n"
				   "Content-Length: 123\r\n"
				   "\r\n{\"model\"";
	struct http1_request r;
	size_t head_len = sizeof(req1) - 1 - strlen("{\"model\"");

	(void)state;
	for (size_t i = 0; i < head_len; i++)
		assert_int_equal(parse_req_at_guard(req1, i, &r), -EAGAIN);
	assert_int_equal(parse_req_at_guard(S(req1), &r), (int)head_len);
	assert_int_equal(r.method_len, 4);
	assert_memory_equal(r.method, "POST", 4);
	assert_int_equal(r.path_len, strlen("/v1/chat/completions?x=1"));
	assert_memory_equal(r.path, "/v1/chat/completions?x=1", r.path_len);
	assert_int_equal(r.minor_version, 1);
	assert_int_equal(r.nr_headers, 3);
	expect_header(http1_find_header(r.headers, r.nr_headers, "host"), "Host", "127.0.0.1:8000");
	assert_true(r.content_length == 123);
	assert_false(r.chunked);
	assert_true(r.keep_alive);

	static const char req2[] = "GET /v1/models HTTP/1.0\r\n\r\n";
	assert_int_equal(parse_req_at_guard(S(req2), &r), sizeof(req2) - 1);
	assert_int_equal(r.minor_version, 0);
	assert_true(r.content_length == 0);
	assert_false(r.keep_alive);

	static const char req3[] = "POST /x HTTP/1.0\r\nConnection: keep-alive\r\n"
				   "Transfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n";
	assert_int_equal(parse_req_at_guard(S(req3), &r), sizeof(req3) - 1);
	assert_true(r.chunked);
	assert_true(r.content_length == 0);
	assert_true(r.keep_alive);

	static const char req4[] = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
	assert_int_equal(parse_req_at_guard(S(req4), &r), sizeof(req4) - 1);
	assert_false(r.keep_alive);

	static const char *const bad[] = {
		"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
		"GET  / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1 \r\n\r\n",
		"GET /a b HTTP/1.1\r\n\r\n",
		"GET /\x01 HTTP/1.1\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",
		" GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.2\r\n\r\n",
		"GET / HTTP/1.1\n\n",
		"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_req_at_guard(bad[i], strlen(bad[i]), &r), -EPROTO);
}

/* ---- chunked ---- */

struct decoded {
	char body[8192];
	size_t body_len;
	size_t consumed; /* bytes eaten before done (or before the end) */
	bool done;
	bool error;
};

/* Feeds one piece, placed against a guard page, until it is used up. */
static void feed_piece(struct http1_chunked *c, struct guard *g, const char *s, size_t len,
		       struct decoded *d)
{
	const char *p = guard_place(g, s, len, 0), *end = p + len;

	while (!d->error && !d->done) {
		const char *data;
		size_t data_len;
		ssize_t n = http1_chunked_feed(c, p, (size_t)(end - p), &data, &data_len);

		if (n < 0) {
			assert_int_equal(n, -EPROTO);
			/* And it stays failed. */
			assert_int_equal(
			    http1_chunked_feed(c, p, (size_t)(end - p), &data, &data_len), -EPROTO);
			d->error = true;
			break;
		}
		assert_true((size_t)n <= (size_t)(end - p));
		if (data_len) {
			assert_true(data >= p && data + data_len <= p + n);
			assert_true(d->body_len + data_len <= sizeof(d->body));
			memcpy(d->body + d->body_len, data, data_len);
			d->body_len += data_len;
		}
		p += n;
		d->consumed += (size_t)n;
		d->done = http1_chunked_done(c);
		if (p == end)
			break;
		/* Only done, or data handed back, stops short of the end. */
		assert_true(d->done || data_len > 0);
	}
}

static void decode_split(const char *s, size_t len, size_t split, struct decoded *d)
{
	struct http1_chunked c;

	memset(d, 0, sizeof(*d));
	http1_chunked_init(&c);
	feed_piece(&c, &g1, s, split, d);
	feed_piece(&c, &g2, s + split, len - split, d);
}

static void decode_bytes(const char *s, size_t len, struct decoded *d)
{
	struct http1_chunked c;

	memset(d, 0, sizeof(*d));
	http1_chunked_init(&c);
	for (size_t i = 0; i < len; i++)
		feed_piece(&c, i % 2 ? &g1 : &g2, s + i, 1, d);
}

/* Every split point and byte by byte must agree with the whole. */
static void check_chunked(const char *s, size_t len, const char *body, size_t body_len,
			  size_t consumed, bool error)
{
	struct decoded d;

	for (size_t split = 0; split <= len; split++) {
		decode_split(s, len, split, &d);
		assert_int_equal(d.error, error);
		if (!error) {
			assert_true(d.done);
			assert_int_equal(d.consumed, consumed);
			assert_int_equal(d.body_len, body_len);
			assert_memory_equal(d.body, body, body_len);
		}
	}
	decode_bytes(s, len, &d);
	assert_int_equal(d.error, error);
	if (!error) {
		assert_true(d.done);
		assert_int_equal(d.consumed, consumed);
		assert_int_equal(d.body_len, body_len);
		assert_memory_equal(d.body, body, body_len);
	}
}

#define CHECK_OK(in, out) check_chunked(S(in), S(out), sizeof(in) - 1, false)
#define CHECK_BAD(in)	  check_chunked(S(in), "", 0, 0, true)

static void test_chunked_valid(void **state)
{
	(void)state;
	CHECK_OK("0\r\n\r\n", "");
	CHECK_OK("5\r\nhello\r\n0\r\n\r\n", "hello");
	CHECK_OK("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world");
	CHECK_OK("a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij");
	CHECK_OK("000006\r\nhe\r\nlo\r\n000\r\n\r\n", "he\r\nlo");
	CHECK_OK("5;a=b\r\nhello\r\n0\r\n\r\n", "hello");
	CHECK_OK("5;a\r\nhello\r\n0;last\r\n\r\n", "hello");
	CHECK_OK("5;a=b;c=\"d;e \\\" f\";g\r\nhello\r\n0\r\n\r\n", "hello");
	CHECK_OK("5 ; a = b ;c=\"\"\r\nhello\r\n0\r\n\r\n", "hello");
	CHECK_OK("5;a=\"\xc3\xa9\"\r\nhello\r\n0\r\n\r\n", "hello");
	CHECK_OK("5\r\nhello\r\n0\r\nX-Trailer: 1\r\nChecksum: abc\r\n\r\n", "hello");
	/* vLLM through uvicorn: one SSE event per chunk. */
	CHECK_OK("f\r\ndata: {\"a\":1}\n\n\r\ne\r\ndata: [DONE]\n\n\r\n0\r\n\r\n",
		 "data: {\"a\":1}\n\ndata: [DONE]\n\n");
	/* The decoder stops at the message's end: the next response is not eaten. */
	static const char two[] = "3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
	check_chunked(S(two), S("abc"), sizeof(two) - 1 - 19, false);
}

static void test_chunked_malformed(void **state)
{
	(void)state;
	CHECK_BAD("\r\nhello\r\n0\r\n\r\n");
	CHECK_BAD("g\r\n");
	CHECK_BAD("0x5\r\nhello\r\n0\r\n\r\n");
	CHECK_BAD("-5\r\nhello\r\n0\r\n\r\n");
	CHECK_BAD("5 \r\nhello\r\n0\r\n\r\n");
	CHECK_BAD(" 5\r\nhello\r\n0\r\n\r\n");
	CHECK_BAD("5\nhello\r\n0\r\n\r\n");
	CHECK_BAD("5\r\rhello\r\n0\r\n\r\n");
	CHECK_BAD("5\r\nhelloXX0\r\n\r\n");
	CHECK_BAD("5\r\nhello\n0\r\n\r\n");
	CHECK_BAD("5\r\nhello\r0\r\n\r\n");
	CHECK_BAD("5\r\nhello\r\r0\r\n\r\n");
	CHECK_BAD("5\r\nhello\rX0\r\n\r\n");
	CHECK_BAD("5\r\nhello0\r\n\r\n");
	CHECK_BAD("5;\r\nhello\r\n0\r\n\r\n");
	CHECK_BAD("5;a=\r\nhello\r\n0\r\n\r\n");
	CHECK_BAD("5;a==b\r\nhello\r\n0\r\n\r\n");
	CHECK_BAD("5;a b\r\nhello\r\n0\r\n\r\n");
	CHECK_BAD("5;a=\"b\r\nhello\r\n0\r\n\r\n");
	CHECK_BAD("5;a=\"b\"c\r\nhello\r\n0\r\n\r\n");
	CHECK_BAD("5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n");
	CHECK_BAD("5;(a)\r\nhello\r\n0\r\n\r\n");
	CHECK_BAD("5\r\nhello\r\n0\r\n Folded: x\r\n\r\n");
	CHECK_BAD("5\r\nhello\r\n0\r\nX: 1\n\r\n");
	CHECK_BAD("5\r\nhello\r\n0\r\nX: \x01\r\n\r\n");
	CHECK_BAD("5\r\nhello\r\n0\r\n\rX");
	/* Sizes stop below 2^60; 2^64 and beyond would wrap. */
	CHECK_BAD("1000000000000000\r\n");
	CHECK_BAD("ffffffffffffffff\r\n");
	CHECK_BAD("10000000000000005\r\nhello\r\n0\r\n\r\n");
}

static void test_chunked_sizes(void **state)
{
	struct http1_chunked c;
	const char *data;
	size_t data_len;

	(void)state;
	/* The largest size accepted, and leading zeros that do not count. */
	static const char big[] = "00000000fffffffffffffff\r\nab";
	http1_chunked_init(&c);
	assert_int_equal(
	    http1_chunked_feed(&c, guard_place(&g1, S(big), 0), sizeof(big) - 1, &data, &data_len),
	    sizeof(big) - 1);
	assert_int_equal(data_len, 2);
	assert_true(c.remaining == (1ull << 60) - 3);

	/* A size line longer than the limit. */
	static char line[HTTP1_MAX_HEAD_BYTES + 16];
	memset(line, '0', sizeof(line));
	http1_chunked_init(&c);
	assert_int_equal(http1_chunked_feed(&c, guard_place(&g1, line, sizeof(line), 0),
					    sizeof(line), &data, &data_len),
			 -EPROTO);

	/* Done consumes nothing more, and empty feeds consume nothing. */
	http1_chunked_init(&c);
	assert_int_equal(http1_chunked_feed(&c, "", 0, &data, &data_len), 0);
	assert_int_equal(http1_chunked_feed(&c, S("0\r\n\r\nxyz"), &data, &data_len), 5);
	assert_true(http1_chunked_done(&c));
	assert_int_equal(http1_chunked_feed(&c, S("xyz"), &data, &data_len), 0);
	assert_int_equal(data_len, 0);
}

/* Random chunkings of a random body, decoded through random splits. */
static void test_chunked_random(void **state)
{
	static char in[32768], body[8192];
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	struct decoded d;

	(void)state;
	for (int iter = 0; iter < 200; iter++) {
		size_t len = 0, body_len = 0;

		while (body_len < 4000) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			size_t n = 1 + (seed >> 33) % 300;

			len += (size_t)sprintf(in + len, (seed >> 20) & 1 ? "%zx" : "%zX", n);
			if ((seed >> 21) & 1)
				len += (size_t)sprintf(in + len, ";n=%u", (unsigned)(seed >> 40));
			memcpy(in + len, "\r\n", 2);
			len += 2;
			for (size_t i = 0; i < n; i++)
				body[body_len + i] = (char)(seed >> (i % 56));
			memcpy(in + len, body + body_len, n);
			len += n;
			body_len += n;
			memcpy(in + len, "\r\n", 2);
			len += 2;
		}
		len += (size_t)sprintf(in + len, "0\r\n\r\n");
		decode_split(in, len, (size_t)(seed >> 3) % len, &d);
		assert_false(d.error);
		assert_true(d.done);
		assert_int_equal(d.consumed, len);
		assert_int_equal(d.body_len, body_len);
		assert_memory_equal(d.body, body, body_len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_response_basic),	 cmocka_unit_test(test_find_header),
		cmocka_unit_test(test_response_framing), cmocka_unit_test(test_response_malformed),
		cmocka_unit_test(test_response_limits),	 cmocka_unit_test(test_request),
		cmocka_unit_test(test_chunked_valid),	 cmocka_unit_test(test_chunked_malformed),
		cmocka_unit_test(test_chunked_sizes),	 cmocka_unit_test(test_chunked_random),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
