/* SPDX-License-Identifier: MIT */
/*
 * The token-timing pipeline without sockets: the shard-side pushes
 * (tokpipe_data / tokpipe_end) with chosen receive times, the tokenizer
 * threads running for real, and the merged histograms checked value by
 * value. The tokenizer is a test one plugged into the engine's seam:
 * "words" (a token starts at each space, as brood-mock's text is built) or
 * "bytes" (a token per byte). It also keeps the last text it was given, so
 * the JSON unescaping on the way in can be checked byte for byte.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine_int.h"
#include "json.h"

/* ---- the test tokenizer ---- */

struct tok {
	bool bytes; /* a token per byte, else a token per space-led word */
};

struct tok_state {
	const struct tok *t;
	size_t max_text;
};

/* The last text encoded, by any tokenizer thread; read after they are joined. */
static pthread_mutex_t last_mu = PTHREAD_MUTEX_INITIALIZER;
static char last_text[1 << 16];
static size_t last_len;

static int test_state_new(const struct tok *t, size_t max_text, struct tok_state **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	(*out)->t = t;
	(*out)->max_text = max_text;
	return 0;
}

static void test_state_free(struct tok_state *st)
{
	free(st);
}

static long test_encode(struct tok_state *st, const char *text, size_t len, uint32_t *ends,
			size_t cap)
{
	long n = 0;

	if (len > st->max_text)
		return -E2BIG;
	pthread_mutex_lock(&last_mu);
	memcpy(last_text, text, len < sizeof(last_text) ? len : sizeof(last_text));
	last_len = len;
	pthread_mutex_unlock(&last_mu);
	for (size_t i = 1; i <= len; i++) {
		bool end = st->t->bytes || i == len || text[i] == ' ';

		if (!end)
			continue;
		if ((size_t)n < cap)
			ends[n] = (uint32_t)i;
		n++;
	}
	return n;
}

/* ---- fixture ---- */

#define NR_CONNS 8

struct fx {
	struct tok tok;
	struct engine_tokenizer tk;
	struct engine_config cfg;
	struct tokpipe tp;
	struct shard shards[2];
	struct conn conns[2][NR_CONNS];
	struct engine_result res;
	bool merged;
};

static struct fx *fx_new(unsigned nr_shards, unsigned nr_threads, bool bytes, uint32_t max_text,
			 uint32_t ring_bytes)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	f->tok.bytes = bytes;
	f->tk = (struct engine_tokenizer){ &f->tok, test_state_new, test_state_free, test_encode };
	f->cfg.tokenizer = &f->tk;
	f->cfg.tok_max_text = max_text;
	f->cfg.tok_ring_bytes = ring_bytes;
	for (unsigned s = 0; s < nr_shards; s++) {
		f->shards[s].id = s;
		f->shards[s].nr_conns = NR_CONNS;
		f->shards[s].conns = f->conns[s];
		for (uint32_t i = 0; i < NR_CONNS; i++)
			f->conns[s][i].idx = i;
	}
	assert_int_equal(tokpipe_start(&f->tp, &f->cfg, f->shards, nr_shards, nr_threads, NULL, err,
				       sizeof(err)),
			 0);
	return f;
}

/* Stops the threads (they drain first) and merges, as engine_run does. */
static struct engine_result *fx_finish(struct fx *f)
{
	tokpipe_stop(&f->tp);
	assert_int_equal(hist_init_latency(&f->res.h.ttft), 0);
	assert_int_equal(hist_init_latency(&f->res.h.itl), 0);
	assert_int_equal(hist_init_latency(&f->res.h.tpot), 0);
	for (unsigned s = 0; s < f->tp.nr_shards; s++) {
		f->res.c.tok_ring_drops += f->shards[s].c.tok_ring_drops;
		f->res.c.tok_lost += f->shards[s].c.tok_lost;
		f->res.c.tok_overflow += f->shards[s].c.tok_overflow;
	}
	assert_int_equal(tokpipe_merge(&f->tp, &f->res), 0);
	f->merged = true;
	return &f->res;
}

static void fx_free(struct fx *f)
{
	tokpipe_close(&f->tp);
	if (f->merged) {
		hist_close(&f->res.h.ttft);
		hist_close(&f->res.h.itl);
		hist_close(&f->res.h.tpot);
	}
	free(f);
}

