/* SPDX-License-Identifier: MIT */
/*
 * --tokenizer on the command line: loads the tokenizer before any load is
 * sent, counts the prompt's tokens with it, cuts -p's synthetic prompt to
 * exactly N tokens, and hands the engine tokenize/tok.h's functions. Main
 * thread, at start-up.
 */
#ifndef BROOD_TOOLS_TOKCLI_H
#define BROOD_TOOLS_TOKCLI_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "opts.h"
#include "tok.h"

/*
 * Loads o->tokenizer into *out, then sets o->tokenizer_kind,
 * o->prompt_tokens_counted and, for -p, o->synth_prompt. Returns 0, or
 * -errno with one line in err (nothing to release then).
 */
int tokcli_setup(struct brood_opts *o, struct tok **out, char *err, size_t err_len);

/* The engine's view of t (tok.h's functions); valid while t is. */
void tokcli_engine(const struct tok *t, struct engine_tokenizer *tk);

/*
 * The synthetic prompt of request_synthetic_prompt, cut or extended by
 * whole words until t counts exactly tokens in it. On 0, *out is malloc'd
 * (caller frees), NUL-terminated, *out_len its length. Returns 0, -EINVAL
 * (tokens 0 or too many, or no word-level cut reaches exactly tokens) or
 * -ENOMEM.
 */
int tokcli_exact_prompt(const struct tok *t, uint32_t tokens, uint64_t seed, char **out,
			size_t *out_len);

/* Tokens of text under t, or -errno. */
long tokcli_count(const struct tok *t, const char *text, size_t len);

#endif
