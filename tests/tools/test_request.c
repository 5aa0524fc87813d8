/* SPDX-License-Identifier: MIT */
/*
 * Request bytes: JSON escaping (round trip), exact bytes of small requests,
 * Content-Length against the body, chat vs completions, the synthetic prompt.
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

#include "request.h"

static void opts_for(struct brood_opts *o, const char *url)
{
	char err[256];

	memset(o, 0, sizeof(*o));
	o->stream = true;
	o->ignore_eos = true;
	o->max_tokens = 4;
	o->prompt_tokens = 16;
	if (url_parse(url, &o->urls[0], err, sizeof(err)))
		fail_msg("%s", err);
	o->nr_urls = 1;
}

/* Decodes a JSON string body (what request_json_escape makes); returns the
 * length, or -1 on a malformed escape or a raw control byte or quote. */
static long unescape(const char *s, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned v;

		if (c < 0x20 || c == '"')
			return -1;
		if (c != '\\') {
			out[o++] = (char)c;
			continue;
		}
		if (++i == len)
			return -1;
		switch (s[i]) {
		case '"':
		case '\\':
		case '/':
			out[o++] = s[i];
			break;
		case 'n':
			out[o++] = '\n';
			break;
		case 'r':
			out[o++] = '\r';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case 'b':
			out[o++] = '\b';
			break;
		case 'f':
			out[o++] = '\f';
			break;
		case 'u':
			if (i + 4 >= len || sscanf(s + i + 1, "%4x", &v) != 1 || v > 0xff)
				return -1;
			out[o++] = (char)v;
			i += 4;
			break;
		default:
			return -1;
		}
	}
	return (long)o;
}

static void test_escape_table(void **state)
{
	static const struct {
		const char *in;
		size_t in_len;
		const char *out;
	} cases[] = {
		{ "plain", 5, "plain" },
		{ "a\"b\\c", 5, "a\\\"b\\\\c" },
		{ "\n\r\t\b\f", 5, "\\n\\r\\t\\b\\f" },
		{ "\x01\x1f", 2, "\\u0001\\u001f" },
		{ "nul\0x", 5, "nul\\u0000x" },
		{ "\x7f/", 2, "\x7f/" },
		{ "caf\xc3\xa9 \xf0\x9f\x98\x80", 10, "caf\xc3\xa9 \xf0\x9f\x98\x80" },
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = request_json_escape(buf, sizeof(buf), cases[i].in, cases[i].in_len);

		assert_int_equal(n, strlen(cases[i].out));
		assert_memory_equal(buf, cases[i].out, n);
		assert_int_equal(request_json_escape(NULL, 0, cases[i].in, cases[i].in_len), n);
	}
	/* A short buffer gets a prefix and the full length back. */
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(request_json_escape(buf, 3, "a\"b", 3), 4);
	assert_memory_equal(buf, "a\\\"Z", 4);
}

static void test_escape_round_trip(void **state)
{
	enum { LEN = 4096 };
	char *in = malloc(LEN), *esc = malloc(6 * LEN), *back = malloc(LEN);
	uint64_t x = 12345;

	(void)state;
	for (int round = 0; round < 64; round++) {
		size_t n;
		long m;

		for (size_t i = 0; i < LEN; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			in[i] = (char)(round == 0 ? i & 0xff : x >> 56);
		}
		n = request_json_escape(esc, 6 * LEN, in, LEN);
		assert_true(n <= 6 * LEN);
		m = unescape(esc, n, back);
		assert_int_equal(m, LEN);
		assert_memory_equal(back, in, LEN);
	}
	free(in);
	free(esc);
	free(back);
}

static const char *header_value(const char *req, const char *name, char *val, size_t len)
{
	const char *end = strstr(req, "\r\n\r\n");
	const char *p = strstr(req, name);

	if (!p || p > end)
		return NULL;
	p += strlen(name);
	snprintf(val, len, "%.*s", (int)strcspn(p, "\r"), p);
	return val;
}

/* Content-Length equals the bytes after the head, and the head ends once. */
static void check_framing(const char *req, size_t len)
{
	const char *body = strstr(req, "\r\n\r\n");
	char val[32];

	assert_non_null(body);
	body += 4;
	assert_non_null(header_value(req, "\r\nContent-Length: ", val, sizeof(val)));
	assert_int_equal(strtoull(val, NULL, 10), len - (size_t)(body - req));
	assert_int_equal(strlen(req), len);
}

