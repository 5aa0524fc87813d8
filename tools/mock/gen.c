/* SPDX-License-Identifier: MIT */
/*
 * Token text and JSON helpers. Tokens are common English words, each with a
 * leading space and no other space (so a client can count tokens by
 * counting spaces), plus a few that exercise JSON escaping: a quote, a
 * backslash, a newline, a tab and a control character. All ASCII. The
 * escaped forms are built once by gen_init, before any worker starts, and
 * are read-only afterwards.
 */
#include <string.h>

#include "mock.h"

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

static char escaped[NR_TOKENS][TOKEN_ESC_BYTES];
static size_t escaped_len[NR_TOKENS];
static size_t escaped_max;

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

/* Draws the next token; returns its escaped text (not NUL-terminated). */
const char *gen_token(uint64_t *prng, size_t *len)
{
	unsigned i = (unsigned)(next_u64(prng) >> 58);

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