static void begin(struct fx *f, unsigned s, unsigned c, uint64_t t_send_ns)
{
	tokpipe_begin(&f->conns[s][c].tok);
	f->conns[s][c].t_send_ns = t_send_ns;
}

static void data(struct fx *f, unsigned s, unsigned c, uint64_t t_ns, const char *text)
{
	f->shards[s].now_ns = t_ns;
	tokpipe_data(&f->shards[s], &f->conns[s][c], text, strlen(text));
}

static void end(struct fx *f, unsigned s, unsigned c, bool ok, bool stream, int usage)
{
	tokpipe_end(&f->shards[s], &f->conns[s][c], ok, stream, usage >= 0,
		    usage >= 0 ? (uint64_t)usage : 0);
}

/* ---- tests ---- */

/* Each token takes the time of the chunk holding its last byte. */
static void test_token_times(void **state)
{
	struct fx *f = fx_new(1, 1, false, 0, 0);
	struct engine_result *r;

	(void)state;
	begin(f, 0, 3, 1000);
	data(f, 0, 3, 10000, " Hello");
	data(f, 0, 3, 20000, " wor"); /* " world" ends in the next chunk */
	data(f, 0, 3, 30000, "ld !");
	data(f, 0, 3, 45000, " a b c"); /* three tokens at once */
	end(f, 0, 3, true, true, 6);
	r = fx_finish(f);

	assert_int_equal(r->tok.requests, 1);
	assert_int_equal(r->tok.output_tokens, 6);
	assert_int_equal(r->c.output_tokens, 6);
	assert_int_equal(r->tok.usage_requests, 1);
	assert_int_equal(r->tok.usage_mismatch_requests, 0);
	/* TTFT: " Hello" at 10000, sent at 1000 */
	assert_int_equal(hist_count(&r->h.ttft), 1);
	assert_int_equal(r->h.ttft.min, 9000);
	/* ITL: " world" 30000, " !" 30000, " a" 45000, " b" " c" 45000 */
	assert_int_equal(hist_count(&r->h.itl), 5);
	assert_int_equal(r->h.itl.min, 0);
	assert_int_equal(r->h.itl.max, 20000);
	assert_true(r->h.itl.sum == 20000.0 + 0 + 15000 + 0 + 0);
	/* TPOT: (45000 - 10000) / 5 */
	assert_int_equal(hist_count(&r->h.tpot), 1);
	assert_int_equal(r->h.tpot.min, 7000);
	assert_memory_equal(last_text, " Hello world ! a b c", last_len);
	assert_int_equal(r->c.tok_ring_drops, 0);
	fx_free(f);
}

/*
 * Summing per-chunk token counts is what brood avoids: the same three
 * chunks counted one by one make 4 tokens ("wor" and "ld" each count),
 * tokenised whole they make 3.
 */
static void test_per_chunk_sum_overcounts(void **state)
{
	static const char *const chunks[] = { " Hello", " wor", "ld !" };
	struct tok tok = { .bytes = false };
	struct tok_state *st;
	uint32_t ends[16];
	long sum = 0;
	struct fx *f = fx_new(1, 1, false, 0, 0);
	struct engine_result *r;

	(void)state;
	assert_int_equal(test_state_new(&tok, 4096, &st), 0);
	for (unsigned i = 0; i < 3; i++)
		sum += test_encode(st, chunks[i], strlen(chunks[i]), ends, 16);
	test_state_free(st);
	assert_int_equal(sum, 4);

	begin(f, 0, 0, 0);
	for (unsigned i = 0; i < 3; i++)
		data(f, 0, 0, 100 * (i + 1), chunks[i]);
	end(f, 0, 0, true, true, -1);
	r = fx_finish(f);
	assert_int_equal(r->tok.output_tokens, 3);
	fx_free(f);
}

