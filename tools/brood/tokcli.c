/* SPDX-License-Identifier: MIT */
/*
 * --tokenizer for brood run: load, count the prompt, make -p exact.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "tokcli.h"

#define EXACT_TRIES 64

/* Words appended to reach the count: one token each in common vocabularies,
 * and none merges with a neighbour across its leading space. */
static const char *const fill_words[] = { " the", " and", " of", " to", " in", " is" };

long tokcli_count(const struct tok *t, const char *text, size_t len)
{
	struct tok_state *st;
	long n;
	int ret = tok_state_new(t, len ? len : 1, &st);

	if (ret < 0)
		return ret;
	n = tok_encode(st, text, len, NULL, 0);
	tok_state_free(st);
	return n;
}

/* Cuts text to at most tokens tokens at a word boundary (or at the token end
 * itself when that already counts right); returns the new length. */
static size_t cut_to(struct tok_state *st, const char *text, const uint32_t *ends, uint32_t tokens)
{
	size_t cut = ends[tokens - 1];
	const char *sp;

	if (tok_encode(st, text, cut, NULL, 0) == (long)tokens)
		return cut;
	sp = memrchr(text, ' ', cut);
	return sp && sp > text ? (size_t)(sp - text) : cut;
}

int tokcli_exact_prompt(const struct tok *t, uint32_t tokens, uint64_t seed, char **out,
			size_t *out_len)
{
	struct tok_state *st = NULL;
	uint32_t *ends = NULL;
	char *text = NULL, *buf;
	size_t len, cap;
	unsigned fill = 0;
	int ret;

	ret = request_synthetic_prompt(tokens, seed, &text, &len);
	if (ret < 0)
		return ret;
	/* Room for the text and a word per missing token, a few times over. */
	cap = len + 8 * (size_t)tokens + 4096;
	buf = realloc(text, cap + 1);
	ends = malloc(cap * sizeof(*ends));
	if (!buf || !ends) {
		ret = -ENOMEM;
		goto out;
	}
	text = buf;
	ret = tok_state_new(t, cap, &st);
	if (ret < 0)
		goto out;
	ret = -EINVAL;
	for (int i = 0; i < EXACT_TRIES; i++) {
		long n = tok_encode(st, text, len, ends, cap);

		if (n < 0) {
			ret = (int)n;
			break;
		}
		if (n == tokens) {
			ret = 0;
			break;
		}
		if (n > tokens) {
			len = cut_to(st, text, ends, tokens);
			continue;
		}
		for (long k = n; k < tokens; k++) {
			const char *w =
			    fill_words[fill++ % (sizeof(fill_words) / sizeof(*fill_words))];
			size_t wl = strlen(w);

			if (len + wl > cap)
				break;
			memcpy(text + len, w, wl);
			len += wl;
		}
	}
out:
	if (st)
		tok_state_free(st);
	free(ends);
	if (ret < 0) {
		free(text);
		return ret;
	}
	text[len] = '\0';
	*out = text;
	*out_len = len;
	return 0;
}

int tokcli_setup(struct brood_opts *o, struct tok **out, char *err, size_t err_len)
{
	struct tok *t;
	long n;
	int ret = tok_load(o->tokenizer, &t, err, err_len);

	if (ret < 0)
		return ret;
	o->tokenizer_kind = tok_kind_name(tok_kind(t));
	if (o->prompt_text) {
		n = tokcli_count(t, o->prompt_text, o->prompt_text_len);
		if (n < 0) {
			snprintf(err, err_len,
				 "--tokenizer %s: cannot count the prompt's tokens: %s",
				 o->tokenizer, strerror((int)-n));
			tok_free(t);
			return (int)n;
		}
		o->prompt_tokens_counted = (uint32_t)(n > 0 ? n : 1);
	} else {
		ret = tokcli_exact_prompt(t, o->prompt_tokens, o->seed, &o->synth_prompt,
					  &o->synth_prompt_len);
		if (ret < 0) {
			snprintf(err, err_len,
				 "--tokenizer %s: cannot make a prompt of exactly %u tokens (%s); "
				 "pass --prompt-text instead",
				 o->tokenizer, o->prompt_tokens, strerror(-ret));
			tok_free(t);
			return ret;
		}
		o->prompt_tokens_counted = o->prompt_tokens;
	}
	*out = t;
	return 0;
}

void tokcli_engine(const struct tok *t, struct engine_tokenizer *tk)
{
	tk->tok = t;
	tk->state_new = tok_state_new;
	tk->state_free = tok_state_free;
	tk->encode = tok_encode;
}