static void test_exact_completions(void **state)
{
	static const char want[] =
	    "POST /v1/completions HTTP/1.1\r\n"
	    "Host: 127.0.0.1:8000\r\n"
	    "User-Agent: brood/" BROOD_VERSION "\r\n"
	    "Authorization: Bearer sk-test\r\n"
	    "Content-Type: application/json\r\n"
	    "Accept: text/event-stream\r\n"
	    "Content-Length: 124\r\n"
	    "Connection: keep-alive\r\n"
	    "\r\n"
	    "{\"model\":\"m\",\"prompt\":\"Say \\\"hi\\\"\\n\",\"max_tokens\":4,"
	    "\"stream\":true,\"stream_options\":{\"include_usage\":true},"
	    "\"ignore_eos\":true}";
	struct brood_opts o;
	char *req, text[] = "Say \"hi\"\n";
	size_t len;

	(void)state;
	opts_for(&o, "http://127.0.0.1:8000");
	strcpy(o.model, "m");
	o.api_key = "sk-test";
	o.prompt_text = text;
	o.prompt_text_len = strlen(text);
	assert_int_equal(request_build(&o, &o.urls[0], &req, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal(req, want);
	check_framing(req, len);
	free(req);
}

static void test_exact_chat_no_stream(void **state)
{
	static const char want[] = "POST /inference/v1/chat/completions HTTP/1.1\r\n"
				   "Host: [::1]\r\n"
				   "User-Agent: brood/" BROOD_VERSION "\r\n"
				   "Content-Type: application/json\r\n"
				   "Accept: application/json\r\n"
				   "Content-Length: 93\r\n"
				   "Connection: keep-alive\r\n"
				   "\r\n"
				   "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_"
				   "tokens\":4,\"stream\":false,"
				   "\"ignore_eos\":true}";
	struct brood_opts o;
	char *req, text[] = "Hi";
	size_t len;

	(void)state;
	opts_for(&o, "http://[::1]:80/inference/");
	o.chat = true;
	o.stream = false;
	o.prompt_text = text;
	o.prompt_text_len = 2;
	assert_int_equal(request_build(&o, &o.urls[0], &req, &len), 0);
	assert_string_equal(req, want);
	check_framing(req, len);
	free(req);
}

/* --no-ignore-eos: nothing a strict API would reject. */
static void test_no_ignore_eos(void **state)
{
	struct brood_opts o;
	char *req;
	size_t len;

	(void)state;
	opts_for(&o, "http://127.0.0.1:8000");
	o.ignore_eos = false;
	assert_int_equal(request_build(&o, &o.urls[0], &req, &len), 0);
	assert_null(strstr(req, "ignore_eos"));
	assert_non_null(strstr(req, "\"include_usage\":true}}"));
	check_framing(req, len);
	free(req);
}

static void test_host_header(void **state)
{
	static const struct {
		const char *url, *host;
	} cases[] = {
		{ "http://h", "h" },
		{ "http://h:80", "h" },
		{ "http://h:443", "h:443" },
		{ "https://h", "h" },
		{ "https://h:80", "h:80" },
		{ "http://[::1]:9", "[::1]:9" },
		{ "https://[fe80::2]", "[fe80::2]" },
	};
	struct brood_opts o;
	char *req, val[64];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		opts_for(&o, cases[i].url);
		assert_int_equal(request_build(&o, &o.urls[0], &req, &len), 0);
		assert_non_null(header_value(req, "\r\nHost: ", val, sizeof(val)));
		assert_string_equal(val, cases[i].host);
		free(req);
	}
}

static void test_chat_vs_completions(void **state)
{
	struct brood_opts o;
	char *req, *body;
	size_t len, body_len;

	(void)state;
	opts_for(&o, "http://h:8000/base");
	strcpy(o.model, "accounts/x/models/y");
	for (int chat = 0; chat < 2; chat++) {
		o.chat = chat;
		assert_int_equal(request_build(&o, &o.urls[0], &req, &len), 0);
		assert_int_equal(request_build_body(&o, &body, &body_len), 0);
		check_framing(req, len);
		assert_memory_equal(req + len - body_len, body, body_len);
		assert_int_equal(strncmp(req,
					 chat ? "POST /base/v1/chat/completions HTTP/1.1\r\n"
					      : "POST /base/v1/completions HTTP/1.1\r\n",
					 chat ? 41 : 36),
				 0);
		assert_int_equal(!!strstr(body, "\"messages\":[{\"role\":\"user\",\"content\":\""),
				 chat);
		assert_int_equal(!!strstr(body, "\"prompt\":\""), !chat);
		assert_non_null(strstr(body, "{\"model\":\"accounts/x/models/y\","));
		assert_non_null(strstr(body, "\"stream_options\":{\"include_usage\":true}"));
		assert_null(strstr(body, "min_tokens"));
		assert_null(strstr(req, "Authorization"));
		free(req);
		free(body);
	}
}

static void test_content_length_synthetic(void **state)
{
	static const uint32_t sizes[] = { 1, 2, 7, 100, 512, 4000, 100000 };
	struct brood_opts o;
	char *req;
	size_t len;

	(void)state;
	opts_for(&o, "http://h");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		o.prompt_tokens = sizes[i];
		o.chat = i & 1;
		assert_int_equal(request_build(&o, &o.urls[0], &req, &len), 0);
		check_framing(req, len);
		free(req);
	}
}

