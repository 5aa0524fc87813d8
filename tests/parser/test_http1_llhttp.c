/* SPDX-License-Identifier: MIT */
/*
 * http1.c against llhttp (Node's parser) as an oracle: realistic responses
 * (uvicorn/vLLM SSE streams, JSON bodies, proxies, HTTP/1.0, 1xx/204/304)
 * and generated ones must give the same status, reason, headers, body bytes,
 * keep-alive and end-of-message point; malformed ones must fail in both.
 * Where we differ from llhttp on purpose, a table says so and checks both.
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
#include <llhttp.h>

#include "guard.h"
#include "http1.h"

#define MAX_FIELDS (HTTP1_MAX_HEADERS + 16)
#define MAX_BODY   (256 * 1024)

struct field {
	char name[256];
	size_t name_len;
	char value[4096];
	size_t value_len;
};

/* What one parser made of a response; the same shape for both. */
struct outcome {
	bool error;
	int status;
	int minor_version;
	bool keep_alive;
	char reason[256];
	size_t reason_len;
	struct field headers[MAX_FIELDS];
	size_t nr_headers;
	size_t body_len;
	bool complete;	     /* the message ended ... */
	bool complete_eof;   /* ... at end of input (body runs to close) */
	size_t complete_at;  /* ... or here, in bytes from the start */
	bool head_done;	     /* llhttp: headers complete, trailers may follow */
	int last_cb;	     /* llhttp: 1 after a header field, 2 after a value */
	char body[MAX_BODY]; /* last: reset() clears what comes before it */
};

static struct guard g;
static struct outcome ours, theirs, theirs_whole;

static int setup(void **state)
{
	(void)state;
	return guard_init(&g, 1 << 20) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	guard_close(&g);
	return 0;
}

static void append(char *dst, size_t cap, size_t *len, const char *src, size_t n)
{
	assert_true(*len + n <= cap);
	if (n)
		memcpy(dst + *len, src, n);
	*len += n;
}

/* ---- llhttp ---- */

static int on_status(llhttp_t *p, const char *at, size_t n)
{
	struct outcome *o = p->data;

	append(o->reason, sizeof(o->reason), &o->reason_len, at, n);
	return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
	struct outcome *o = p->data;

	if (o->head_done) /* trailers: not part of the head */
		return 0;
	if (o->last_cb != 1) {
		assert_true(o->nr_headers < MAX_FIELDS);
		memset(&o->headers[o->nr_headers++], 0, sizeof(o->headers[0]));
	}
	o->last_cb = 1;
	struct field *f = &o->headers[o->nr_headers - 1];
	append(f->name, sizeof(f->name), &f->name_len, at, n);
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
	struct outcome *o = p->data;

	if (o->head_done)
		return 0;
	o->last_cb = 2;
	struct field *f = &o->headers[o->nr_headers - 1];
	append(f->value, sizeof(f->value), &f->value_len, at, n);
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	struct outcome *o = p->data;

	o->head_done = true;
	o->status = p->status_code;
	o->minor_version = p->http_minor;
	o->keep_alive = llhttp_should_keep_alive(p);
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
	struct outcome *o = p->data;

	append(o->body, sizeof(o->body), &o->body_len, at, n);
	return 0;
}

/* Pauses, so that only the first message counts and its end is known. */
static int on_message_complete(llhttp_t *p)
{
	struct outcome *o = p->data;

	o->complete = true;
	return HPE_PAUSED;
}

static void llhttp_settings(llhttp_settings_t *s)
{
	llhttp_settings_init(s);
	s->on_status = on_status;
	s->on_header_field = on_header_field;
	s->on_header_value = on_header_value;
	s->on_headers_complete = on_headers_complete;
	s->on_body = on_body;
	s->on_message_complete = on_message_complete;
}

/* llhttp leaves optional whitespace after a value; RFC 9110 5.5 does not. */
static void trim_values(struct outcome *o)
{
	for (size_t i = 0; i < o->nr_headers; i++) {
		struct field *f = &o->headers[i];

		while (f->value_len &&
		       (f->value[f->value_len - 1] == ' ' || f->value[f->value_len - 1] == '\t'))
			f->value_len--;
	}
}

