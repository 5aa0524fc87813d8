/* SPDX-License-Identifier: MIT */
/*
 * tokenize/tok.c: the tok.h interface, dispatching to the byte-level BPE
 * (tiktoken, Hugging Face tokenizer.json) or to sentencepiece.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_int.h"

struct tok {
	enum tok_kind kind;
	struct bpe *bpe; /* TOK_TIKTOKEN, TOK_HF_BPE */
	struct spm *spm; /* TOK_SENTENCEPIECE */
};

struct tok_state {
	const struct tok *t;
	struct bpe_state *bpe;
	struct spm_state *spm;
};

void tok_errf(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int tok_load(const char *spec, struct tok **out, char *err, size_t err_len)
{
	static const char *const names[] = { "cl100k_base", "o200k_base", "p50k_base",
					     "r50k_base" };
	struct tok *t;
	int ret, by_name = 0;

	if (!spec || !*spec) {
		tok_errf(err, err_len, "no tokenizer given");
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		by_name |= strcmp(spec, names[i]) == 0;
	t = calloc(1, sizeof(*t));
	if (!t) {
		tok_errf(err, err_len, "%s: out of memory", spec);
		return -ENOMEM;
	}
	if (by_name || ends_with(spec, ".tiktoken")) {
		t->kind = TOK_TIKTOKEN;
		ret = tiktoken_load(spec, &t->bpe, err, err_len);
	} else if (ends_with(spec, ".json")) {
		t->kind = TOK_HF_BPE;
		ret = hfjson_load(spec, &t->bpe, err, err_len);
	} else if (ends_with(spec, ".model")) {
		t->kind = TOK_SENTENCEPIECE;
		ret = spm_load(spec, &t->spm, err, err_len);
	} else {
		tok_errf(err, err_len,
			 "%s: unknown tokenizer: give cl100k_base, o200k_base, or the path of a "
			 ".tiktoken, tokenizer.json or sentencepiece .model file",
			 spec);
		ret = -EINVAL;
	}
	if (ret) {
		free(t);
		return ret;
	}
	*out = t;
	return 0;
}

void tok_free(struct tok *t)
{
	if (!t)
		return;
	bpe_free(t->bpe);
	spm_free(t->spm);
	free(t);
}

enum tok_kind tok_kind(const struct tok *t)
{
	return t->kind;
}

const char *tok_kind_name(enum tok_kind k)
{
	switch (k) {
	case TOK_SENTENCEPIECE:
		return "sentencepiece";
	case TOK_TIKTOKEN:
		return "tiktoken";
	case TOK_HF_BPE:
		return "hf-bpe";
	}
	return "unknown";
}

int tok_state_new(const struct tok *t, size_t max_text, struct tok_state **out)
{
	struct tok_state *st;
	int ret;

	/* Token ends are 32-bit offsets. */
	if (max_text >= UINT32_MAX)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->t = t;
	if (t->bpe)
		ret = bpe_state_new(t->bpe, max_text, &st->bpe);
	else
		ret = spm_state_new(t->spm, max_text, &st->spm);
	if (ret) {
		free(st);
		return ret;
	}
	*out = st;
	return 0;
}

void tok_state_free(struct tok_state *st)
{
	if (!st)
		return;
	bpe_state_free(st->bpe);
	spm_state_free(st->spm);
	free(st);
}

long tok_encode_ids(struct tok_state *st, const char *text, size_t len, uint32_t *ids,
		    uint32_t *ends, size_t cap)
{
	if (st->bpe)
		return bpe_encode(st->bpe, (const uint8_t *)text, len, ids, ends, cap);
	return spm_encode(st->spm, text, len, ids, ends, cap);
}

long tok_encode(struct tok_state *st, const char *text, size_t len, uint32_t *ends, size_t cap)
{
	return tok_encode_ids(st, text, len, NULL, ends, cap);
}