static void test_bad_inputs(void **state)
{
	struct brood_opts o;
	char *req = NULL;
	size_t len;

	(void)state;
	opts_for(&o, "http://h");
	o.api_key = "a\r\nX-Injected: 1";
	assert_int_equal(request_build(&o, &o.urls[0], &req, &len), -EINVAL);
	assert_int_equal(request_build_models(&o.urls[0], o.api_key, &req, &len), -EINVAL);
	o.api_key = NULL;
	o.max_tokens = 0;
	assert_int_equal(request_build(&o, &o.urls[0], &req, &len), -EINVAL);
	o.max_tokens = 4;
	o.prompt_tokens = 0;
	assert_int_equal(request_build(&o, &o.urls[0], &req, &len), -EINVAL);
	assert_null(req);
}

static void test_models(void **state)
{
	static const char want[] = "GET /inference/v1/models HTTP/1.1\r\n"
				   "Host: api.example.com\r\n"
				   "User-Agent: brood/" BROOD_VERSION "\r\n"
				   "Authorization: Bearer k\r\n"
				   "Accept: application/json\r\n"
				   "Connection: close\r\n"
				   "\r\n";
	struct brood_opts o;
	char *req;
	size_t len;

	(void)state;
	opts_for(&o, "https://api.example.com/inference");
	assert_int_equal(request_build_models(&o.urls[0], "k", &req, &len), 0);
	assert_string_equal(req, want);
	assert_int_equal(len, strlen(want));
	free(req);
	assert_int_equal(request_build_models(&o.urls[0], NULL, &req, &len), 0);
	assert_null(strstr(req, "Authorization"));
	free(req);
}

static void test_synthetic_prompt(void **state)
{
	char *a, *b;
	size_t a_len, b_len;

	(void)state;
	for (uint32_t n = 1; n <= 3000; n++) {
		assert_int_equal(request_synthetic_prompt(n, 7, &a, &a_len), 0);
		assert_int_equal(strlen(a), a_len);
		if (request_prompt_tokens_estimate(a, a_len) != n)
			fail_msg("%u tokens asked, %u estimated: '%s'", n,
				 request_prompt_tokens_estimate(a, a_len), a);
		for (size_t i = 0; i < a_len; i++)
			assert_true(a[i] >= ' ' && a[i] < 0x7f);
		free(a);
	}
	assert_int_equal(request_synthetic_prompt(OPTS_TOKENS_MAX, 1, &a, &a_len), 0);
	assert_int_equal(request_prompt_tokens_estimate(a, a_len), OPTS_TOKENS_MAX);
	free(a);

	/* Deterministic for a seed; the seed changes the words, not the size. */
	assert_int_equal(request_synthetic_prompt(512, 1, &a, &a_len), 0);
	assert_int_equal(request_synthetic_prompt(512, 1, &b, &b_len), 0);
	assert_int_equal(a_len, b_len);
	assert_memory_equal(a, b, a_len);
	assert_int_equal(strncmp(a, "Generate a Django application", 29), 0);
	free(b);
	assert_int_equal(request_synthetic_prompt(512, 2, &b, &b_len), 0);
	assert_true(a_len != b_len || memcmp(a, b, a_len) != 0);
	assert_int_equal(request_prompt_tokens_estimate(b, b_len), 512);
	free(a);
	free(b);

	assert_int_equal(request_synthetic_prompt(0, 1, &a, &a_len), -EINVAL);
	assert_int_equal(request_synthetic_prompt(OPTS_TOKENS_MAX + 1, 1, &a, &a_len), -EINVAL);
}

static void test_estimate(void **state)
{
	static const struct {
		const char *s;
		uint32_t n;
	} cases[] = {
		{ "", 0 },
		{ "hello world", 2 },
		{ "  hello   world  ", 2 },
		{ "authentication", 3 }, /* 14 letters: 1 + 10 / 4 */
		{ "abcdefgh", 2 },
		{ "abcdefg", 1 },
		{ "12345", 2 },
		{ "a, b.", 4 },
		{ "\n\n\r\n", 1 },
		{ "x\ny", 3 },
		{ "h\xc3\xa9llo", 3 },
		{ "\xe4\xbd\xa0\xe5\xa5\xbd", 2 },
		{ "don't", 3 },
	};
	struct brood_opts o;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t n = request_prompt_tokens_estimate(cases[i].s, strlen(cases[i].s));

		if (n != cases[i].n)
			fail_msg("'%s': %u, want %u", cases[i].s, n, cases[i].n);
	}
	memset(&o, 0, sizeof(o));
	o.prompt_tokens = 77;
	assert_int_equal(request_prompt_tokens(&o), 77);
	o.prompt_text = "one two three";
	o.prompt_text_len = 13;
	assert_int_equal(request_prompt_tokens(&o), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_table),
		cmocka_unit_test(test_escape_round_trip),
		cmocka_unit_test(test_exact_completions),
		cmocka_unit_test(test_exact_chat_no_stream),
		cmocka_unit_test(test_no_ignore_eos),
		cmocka_unit_test(test_host_header),
		cmocka_unit_test(test_chat_vs_completions),
		cmocka_unit_test(test_content_length_synthetic),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_models),
		cmocka_unit_test(test_synthetic_prompt),
		cmocka_unit_test(test_estimate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