/* Feeds s whole, or byte by byte (then the end is the byte that ended it). */
static void run_llhttp(const char *s, size_t len, bool bytewise, struct outcome *o)
{
	llhttp_settings_t settings;
	llhttp_t p;
	llhttp_errno_t err = HPE_OK;

	memset(o, 0, offsetof(struct outcome, body));
	llhttp_settings(&settings);
	llhttp_init(&p, HTTP_RESPONSE, &settings);
	p.data = o;
	if (bytewise) {
		for (size_t i = 0; i < len && err == HPE_OK; i++)
			err = llhttp_execute(&p, s + i, 1);
		if (err == HPE_PAUSED)
			o->complete_at = (size_t)(llhttp_get_error_pos(&p) - s);
	} else {
		err = llhttp_execute(&p, s, len);
		if (err == HPE_PAUSED)
			o->complete_at = (size_t)(llhttp_get_error_pos(&p) - s);
	}
	if (err == HPE_OK) {
		err = llhttp_finish(&p);
		o->complete_eof = o->complete;
		if (err == HPE_PAUSED)
			err = HPE_OK;
	}
	o->error = err != HPE_OK && err != HPE_PAUSED;
	trim_values(o);
}

/* ---- ours ---- */

/* Head, then body by its framing, fed in pieces cut by seed. */
static void run_ours(const char *s, size_t len, uint64_t seed, struct outcome *o)
{
	struct http1_response r;
	char *buf = guard_place(&g, s, len, 0);
	int head;

	memset(o, 0, offsetof(struct outcome, body));
	head = http1_parse_response(buf, len, &r);
	if (head < 0) {
		o->error = head == -EPROTO;
		return;
	}
	o->status = r.status;
	o->minor_version = r.minor_version;
	o->keep_alive = r.keep_alive;
	append(o->reason, sizeof(o->reason), &o->reason_len, r.reason, r.reason_len);
	for (size_t i = 0; i < r.nr_headers; i++) {
		struct field *f = &o->headers[o->nr_headers++];

		f->name_len = f->value_len = 0;
		append(f->name, sizeof(f->name), &f->name_len, r.headers[i].name,
		       r.headers[i].name_len);
		append(f->value, sizeof(f->value), &f->value_len, r.headers[i].value,
		       r.headers[i].value_len);
	}

	const char *p = buf + head, *end = buf + len;
	switch (r.framing) {
	case HTTP1_FRAMING_NONE:
		o->complete = true;
		o->complete_at = (size_t)head;
		break;
	case HTTP1_FRAMING_LENGTH:
		if ((uint64_t)(end - p) >= r.content_length) {
			append(o->body, sizeof(o->body), &o->body_len, p, r.content_length);
			o->complete = true;
			o->complete_at = (size_t)head + r.content_length;
		} else {
			append(o->body, sizeof(o->body), &o->body_len, p, (size_t)(end - p));
		}
		break;
	case HTTP1_FRAMING_CLOSE:
		append(o->body, sizeof(o->body), &o->body_len, p, (size_t)(end - p));
		o->complete = o->complete_eof = true;
		break;
	case HTTP1_FRAMING_CHUNKED: {
		struct http1_chunked c;

		http1_chunked_init(&c);
		while (p != end && !http1_chunked_done(&c)) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			size_t piece = 1 + (seed >> 33) % 512;
			const char *data;
			size_t data_len;
			ssize_t n;

			if (piece > (size_t)(end - p))
				piece = (size_t)(end - p);
			n = http1_chunked_feed(&c, p, piece, &data, &data_len);
			if (n < 0) {
				o->error = true;
				return;
			}
			append(o->body, sizeof(o->body), &o->body_len, data, data_len);
			p += n;
		}
		if (http1_chunked_done(&c)) {
			o->complete = true;
			o->complete_at = (size_t)(p - buf);
		}
		break;
	}
	}
}

/* ---- comparison ---- */

