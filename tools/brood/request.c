/* SPDX-License-Identifier: MIT */
/*
 * Request bytes, built once per target at start-up. Allocation is fine here;
 * the engine replays these bytes and never builds anything itself.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "sbuf.h"

#ifndef BROOD_VERSION
#define BROOD_VERSION "dev"
#endif

/* llm_bench's kind of prompt: a long code-generation task rarely stops early. */
static const char prompt_prefix[] =
    "Generate a Django application with user authentication, JWT, tests and database "
    "support. Show the docker compose file for Python and Postgres. Show the complete code "
    "for every file, then go on with the notes below.";

/* Short common words: one BPE token each with their leading space. */
static const char *const filler[] = {
	"time",	   "people",  "year",	"way",	  "day",     "man",    "thing",	  "woman",
	"life",	   "child",   "world",	"school", "state",   "family", "student", "group",
	"country", "problem", "hand",	"part",	  "place",   "case",   "week",	  "company",
	"system",  "number",  "night",	"point",  "home",    "water",  "room",	  "mother",
	"area",	   "money",   "story",	"fact",	  "month",   "lot",    "right",	  "study",
	"book",	   "eye",     "job",	"word",	  "issue",   "side",   "kind",	  "head",
	"house",   "service", "friend", "father", "power",   "hour",   "game",	  "line",
	"end",	   "member",  "law",	"car",	  "city",    "name",   "team",	  "minute",
	"idea",	   "kid",     "body",	"face",	  "others",  "level",  "office",  "door",
	"health",  "person",  "art",	"war",	  "history", "party",  "result",  "change",
	"morning", "reason",  "girl",	"guy",	  "moment",  "air",    "teacher", "force",
	"the",	   "and",     "that",	"have",	  "for",     "not",    "with",	  "you",
	"this",	   "but",     "his",	"from",	  "they",    "say",    "her",	  "she",
	"will",	   "one",     "all",	"would",  "there",   "their",  "what",	  "out",
	"about",   "who",     "get",	"which",  "when",    "make",   "can",	  "like",
	"just",	   "know",    "take",	"into",	  "your",    "good",   "some",	  "could",
	"them",	   "see",     "other",	"than",	  "then",    "now",    "look",	  "only",
	"come",	   "its",     "over",	"think",  "also",    "back",   "after",	  "use",
	"two",	   "how",     "our",	"well",	  "even",    "new",    "want",	  "because",
	"any",	   "these",   "give",	"most",
};

#define NR_FILLER (sizeof(filler) / sizeof(filler[0]))

size_t request_json_escape(char *dst, size_t dst_len, const char *src, size_t src_len)
{
	return json_escape(dst, dst_len, src, src_len);
}

static bool is_letter(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static size_t run_len(const char *s, size_t len, size_t i, bool (*in_run)(unsigned char))
{
	size_t start = i;

	while (i < len && in_run((unsigned char)s[i]))
		i++;
	return i - start;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_newline(unsigned char c)
{
	return c == '\n' || c == '\r';
}

static bool is_utf8_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

uint32_t request_prompt_tokens_estimate(const char *text, size_t len)
{
	uint64_t n = 0;
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)text[i];
		size_t w;

		if (c == ' ' || c == '\t') {
			i++; /* spaces ride on the next word's token */
		} else if (is_newline(c)) {
			i += run_len(text, len, i, is_newline);
			n++;
		} else if (is_letter(c)) {
			w = run_len(text, len, i, is_letter);
			i += w;
			n += w <= 7 ? 1 : 1 + (w - 4) / 4;
		} else if (is_digit(c)) {
			w = run_len(text, len, i, is_digit);
			i += w;
			n += (w + 2) / 3;
		} else if (c >= 0x80) {
			i++;
			i += run_len(text, len, i, is_utf8_cont);
			n++;
		} else {
			i++;
			n++;
		}
	}
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void add_word(struct sbuf *b, const char *w, size_t len)
{
	if (b->len)
		sbuf_add(b, " ", 1);
	sbuf_add(b, w, len);
}

/* The prefix word by word while it fits; returns the tokens left. */
static uint32_t add_prefix(struct sbuf *b, uint32_t left)
{
	const char *p = prompt_prefix;

	while (*p) {
		size_t len = strcspn(p, " ");
		uint32_t cost = request_prompt_tokens_estimate(p, len);

		if (cost > left)
			break; /* stop, rather than leave a hole in the sentence */
		add_word(b, p, len);
		left -= cost;
		p += len;
		p += *p == ' ';
	}
	return left;
}

int request_synthetic_prompt(uint32_t tokens, uint64_t seed, char **out, size_t *out_len)
{
	struct sbuf b = { 0 };
	uint64_t rng = seed;
	uint32_t left, in_sentence = 0, sentence_len = 0;

	if (tokens == 0 || tokens > OPTS_TOKENS_MAX)
		return -EINVAL;
	left = add_prefix(&b, tokens);
	while (left && !b.err) {
		const char *w = filler[splitmix64(&rng) % NR_FILLER];

		if (!sentence_len)
			sentence_len = 6 + (uint32_t)(splitmix64(&rng) % 9);
		add_word(&b, w, strlen(w));
		left--;
		if (++in_sentence == sentence_len && left) {
			sbuf_add(&b, ".", 1);
			left--;
			in_sentence = sentence_len = 0;
		}
	}
	return sbuf_take(&b, out, out_len);
}

uint32_t request_prompt_tokens(const struct brood_opts *o)
{
	if (o->prompt_tokens_counted)
		return o->prompt_tokens_counted;
	if (o->prompt_text)
		return request_prompt_tokens_estimate(o->prompt_text, o->prompt_text_len);
	return o->prompt_tokens;
}

int request_build_body(const struct brood_opts *o, char **out, size_t *out_len)
{
	struct sbuf b = { 0 };
	char *synth = NULL;
	const char *prompt = o->prompt_text;
	size_t prompt_len = o->prompt_text_len;
	int ret;

	if (!o->max_tokens)
		return -EINVAL;
	if (!prompt && o->synth_prompt) {
		prompt = o->synth_prompt;
		prompt_len = o->synth_prompt_len;
	}
	if (!prompt) {
		ret = request_synthetic_prompt(o->prompt_tokens, o->seed, &synth, &prompt_len);
		if (ret)
			return ret;
		prompt = synth;
	}
	sbuf_adds(&b, "{");
	if (o->model[0]) {
		sbuf_adds(&b, "\"model\":");
		sbuf_add_json_str(&b, o->model, strlen(o->model));
		sbuf_adds(&b, ",");
	}
	sbuf_adds(&b, o->chat ? "\"messages\":[{\"role\":\"user\",\"content\":" : "\"prompt\":");
	sbuf_add_json_str(&b, prompt, prompt_len);
	sbuf_adds(&b, o->chat ? "}]," : ",");
	/* A varying max_tokens gets a fixed-width slot that each request
	 * fills in (request_token_slots); the number is -o until then. */
	sbuf_addf(&b,
		  opts_tokens_vary(o) ? "\"max_tokens\":%7u,\"stream\":%s"
				      : "\"max_tokens\":%u,\"stream\":%s",
		  o->max_tokens, o->stream ? "true" : "false");
	if (o->stream)
		sbuf_adds(&b, ",\"stream_options\":{\"include_usage\":true}");
	/* vLLM, SGLang and TGI then generate exactly max_tokens. */
	if (o->ignore_eos)
		sbuf_adds(&b, ",\"ignore_eos\":true");
	/* vLLM and SGLang also take min_tokens: the length is forced even
	 * where ignore_eos is not honoured. */
	if (o->min_tokens)
		sbuf_addf(&b, opts_tokens_vary(o) ? ",\"min_tokens\":%7u" : ",\"min_tokens\":%u",
			  o->max_tokens);
	sbuf_adds(&b, "}");
	free(synth);
	return sbuf_take(&b, out, out_len);
}

static bool header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return false;
	return true;
}

