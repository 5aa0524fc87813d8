/* SPDX-License-Identifier: MIT */
/*
 * tokenize/tok.h: tokenizers that give every token the byte offset where it
 * ends, so that each output token can take the receive time of the chunk that
 * holds its last byte.
 *
 * A struct tok is read-only once loaded and may be shared by any number of
 * threads; each thread encodes through its own struct tok_state, whose
 * scratch memory is allocated once, by tok_state_new, never while encoding.
 */
#ifndef BROOD_TOK_H
#define BROOD_TOK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum tok_kind {
	TOK_SENTENCEPIECE, /* a sentencepiece .model (unigram or BPE) */
	TOK_TIKTOKEN,	   /* a .tiktoken rank file, cl100k_base, o200k_base */
	TOK_HF_BPE,	   /* a Hugging Face tokenizer.json with byte-level BPE */
};

struct tok;
struct tok_state;

/*
 * Load a tokenizer. spec is "cl100k_base", "o200k_base", or the path of a
 * .tiktoken rank file, a tokenizer.json or a sentencepiece .model file.
 * Returns 0 and sets *out, or -errno with one line in err naming the problem.
 */
int tok_load(const char *spec, struct tok **out, char *err, size_t err_len);
void tok_free(struct tok *t);

enum tok_kind tok_kind(const struct tok *t);
/* "sentencepiece", "tiktoken" or "hf-bpe". */
const char *tok_kind_name(enum tok_kind k);

/*
 * Scratch for one thread, for texts of up to max_text bytes.
 * Returns 0 or -errno (-ENOMEM).
 */
int tok_state_new(const struct tok *t, size_t max_text, struct tok_state **out);
void tok_state_free(struct tok_state *st);

/*
 * Tokenise text[0..len) as model output: no BOS/EOS added.
 * Returns the number of tokens n (>= 0), or -errno (-E2BIG when len exceeds
 * the state's max_text). For i < min(n, cap), ends[i] is the offset just past
 * the last byte of token i: non-decreasing, and ends[n - 1] == len.
 * ends may be NULL when cap is 0, to count only.
 */
long tok_encode(struct tok_state *st, const char *text, size_t len, uint32_t *ends, size_t cap);

/*
 * tok_encode that also gives the token ids: for i < min(n, cap), ids[i] is
 * token i's id in the tokenizer's vocabulary. ids or ends may be NULL.
 * For tests against reference tokenizers and for building prompts.
 */
long tok_encode_ids(struct tok_state *st, const char *text, size_t len, uint32_t *ids,
		    uint32_t *ends, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