static void expect_same(const struct outcome *a, const struct outcome *b)
{
	assert_int_equal(a->error, b->error);
	if (a->error)
		return;
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->minor_version, b->minor_version);
	assert_int_equal(a->keep_alive, b->keep_alive);
	assert_int_equal(a->reason_len, b->reason_len);
	assert_memory_equal(a->reason, b->reason, a->reason_len);
	assert_int_equal(a->nr_headers, b->nr_headers);
	for (size_t i = 0; i < a->nr_headers; i++) {
		assert_int_equal(a->headers[i].name_len, b->headers[i].name_len);
		assert_memory_equal(a->headers[i].name, b->headers[i].name, a->headers[i].name_len);
		assert_int_equal(a->headers[i].value_len, b->headers[i].value_len);
		assert_memory_equal(a->headers[i].value, b->headers[i].value,
				    a->headers[i].value_len);
	}
	assert_int_equal(a->body_len, b->body_len);
	assert_memory_equal(a->body, b->body, a->body_len);
	assert_int_equal(a->complete, b->complete);
	assert_int_equal(a->complete_eof, b->complete_eof);
	if (a->complete && !a->complete_eof)
		assert_int_equal(a->complete_at, b->complete_at);
}

/* Both parsers, llhttp fed whole and byte by byte, ours in random pieces. */
static void differential(const char *s, size_t len, uint64_t seed)
{
	run_llhttp(s, len, false, &theirs_whole);
	run_llhttp(s, len, true, &theirs);
	expect_same(&theirs, &theirs_whole);
	run_ours(s, len, seed, &ours);
	expect_same(&ours, &theirs);
}

static void differential_ok(const char *s, size_t len, uint64_t seed)
{
	differential(s, len, seed);
	assert_false(ours.error);
	assert_true(ours.complete);
}

/* ---- realistic responses ---- */

#define GEN_CAP 65536 /* bytes in each buffer that putf() writes */

/* Appends formatted text to s, which holds GEN_CAP bytes. */
__attribute__((format(printf, 3, 4))) static void putf(char *s, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(s + *len, GEN_CAP - *len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < GEN_CAP - *len);
	*len += (size_t)n;
}

static void sse_chunk(char *s, size_t *len, const char *json)
{
	char ev[1024];
	int n = snprintf(ev, sizeof(ev), "data: %s\n\n", json);

	putf(s, len, "%x\r\n%s\r\n", n, ev);
}