/* Request line, Host, User-Agent and Authorization: what both requests share. */
static void add_head(struct sbuf *b, const char *method, const struct url *u, const char *api_path,
		     const char *api_key)
{
	sbuf_addf(b, "%s %s%s HTTP/1.1\r\nHost: %s%s%s", method, u->path, api_path,
		  u->ipv6 ? "[" : "", u->host, u->ipv6 ? "]" : "");
	if (u->port != (u->tls ? 443 : 80))
		sbuf_addf(b, ":%u", u->port);
	sbuf_adds(b, "\r\nUser-Agent: brood/" BROOD_VERSION "\r\n");
	if (api_key)
		sbuf_addf(b, "Authorization: Bearer %s\r\n", api_key);
}

int request_build(const struct brood_opts *o, const struct url *u, char **out, size_t *out_len)
{
	struct sbuf b = { 0 };
	char *body;
	size_t body_len;
	int ret;

	if (o->api_key && !header_safe(o->api_key))
		return -EINVAL;
	ret = request_build_body(o, &body, &body_len);
	if (ret)
		return ret;
	add_head(&b, "POST", u, o->chat ? "/v1/chat/completions" : "/v1/completions", o->api_key);
	sbuf_addf(&b,
		  "Content-Type: application/json\r\n"
		  "Accept: %s\r\n"
		  "Content-Length: %zu\r\n"
		  "Connection: keep-alive\r\n"
		  "\r\n",
		  o->stream ? "text/event-stream" : "application/json", body_len);
	sbuf_add(&b, body, body_len);
	free(body);
	return sbuf_take(&b, out, out_len);
}

int request_build_models(const struct url *u, const char *api_key, char **out, size_t *out_len)
{
	struct sbuf b = { 0 };

	if (api_key && !header_safe(api_key))
		return -EINVAL;
	add_head(&b, "GET", u, "/v1/models", api_key);
	sbuf_adds(&b, "Accept: application/json\r\nConnection: close\r\n\r\n");
	return sbuf_take(&b, out, out_len);
}

/* The last occurrence of key in [p, p + len), or NULL. */
static const char *find_last(const char *p, size_t len, const char *key)
{
	size_t n = strlen(key);

	for (size_t i = len >= n ? len - n + 1 : 0; i-- > 0;)
		if (!memcmp(p + i, key, n))
			return p + i;
	return NULL;
}

int request_token_slots(const char *req, size_t len, uint32_t off[2], unsigned *nr)
{
	static const char *const keys[] = { "\"max_tokens\":", "\"min_tokens\":" };

	*nr = 0;
	/* The fields follow the prompt, so the last occurrence is the field
	 * (a prompt's own quotes are escaped, but may still spell the key). */
	for (int i = 0; i < 2; i++) {
		const char *at = find_last(req, len, keys[i]);

		if (!at)
			continue;
		at += strlen(keys[i]);
		if ((size_t)(at - req) + ENGINE_TOKENS_SLOT > len)
			return -EINVAL;
		off[(*nr)++] = (uint32_t)(at - req);
	}
	return *nr ? 0 : -EINVAL;
}
