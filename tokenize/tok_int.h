/* SPDX-License-Identifier: MIT */
/*
 * tokenize/tok_int.h: what the files of the tokenizer library share.
 * Not a public interface: the engine and the tools include tok.h only.
 */
#ifndef BROOD_TOK_INT_H
#define BROOD_TOK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tok.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TOK_NONE UINT32_MAX /* no token, no rank */

/* One line of at most err_len bytes into err, printf-style. */
void tok_errf(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- byte-level BPE (bpe.c): tiktoken rank files and HF tokenizer.json ---- */

struct bpe;

/*
 * A byte-level BPE under construction. Tokens go in with their bytes and id
 * (tiktoken: the rank), merges (HF only) as pairs of token byte strings in
 * rank order, then bpe_finish compiles the pre-tokenisation patterns (each
 * splits the pieces of the one before, as HF's chained Split pre-tokenizers).
 */
struct bpe *bpe_new(size_t nr_tokens_hint, size_t nr_merges_hint, int use_merges);
void bpe_free(struct bpe *b);
/* 0, -EEXIST when the bytes are already a token (the first id stays), -ENOMEM. */
int bpe_add_token(struct bpe *b, const uint8_t *bytes, size_t len, uint32_t id);
/* Id of these bytes, or TOK_NONE. */
uint32_t bpe_lookup(const struct bpe *b, const uint8_t *bytes, size_t len);
/* 0, or -ENOENT when a side or the merged bytes is not a token. */
int bpe_add_merge(struct bpe *b, const uint8_t *a, size_t a_len, const uint8_t *c, size_t c_len);
/* Added tokens are matched in the text before pre-tokenisation (HF). */
int bpe_add_special(struct bpe *b, const uint8_t *bytes, size_t len, uint32_t id);
/*
 * whole_first: a piece that is itself a token is that token without merging
 * (tiktoken always; HF "ignore_merges"). nfc: text is NFC-normalised first.
 */
#define BPE_MAX_SPLITS 4 /* pre-tokenisation patterns applied in turn */
int bpe_finish(struct bpe *b, const char *const *patterns, int nr_patterns, int whole_first,
	       int nfc, char *err, size_t err_len);

struct bpe_state;
int bpe_state_new(const struct bpe *b, size_t max_text, struct bpe_state **out);
void bpe_state_free(struct bpe_state *st);
long bpe_encode(struct bpe_state *st, const uint8_t *text, size_t len, uint32_t *ids,
		uint32_t *ends, size_t cap);

/* Pre-tokenisation patterns of the OpenAI encodings. */
extern const char tok_pat_r50k[];
extern const char tok_pat_cl100k[];
extern const char tok_pat_o200k[];

int tiktoken_load(const char *spec, struct bpe **out, char *err, size_t err_len);

/* ---- Hugging Face tokenizer.json (hfjson.cc, over simdjson) ---- */
int hfjson_load(const char *path, struct bpe **out, char *err, size_t err_len);

/* ---- sentencepiece (spm.cc, over libsentencepiece) ---- */
struct spm;
struct spm_state;
int spm_load(const char *path, struct spm **out, char *err, size_t err_len);
void spm_free(struct spm *m);
int spm_state_new(const struct spm *m, size_t max_text, struct spm_state **out);
void spm_state_free(struct spm_state *st);
long spm_encode(struct spm_state *st, const char *text, size_t len, uint32_t *ids, uint32_t *ends,
		size_t cap);

#ifdef __cplusplus
}
#endif

#endif
