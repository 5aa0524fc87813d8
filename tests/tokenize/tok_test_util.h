/* SPDX-License-Identifier: MIT */
/* Helpers shared by the tokenizer tests: files, golden ids, invariants. */
#ifndef BROOD_TOK_TEST_UTIL_H
#define BROOD_TOK_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "tok.h"

/* Whole file, NUL-terminated; fails the test (loudly) when unreadable. */
char *tt_read_file(const char *path, size_t *len);
/* Decodes one JSON string literal line into out; returns its length. */
size_t tt_json_string(const char *line, char *out, size_t cap);
/* Parses space-separated ids; returns how many. */
size_t tt_parse_ids(const char *line, uint32_t *ids, size_t cap);
/* Loads spec or fails the test with tok_load's message. */
struct tok *tt_load(const char *spec);
/*
 * Encodes text and checks every tok.h invariant: ends non-decreasing, the
 * last == len, count-only and short-cap calls agree. strict (byte-level BPE
 * without normalisation): ends strictly increasing, text gives >= 1 token.
 * Returns n; ids/ends (cap entries) hold the result.
 */
long tt_encode_checked(struct tok_state *st, const char *text, size_t len, uint32_t *ids,
		       uint32_t *ends, size_t cap, int strict);

/*
 * gpt-tokenizer's TestPlans.txt (text -> ids from tiktoken) for one encoding,
 * tokenised by spec: every id equal.
 */
void tt_check_testplans(const char *encoding, const char *spec);

#endif