static void test_vllm_stream(void **state)
{
	static char s[GEN_CAP];
	size_t len;

	(void)state;
	len = 0;
	putf(s, &len,
	     "HTTP/1.1 200 OK\r\n"
	     "date: Tue, 14 May 2024 10:00:00 GMT\r\n"
	     "server: uvicorn\r\n"
	     "content-type: text/event-stream; charset=utf-8\r\n"
	     "transfer-encoding: chunked\r\n"
	     "\r\n");
	sse_chunk(s, &len,
		  "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
		  "\"created\":1718000000,\"model\":\"m\",\"choices\":[{\"index\":0,"
		  "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
		  "\"logprobs\":null,\"finish_reason\":null}]}");
	for (int i = 0; i < 200; i++) {
		char json[512];

		snprintf(json, sizeof(json),
			 "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
			 "\"created\":1718000000,\"model\":\"m\",\"choices\":[{\"index\":0,"
			 "\"delta\":{\"content\":\" tok%d\\n\"},\"logprobs\":null,"
			 "\"finish_reason\":null}]}",
			 i);
		sse_chunk(s, &len, json);
	}
	sse_chunk(s, &len,
		  "{\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{"
		  "\"prompt_tokens\":5,\"completion_tokens\":200}}");
	sse_chunk(s, &len, "[DONE]");
	putf(s, &len, "0\r\n\r\n");
	differential_ok(s, len, 1);
	assert_true(ours.keep_alive);
	assert_true(ours.body_len > 200 * 100);

	/* The same stream with the next response already behind it. */
	putf(s, &len, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
	differential_ok(s, len, 2);
}

static const char *const realistic[] = {
	/* uvicorn, a whole JSON response */
	"HTTP/1.1 200 OK\r\n"
	"date: Tue, 14 May 2024 10:00:00 GMT\r\n"
	"server: uvicorn\r\n"
	"content-length: 85\r\n"
	"content-type: application/json\r\n"
	"\r\n"
	"{\"object\":\"list\",\"data\":[{\"id\":\"meta-llama/Llama-3.1-8B-Instruct\","
	"\"object\":\"model\"}]}  ",
	/* vLLM's 400 */
	"HTTP/1.1 400 Bad Request\r\n"
	"date: Tue, 14 May 2024 10:00:00 GMT\r\n"
	"server: uvicorn\r\n"
	"content-length: 92\r\n"
	"content-type: application/json\r\n"
	"\r\n"
	"{\"object\":\"error\",\"message\":\"max_tokens is too large\",\"type\":"
	"\"BadRequestError\",\"param\":null}",
	"HTTP/1.1 404 Not Found\r\ncontent-length: 22\r\ncontent-type: application/json\r\n\r\n"
	"{\"detail\":\"Not Found\"}",
	/* hyper (TGI), SSE without a space after "data:" */
	"HTTP/1.1 200 OK\r\n"
	"content-type: text/event-stream\r\n"
	"cache-control: no-cache\r\n"
	"x-compute-type: gpu+optimized\r\n"
	"transfer-encoding: chunked\r\n"
	"date: Tue, 14 May 2024 10:00:00 GMT\r\n"
	"\r\n"
	"12\r\ndata:{\"token\":1}\n\n\r\n"
	"d\r\ndata:[DONE]\n\n\r\n0\r\n\r\n",
	/* nginx in front of a server */
	"HTTP/1.1 200 OK\r\n"
	"Server: nginx/1.24.0\r\n"
	"Date: Tue, 14 May 2024 10:00:00 GMT\r\n"
	"Content-Type: text/event-stream\r\n"
	"Transfer-Encoding: chunked\r\n"
	"Connection: keep-alive\r\n"
	"X-Accel-Buffering: no\r\n"
	"\r\n"
	"6\r\ndata: \r\n4\r\nx\n\n\n\r\n0\r\n\r\n",
	/* chunk extensions (llhttp 8 takes one per chunk) and trailers */
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	"5;foo=bar\r\nhello\r\n6;name=\"a b;c\"\r\n world\r\n1;x\r\n!\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Checksum\r\n\r\n"
	"A\r\n0123456789\r\n0\r\nChecksum: abc\r\nX-Other:  1 \r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00000a\r\n0123456789\r\n000\r\n\r\n",
	/* names and values as some servers write them */
	"HTTP/1.1 200 OK\r\nCoNtEnT-LeNgTh: 3\r\nX-Empty:\r\nX-Spaces:   a  b\t \r\n"
	"X-Utf8: caf\xc3\xa9\r\nX-Tab:\tv\r\n\r\nabc",
	"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 00\r\n\r\n",
	"HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 503\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n",
	/* keep-alive and close */
	"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nab",
	"HTTP/1.1 200 OK\r\nConnection: Close\r\nTransfer-Encoding: "
	"chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: x\n\ndata: y\n\n",
	"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nab",
	"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nab",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nnot chunked",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nto close",
	/* no body */
	"HTTP/1.1 204 No Content\r\ndate: Tue, 14 May 2024 10:00:00 GMT\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
};

static void test_realistic(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(realistic) / sizeof(realistic[0]); i++)
		differential_ok(realistic[i], strlen(realistic[i]), i);
}

/* Many headers, up to the limit, and a long value. */
static void test_big_heads(void **state)
{
	static char s[GEN_CAP];
	size_t len = 0;

	putf(s, &len, "HTTP/1.1 200 OK\r\n");

	(void)state;
	for (int i = 0; i < HTTP1_MAX_HEADERS - 2; i++)
		putf(s, &len, "X-Header-%d: value %d\r\n", i, i);
	putf(s, &len, "X-Long: ");
	memset(s + len, 'v', 3000);
	len += 3000;
	putf(s, &len, "\r\nContent-Length: 5\r\n\r\nhello");
	differential_ok(s, len, 7);
	assert_int_equal(ours.nr_headers, HTTP1_MAX_HEADERS);
}