/* usage.completion_tokens against our count: how often and by how much. */
static void test_usage_mismatch(void **state)
{
	struct fx *f = fx_new(1, 1, true, 0, 0);
	struct engine_result *r;

	(void)state;
	begin(f, 0, 0, 0);
	data(f, 0, 0, 5, "abcd"); /* 4 byte-tokens; usage says 2 */
	end(f, 0, 0, true, true, 2);
	begin(f, 0, 1, 0);
	data(f, 0, 1, 5, "abc"); /* 3; usage says 3 */
	end(f, 0, 1, true, true, 3);
	begin(f, 0, 2, 0);
	data(f, 0, 2, 5, "a"); /* 1; usage says 6 */
	end(f, 0, 2, true, true, 6);
	begin(f, 0, 3, 0);
	data(f, 0, 3, 5, "ab"); /* no usage */
	end(f, 0, 3, true, true, -1);
	r = fx_finish(f);
	assert_int_equal(r->tok.requests, 4);
	assert_int_equal(r->tok.output_tokens, 10);
	assert_int_equal(r->tok.usage_requests, 3);
	assert_int_equal(r->tok.usage_mismatch_requests, 2);
	assert_int_equal(r->tok.usage_mismatch_abs_sum, 2 + 5);
	assert_int_equal(r->tok.usage_mismatch_max, 5);
	fx_free(f);
}

/* Two shards, two tokenizer threads, requests interleaved on every ring. */
static void test_interleaved(void **state)
{
	struct fx *f = fx_new(2, 2, false, 0, 0);
	struct engine_result *r;

	(void)state;
	for (unsigned s = 0; s < 2; s++)
		for (unsigned c = 0; c < NR_CONNS; c++)
			begin(f, s, c, 1000);
	for (unsigned k = 0; k < 50; k++)
		for (unsigned s = 0; s < 2; s++)
			for (unsigned c = 0; c < NR_CONNS; c++)
				data(f, s, c, 1000 + (c + 1) * 100 + k * 1000, " tok");
	for (unsigned s = 0; s < 2; s++)
		for (unsigned c = 0; c < NR_CONNS; c++)
			end(f, s, c, true, true, 50);
	r = fx_finish(f);
	assert_int_equal(r->tok.requests, 2 * NR_CONNS);
	assert_int_equal(r->tok.output_tokens, 2 * NR_CONNS * 50);
	assert_int_equal(r->tok.usage_mismatch_requests, 0);
	assert_int_equal(hist_count(&r->h.itl), 2 * NR_CONNS * 49);
	assert_int_equal(r->h.itl.min, 1000);
	assert_int_equal(r->h.itl.max, 1000);
	assert_int_equal(r->h.ttft.min, 100);
	assert_int_equal(r->h.ttft.max, NR_CONNS * 100);
	fx_free(f);
}

/* A record the ring cannot take is dropped, never waited for: the request
 * is lost to token timing, the connection's next request is not. */
static void test_ring_drop(void **state)
{
	static char big[3000];
	struct fx *f = fx_new(1, 1, false, 0, 4096);
	struct engine_result *r;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	begin(f, 0, 0, 0);
	data(f, 0, 0, 10, " a");
	data(f, 0, 0, 20, big); /* over half the ring: refused */
	data(f, 0, 0, 30, " b");
	end(f, 0, 0, true, true, 3);
	begin(f, 0, 0, 100);
	data(f, 0, 0, 110, " c d");
	end(f, 0, 0, true, true, 2);
	r = fx_finish(f);
	assert_int_equal(r->c.tok_ring_drops, 1);
	assert_int_equal(r->c.tok_lost, 1);
	assert_int_equal(r->tok.requests, 1);
	assert_int_equal(r->tok.output_tokens, 2);
	assert_int_equal(r->h.ttft.min, 10);
	fx_free(f);
}

/* A response longer than the text limit is counted, not timed. */
static void test_overflow(void **state)
{
	static char part[3000];
	struct fx *f = fx_new(1, 1, false, 4096, 0);
	struct engine_result *r;

	(void)state;
	memset(part, 'y', sizeof(part) - 1);
	begin(f, 0, 1, 0);
	data(f, 0, 1, 10, part);
	data(f, 0, 1, 20, part);
	end(f, 0, 1, true, true, -1);
	begin(f, 0, 1, 0);
	data(f, 0, 1, 10, " fits");
	end(f, 0, 1, true, true, -1);
	r = fx_finish(f);
	assert_int_equal(r->c.tok_overflow, 1);
	assert_int_equal(r->tok.overflow_requests, 1);
	assert_int_equal(r->c.tok_lost, 1);
	assert_int_equal(r->tok.requests, 1);
	assert_int_equal(r->tok.output_tokens, 1);
	fx_free(f);
}

