/* SPDX-License-Identifier: MIT */
/*
 * The bytes brood sends: one whole HTTP/1.1 request per target, built once at
 * start-up and replayed by every user (the engine never builds requests).
 * The body follows the OpenAI completions / chat completions API as vLLM,
 * SGLang and TGI serve it. Like llm_bench, it asks the server not to stop at
 * end-of-sequence ("ignore_eos": true) so every request makes max_tokens
 * tokens; "min_tokens" is not sent. Servers that reject unknown fields
 * (api.openai.com) will answer 400 to that field.
 */
#ifndef BROOD_TOOLS_REQUEST_H
#define BROOD_TOOLS_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "opts.h"

/*
 * Builds "POST {base}/v1/completions" (or /v1/chat/completions with --chat)
 * for target u: Host, User-Agent, Content-Type: application/json, Accept
 * (text/event-stream when streaming), Authorization: Bearer when o->api_key,
 * Content-Length, Connection: keep-alive; then the JSON body: model (left out
 * when o->model is ""), prompt or messages, max_tokens, stream,
 * stream_options.include_usage when streaming, ignore_eos. The prompt is
 * o->prompt_text, else the synthetic prompt of o->prompt_tokens tokens.
 * On 0, *out is malloc'd (caller frees) and *out_len its length; *out is
 * also NUL-terminated. Returns 0, -EINVAL (bad opts) or -ENOMEM.
 */
int request_build(const struct brood_opts *o, const struct url *u, char **out, size_t *out_len);

/*
 * Where a request built with a varying max_tokens (opts_tokens_vary) holds
 * its ENGINE_TOKENS_SLOT-byte max_tokens and min_tokens numbers, in
 * ascending order, for the engine to fill per request. Returns 0 with *nr
 * 1 or 2, or -EINVAL when req has no max_tokens field.
 */
int request_token_slots(const char *req, size_t len, uint32_t off[2], unsigned *nr);

/* The JSON body alone, as request_build sends it. Same returns and ownership. */
int request_build_body(const struct brood_opts *o, char **out, size_t *out_len);

/*
 * "GET {base}/v1/models" with Accept: application/json, Authorization when
 * api_key is not NULL, and Connection: close (a one-off probe: read to EOF).
 * Same returns and ownership as request_build.
 */
int request_build_models(const struct url *u, const char *api_key, char **out, size_t *out_len);

/*
 * Deterministic English-like text: a code-generation request (the kind of
 * prompt that does not stop early) followed by sentences of short common
 * words, cut so that request_prompt_tokens_estimate() of it is exactly
 * tokens. seed picks the words. Same returns and ownership as request_build;
 * -EINVAL when tokens is 0 or above OPTS_TOKENS_MAX.
 */
int request_synthetic_prompt(uint32_t tokens, uint64_t seed, char **out, size_t *out_len);

/*
 * A tokenizer-free estimate of text's token count for BPE vocabularies of
 * English text: a word of up to 7 letters is one token (its leading space
 * included), longer words one more per 4 letters; digits one per 3; each
 * other ASCII symbol one; each run of newlines one; each non-ASCII character
 * one. Real counts come from the server's usage object; this sizes prompts.
 */
uint32_t request_prompt_tokens_estimate(const char *text, size_t len);

/* The prompt's size in tokens: -p's N, or the estimate of --prompt-text. */
uint32_t request_prompt_tokens(const struct brood_opts *o);

/*
 * Escapes src as the inside of a JSON string: \" \\ \n \r \t \b \f, other
 * control bytes as \u00XX, everything else (UTF-8 included) as is. Writes at
 * most dst_len bytes (no NUL) and returns the full escaped length, like
 * snprintf, so json_escape(NULL, 0, ...) measures.
 */
size_t request_json_escape(char *dst, size_t dst_len, const char *src, size_t src_len);

#endif