/* ---- generated responses ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33) % n;
}

static void random_case(char *s)
{
	for (; *s; s++)
		if (rnd(2))
			*s = (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
}

static size_t gen_response(char *s, char *body, size_t *body_len)
{
	static const char *const names[] = {
		"date",		"server", "content-type",      "cache-control",
		"x-request-id", "vary",	  "x-accel-buffering", "set-cookie",
		"via"
	};
	static const char *const ows[] = { "", " ", "  ", "\t", " \t" };
	static const int statuses[] = { 200, 200, 200, 201, 400, 404, 429, 500, 503, 204, 304 };
	int status = statuses[rnd(sizeof(statuses) / sizeof(statuses[0]))];
	bool no_body = status == 204 || status == 304;
	int minor = rnd(5) ? 1 : 0;
	int framing = no_body ? 0 : (int)rnd(3); /* 0: length, 1: chunked, 2: close */
	size_t len = 0;

	putf(s, &len, "HTTP/1.%d %d %s\r\n", minor, status, rnd(4) ? "Reason Phrase" : "");

	for (uint32_t i = 0, n = rnd(20); i < n; i++) {
		char name[64], value[128];
		size_t vlen = rnd(40);

		strcpy(name, names[rnd(sizeof(names) / sizeof(names[0]))]);
		random_case(name);
		for (size_t j = 0; j < vlen; j++) {
			static const char chars[] = "abcXYZ019-_.,;=/ \t\"()\x80\xff";

			value[j] = chars[rnd(sizeof(chars) - 1)];
		}
		/* No leading whitespace in the value itself: OWS goes around it. */
		while (vlen && (value[0] == ' ' || value[0] == '\t'))
			memmove(value, value + 1, --vlen);
		value[vlen] = '\0';
		putf(s, &len, "%s:%s%s%s\r\n", name, ows[rnd(5)], value, ows[rnd(5)]);
	}
	if (rnd(3) == 0)
		putf(s, &len, "Connection: %s\r\n", rnd(2) ? "close" : "keep-alive");

	*body_len = no_body ? 0 : rnd(3000);
	for (size_t i = 0; i < *body_len; i++)
		body[i] = (char)rnd(256);

	if (framing == 0 && !no_body)
		putf(s, &len, "Content-Length: %zu\r\n", *body_len);
	if (framing == 1)
		putf(s, &len, "%s: chunked\r\n",
		     rnd(2) ? "Transfer-Encoding" : "transfer-encoding");
	putf(s, &len, "\r\n");
	if (framing != 1) {
		memcpy(s + len, body, *body_len);
		return len + *body_len;
	}
	for (size_t off = 0; off < *body_len;) {
		size_t n = 1 + rnd(700);

		if (n > *body_len - off)
			n = *body_len - off;
		putf(s, &len, rnd(2) ? "%zx" : "%zX", n);
		if (rnd(4) == 0)
			putf(s, &len, rnd(2) ? ";ext=%u" : ";ext=\"%u v\"", rnd(99));
		putf(s, &len, "\r\n");
		memcpy(s + len, body + off, n);
		len += n;
		putf(s, &len, "\r\n");
		off += n;
	}
	putf(s, &len, "0\r\n");
	if (rnd(3) == 0)
		putf(s, &len, "X-Trailer: %u\r\n", rnd(1000));
	putf(s, &len, "\r\n");
	return len;
}

static void test_generated(void **state)
{
	static char s[GEN_CAP], body[4096];
	size_t body_len;

	(void)state;
	rng_state = 0x5eed;
	for (int i = 0; i < 2000; i++) {
		size_t len = gen_response(s, body, &body_len);

		differential_ok(s, len, (uint64_t)i);
		assert_int_equal(ours.body_len, body_len);
		assert_memory_equal(ours.body, body, body_len);
	}
}

/* ---- malformed ---- */