/* Failed requests are not timed; a request cut off without an end (the run
 * stopped) is replaced by the connection's next one. */
static void test_failed_and_cancelled(void **state)
{
	struct fx *f = fx_new(1, 1, false, 0, 0);
	struct engine_result *r;

	(void)state;
	begin(f, 0, 0, 0);
	data(f, 0, 0, 10, " no");
	end(f, 0, 0, false, true, -1);
	begin(f, 0, 1, 0);
	data(f, 0, 1, 10, " cut off");
	begin(f, 0, 1, 1000);
	data(f, 0, 1, 1500, " next one");
	end(f, 0, 1, true, true, -1);
	begin(f, 0, 2, 0);
	end(f, 0, 2, true, true, 0); /* ok and empty */
	r = fx_finish(f);
	assert_int_equal(r->tok.requests, 2);
	assert_int_equal(r->tok.output_tokens, 2);
	assert_int_equal(r->tok.discarded_requests, 0);
	assert_int_equal(hist_count(&r->h.ttft), 1);
	assert_int_equal(r->h.ttft.min, 500);
	assert_memory_equal(last_text, " next one", 9);
	fx_free(f);
}

/* Not streamed: tokens counted, no per-token times. */
static void test_not_streamed(void **state)
{
	struct fx *f = fx_new(1, 1, false, 0, 0);
	struct engine_result *r;

	(void)state;
	begin(f, 0, 0, 0);
	data(f, 0, 0, 10, " one two three");
	end(f, 0, 0, true, false, 3);
	r = fx_finish(f);
	assert_int_equal(r->tok.output_tokens, 3);
	assert_int_equal(hist_count(&r->h.ttft), 0);
	assert_int_equal(hist_count(&r->h.itl), 0);
	fx_free(f);
}

/* JSON escapes reach the tokenizer decoded: \n, \", \u00e9, a surrogate pair. */
static void test_unescaped_text(void **state)
{
	static char ev1[256 + JSON_PADDING], ev2[256 + JSON_PADDING];
	static const char json1[] =
	    "{\"choices\":[{\"delta\":{\"content\":\"caf\\u00e9\\n\\\"q\\\"\"}}]}";
	static const char json2[] =
	    "{\"choices\":[{\"delta\":{\"content\":\" \\ud83d\\ude00 \\\\ \\t\"}}]}";
	static const char want[] = "caf\xc3\xa9\n\"q\" \xf0\x9f\x98\x80 \\ \t";
	struct fx *f = fx_new(1, 1, true, 0, 0);
	struct json_event je;
	struct engine_result *r;

	(void)state;
	assert_int_equal(json_thread_init(), 0);
	memcpy(ev1, json1, sizeof(json1));
	memcpy(ev2, json2, sizeof(json2));
	begin(f, 0, 0, 0);
	assert_int_equal(json_parse_event(ev1, sizeof(json1) - 1, &je), 0);
	assert_int_equal(je.delta, JSON_DELTA_CONTENT);
	f->shards[0].now_ns = 10;
	tokpipe_data(&f->shards[0], &f->conns[0][0], je.text, je.text_len);
	assert_int_equal(json_parse_event(ev2, sizeof(json2) - 1, &je), 0);
	f->shards[0].now_ns = 20;
	tokpipe_data(&f->shards[0], &f->conns[0][0], je.text, je.text_len);
	end(f, 0, 0, true, true, -1);
	r = fx_finish(f);
	assert_int_equal(last_len, sizeof(want) - 1);
	assert_memory_equal(last_text, want, sizeof(want) - 1);
	/* byte tokens: 10 in the first chunk, the rest in the second */
	assert_int_equal(r->tok.output_tokens, sizeof(want) - 1);
	assert_int_equal(hist_count(&r->h.itl), sizeof(want) - 2);
	assert_int_equal(r->h.itl.max, 10);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_times),
		cmocka_unit_test(test_per_chunk_sum_overcounts),
		cmocka_unit_test(test_usage_mismatch),
		cmocka_unit_test(test_interleaved),
		cmocka_unit_test(test_ring_drop),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_failed_and_cancelled),
		cmocka_unit_test(test_not_streamed),
		cmocka_unit_test(test_unescaped_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
