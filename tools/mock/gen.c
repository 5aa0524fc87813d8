/* SPDX-License-Identifier: MIT */
/*
 * Token text and JSON helpers. Tokens are common English words, each with a
 * leading space and no other space (so a client can count tokens by
 * counting spaces), plus a few that exercise JSON escaping: a quote, a
 * backslash, a newline, a tab and a control character. All ASCII. The
 * escaped forms are built once by gen_init, before any worker starts, and
 * are read-only afterwards.
 *
 * With a tokenizer (gen_init_tokenizer), only the words that are exactly one
 * token under it stay, and a long sample of them is checked to tokenise
 * word by word: then a response of N words is N tokens of that tokenizer,
 * each ending where its word ends, which a client's re-tokenisation must
 * find again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"
#include "tok.h"

#define NR_TOKENS	64 /* a power of two: the top 6 bits of a PRNG word pick one */
#define TOKEN_ESC_BYTES 32

static const char *const vocab[NR_TOKENS] = {
	" the",	  " of",    " and",	   " to",	   " a",	   " in",	 " is",
	" that",  " for",   " it",	   " as",	   " was",	   " with",	 " be",
	" by",	  " on",    " not",	   " he",	   " this",	   " are",	 " or",
	" his",	  " from",  " at",	   " which",	   " but",	   " have",	 " an",
	" had",	  " they",  " you",	   " were",	   " their",	   " one",	 " all",
	" we",	  " can",   " her",	   " has",	   " there",	   " been",	 " if",
	" more",  " when",  " will",	   " would",	   " who",	   " so",	 " no",
	" model", " token", " stream",	   " data",	   " time",	   " said",	 " it's",
	" 50%",	  " <tag>", " \"quoted\"", " back\\slash", " line\nbreak", " tab\there", " bell\a",
	" a/b",
};

#define SAMPLE_WORDS 4096 /* words of the tokenizer self-check */

static char escaped[NR_TOKENS][TOKEN_ESC_BYTES];
static size_t escaped_len[NR_TOKENS];
static size_t escaped_max;
static unsigned nr_vocab = NR_TOKENS; /* words in use: escaped[0..nr_vocab) */

/* Writes s as the inside of a JSON string. Needs 6 * len bytes at p. */
char *gen_json_escape(char *p, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		switch (ch) {
		case '"':
			*p++ = '\\';
			*p++ = '"';
			break;
		case '\\':
			*p++ = '\\';
			*p++ = '\\';
			break;
		case '\n':
			*p++ = '\\';
			*p++ = 'n';
			break;
		case '\r':
			*p++ = '\\';
			*p++ = 'r';
			break;
		case '\t':
			*p++ = '\\';
			*p++ = 't';
			break;
		default:
			if (ch < 0x20) {
				memcpy(p, "\\u00", 4);
				p[4] = hex[ch >> 4];
				p[5] = hex[ch & 15];
				p += 6;
			} else {
				*p++ = (char)ch;
			}
		}
	}
	return p;
}

/* Builds the escaped vocabulary; call once, before any worker starts. */
void gen_init(void)
{
	for (unsigned i = 0; i < NR_TOKENS; i++) {
		char *end = gen_json_escape(escaped[i], vocab[i], strlen(vocab[i]));

		escaped_len[i] = (size_t)(end - escaped[i]);
		if (escaped_len[i] > escaped_max)
			escaped_max = escaped_len[i];
	}
}

/* Bytes of the longest escaped token. */
size_t gen_token_max_bytes(void)
{
	return escaped_max;
}

/* splitmix64: a tiny PRNG whose whole state is one word. */
static uint64_t next_u64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Which word the next draw picks: the top bits, scaled to the vocabulary. */
static unsigned draw(uint64_t *prng)
{
	return (unsigned)(((next_u64(prng) >> 32) * nr_vocab) >> 32);
}

/* Draws the next token; returns its escaped text (not NUL-terminated). */
const char *gen_token(uint64_t *prng, size_t *len)
{
	unsigned i = draw(prng);

	*len = escaped_len[i];
	return escaped[i];
}

/* Writes v in decimal; returns the end. */
char *gen_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* Writes v in lowercase hex without leading zeros; returns the end. */
char *gen_hex(char *p, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[16];
	size_t n = 0;

	do {
		tmp[n++] = hex[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* A long text of drawn words must tokenise into exactly those words. */
static int self_check(const struct tok *t, const unsigned *map, char *err, size_t err_len)
{
	size_t cap = SAMPLE_WORDS * TOKEN_ESC_BYTES;
	char *text = malloc(cap);
	uint32_t *ends = malloc(SAMPLE_WORDS * sizeof(*ends));
	uint32_t *want = malloc(SAMPLE_WORDS * sizeof(*want));
	struct tok_state *st = NULL;
	uint64_t prng = 1;
	size_t len = 0;
	long n;
	int ret = -ENOMEM;

	if (!text || !ends || !want || tok_state_new(t, cap, &st) < 0)
		goto out;
	for (unsigned i = 0; i < SAMPLE_WORDS; i++) {
		const char *w = vocab[map[draw(&prng)]];

		memcpy(text + len, w, strlen(w));
		len += strlen(w);
		want[i] = (uint32_t)len;
	}
	n = tok_encode(st, text, len, ends, SAMPLE_WORDS);
	ret = 0;
	if (n != SAMPLE_WORDS || memcmp(ends, want, sizeof(*ends) * SAMPLE_WORDS)) {
		snprintf(err, err_len,
			 "its tokens of a sample of %u one-token words do not end where the words "
			 "do (%ld tokens)",
			 SAMPLE_WORDS, n);
		ret = -EINVAL;
	}
out:
	if (st)
		tok_state_free(st);
	free(text);
	free(ends);
	free(want);
	if (ret == -ENOMEM)
		snprintf(err, err_len, "out of memory");
	return ret;
}

/* gen_init with only the words that are one token under spec. */
int gen_init_tokenizer(const char *spec, char *err, size_t err_len)
{
	unsigned map[NR_TOKENS], n = 0;
	struct tok_state *st;
	struct tok *t;
	int ret = tok_load(spec, &t, err, err_len);

	if (ret < 0)
		return ret;
	ret = tok_state_new(t, TOKEN_ESC_BYTES, &st);
	if (ret < 0) {
		snprintf(err, err_len, "out of memory");
		tok_free(t);
		return ret;
	}
	for (unsigned i = 0; i < NR_TOKENS; i++)
		if (tok_encode(st, vocab[i], strlen(vocab[i]), NULL, 0) == 1)
			map[n++] = i;
	tok_state_free(st);
	if (n < 8) {
		snprintf(err, err_len, "only %u of the mock's %u words are one token under it", n,
			 NR_TOKENS);
		tok_free(t);
		return -EINVAL;
	}
	nr_vocab = n;
	ret = self_check(t, map, err, err_len);
	tok_free(t);
	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < n; i++) {
		char *end = gen_json_escape(escaped[i], vocab[map[i]], strlen(vocab[map[i]]));

		escaped_len[i] = (size_t)(end - escaped[i]);
		if (escaped_len[i] > escaped_max)
			escaped_max = escaped_len[i];
	}
	return 0;
}