static const char *const both_reject[] = {
	"HTTP/1.1 2000 OK\r\n\r\n",
	"HTTP/1.2 200 OK\r\n\r\n",
	"HTTP/1.x 200 OK\r\n\r\n",
	"HTTP/1.1 2x0 OK\r\n\r\n",
	"HTTP/1.1 200 OK\r\nFoo: bar\n\r\n",
	"HTTP/1.1 200 OK\r\nFo\"o: bar\r\n\r\n",
	"HTTP/1.1 200 OK\r\nFo\x01o: bar\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\ng\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a==b\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"b\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
};

/* Where we differ from llhttp 8.1 on purpose; the first column is llhttp's. */
struct divergence {
	bool llhttp_accepts;
	bool we_accept;
	const char *why;
	const char *response;
};

static const struct divergence divergences[] = {
	{ true, false, "lines end in CRLF (llhttp takes a bare LF in places)",
	  "HTTP/1.1 200 OK\n\n" },
	{ true, false, "RFC 9112 5.1: no whitespace between field name and colon",
	  "HTTP/1.1 200 OK\r\nFoo : bar\r\nContent-Length: 0\r\n\r\n" },
	{ true, false, "obs-fold is deprecated; our views cannot fold",
	  "HTTP/1.1 200 OK\r\nFoo: bar\r\n baz\r\nContent-Length: 0\r\n\r\n" },
	{ true, false, "a status code is three digits", "HTTP/1.1 20 OK\r\n\r\n" },
	{ true, false, "status codes start at 100", "HTTP/1.1 099 OK\r\n\r\n" },
	{ true, false, "HTTP/1.x only", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n" },
	{ true, false, "one space after the version",
	  "HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n" },
	{ true, false, "chunk data must be followed by CRLF",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n" },
	{ true, false, "chunk data must be followed by CRLF",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\r0\r\n\r\n" },
	{ true, false, "an extension value is a token or a quoted string, not empty",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\r\nhello\r\n0\r\n\r\n" },
	{ false, true, "RFC 9112 7.1.1: several extensions per chunk",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c=d\r\nhello\r\n0\r\n\r\n" },
	{ false, true, "RFC 9112 7.1.1: BWS around ';' and '='",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 ; a = b\r\nhello\r\n0\r\n\r\n" },
	{ false, true, "RFC 9110 5.6.4: quoted-pair in a quoted string",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	  "chunked\r\n\r\n5;a=\"\\\"\"\r\nhello\r\n0\r\n\r\n" },
	{ false, true, "RFC 9110 8.6: identical Content-Length fields may stand",
	  "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx" },
	{ false, true, "RFC 9112 6.3: Transfer-Encoding overrides Content-Length",
	  "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" },
	{ false, true, "RFC 9112 6.3: a final coding other than chunked reads to close",
	  "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: gzip\r\n\r\nabc" },
};

static void test_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(both_reject) / sizeof(both_reject[0]); i++) {
		size_t len = strlen(both_reject[i]);

		run_llhttp(both_reject[i], len, false, &theirs);
		run_ours(both_reject[i], len, i, &ours);
		if (!theirs.error || !ours.error)
			fail_msg("not rejected by %s: %s", theirs.error ? "us" : "llhttp",
				 both_reject[i]);
	}
}

/* 204 with Content-Length: llhttp 8.1 waits for a body; RFC 9110 15.3.5 says none. */
static void test_divergences(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(divergences) / sizeof(divergences[0]); i++) {
		const struct divergence *d = &divergences[i];
		size_t len = strlen(d->response);

		run_llhttp(d->response, len, false, &theirs);
		run_ours(d->response, len, i, &ours);
		if (theirs.error == d->llhttp_accepts || ours.error == d->we_accept)
			fail_msg("divergence changed (%s): %s", d->why, d->response);
	}
	static const char no_content[] = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n";
	run_llhttp(no_content, sizeof(no_content) - 1, false, &theirs);
	run_ours(no_content, sizeof(no_content) - 1, 0, &ours);
	assert_false(theirs.complete);
	assert_true(ours.complete);
	assert_int_equal(ours.complete_at, sizeof(no_content) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vllm_stream), cmocka_unit_test(test_realistic),
		cmocka_unit_test(test_big_heads),   cmocka_unit_test(test_generated),
		cmocka_unit_test(test_malformed),   cmocka_unit_test(test_divergences),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
