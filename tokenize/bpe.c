/* SPDX-License-Identifier: MIT */
/*
 * tokenize/bpe.c: byte-level BPE, for tiktoken rank files and Hugging Face
 * tokenizer.json files alike.
 *
 * Text is split into pieces by the encoding's pre-tokenisation regex (PCRE2,
 * UTF + UCP, JIT); each piece starts as one part per byte and the adjacent
 * pair of lowest rank is merged until no pair has a rank. The two families
 * differ only in what a pair's rank is:
 *  - tiktoken: the rank (= id) of the concatenated bytes, if it is a token;
 *  - HF: the index of the pair (left id, right id) in the "merges" list, and
 *    the merged token's id is looked up once, at load.
 * Ties go to the leftmost pair in both, as in tiktoken and HF tokenizers.
 *
 * Pieces of up to SCAN_MAX bytes merge by scanning a small array (tiktoken's
 * own method, fastest for short pieces); longer ones through an indexed
 * min-heap over a linked list of parts, O(n log n), so that a long run of
 * letters or spaces cannot take quadratic time.
 *
 * Lookups go through two open-addressing hash tables allocated at load:
 * token bytes -> id, and (left id, right id) -> (rank, merged id).
 * Encoding allocates nothing: all scratch lives in struct bpe_state.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdbool.h>
#include <utf8proc.h>
#include <stdlib.h>
#include <string.h>

#include "tok_int.h"

/* Pieces up to this many bytes merge by scanning; longer ones use the heap. */
#define SCAN_MAX 64

/*
 * Token bytes -> id. The first 8 bytes live in the slot, so that a lookup
 * of a short token (most of them) touches one cache line and no arena.
 */
struct tslot {
	uint64_t head; /* the token's first 8 bytes, zero-padded */
	uint32_t id;
	uint32_t len; /* 0 marks an empty slot */
};

/* (left id, right id) -> (rank, merged id). key UINT64_MAX marks an empty slot. */
struct pslot {
	uint64_t key;
	uint32_t rank; /* index in the merges list */
	uint32_t id;   /* the merged token */
};

struct special {
	uint32_t off; /* in the arena */
	uint32_t len;
	uint32_t id;
};

struct bpe {
	/* Token bytes by id: arena[tok_off[id] .. + tok_len[id]); len 0: no such id. */
	uint8_t *arena;
	size_t arena_len, arena_cap;
	uint32_t *tok_off, *tok_len;
	uint32_t ids_cap; /* entries in tok_off/tok_len */

	struct tslot *slots;
	uint32_t slot_mask;
	uint32_t nr_tokens;
	uint32_t byte_id[256]; /* the token of each single byte; TOK_NONE if none */

	bool use_merges; /* HF: ranks from the merges list */
	struct pslot *pairs;
	uint32_t pair_mask;
	uint32_t nr_merges;

	struct special *specials; /* longest first */
	uint32_t nr_specials, specials_cap;
	uint8_t special_first[32]; /* bitmap of the first bytes of specials */

	bool whole_first;
	bool nfc;
	bool jit;
	pcre2_code *re[BPE_MAX_SPLITS]; /* applied in turn, each to the pieces of the last */
	int nr_re;
};

struct bpe_state {
	const struct bpe *b;
	size_t max_text;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jstack;

	/* Scan merge, pieces up to SCAN_MAX bytes. */
	uint32_t st[SCAN_MAX + 1], id[SCAN_MAX], rk[SCAN_MAX], mid[SCAN_MAX];

	/* Heap merge: arrays indexed by part start (byte offset in the piece). */
	uint32_t *nx;	/* end of the part starting here; 0: no part starts here */
	uint32_t *pv;	/* start of the previous part */
	uint32_t *hid;	/* token of the part */
	uint32_t *hrk;	/* rank of the pair (this part, next part) */
	uint32_t *hmid; /* token that pair would merge into */
	uint32_t *heap; /* part starts, ordered by (hrk, start) */
	uint32_t *hpos; /* index of each part in heap */

	/* NFC (HF normalizer): the normalised segment and where its bytes came from. */
	uint8_t *norm;	/* normalised text, up to 3 * max_text bytes */
	uint32_t *nmap; /* offset in norm -> offset in the original segment */
	int32_t *cps;	/* code points of one run being normalised */
	size_t norm_cap, cps_cap;

	/* Output of the encode in progress. */
	uint32_t *out_ids, *out_ends;
	size_t cap, n;
	size_t seg_base;      /* offset of the segment being encoded in the text */
	const uint32_t *emap; /* NULL, or nmap while encoding a normalised segment */
};

/* ---- hashing ---- */

static inline uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* The first min(n, 8) bytes of p, zero-padded, without reading past p[n - 1]. */
static inline uint64_t load_head(const uint8_t *p, size_t n)
{
	uint64_t w;

	if (n >= 8) {
		memcpy(&w, p, 8);
		return w;
	}
	if (n >= 4) {
		uint32_t lo, hi;

		/* Two overlapping loads; the overlap holds the same bytes. */
		memcpy(&lo, p, 4);
		memcpy(&hi, p + n - 4, 4);
		return lo | (uint64_t)hi << (8 * (n - 4));
	}
	if (n == 0)
		return 0;
	return p[0] | (uint64_t)p[n / 2] << (8 * (n / 2)) | (uint64_t)p[n - 1] << (8 * (n - 1));
}

static inline uint64_t hash_bytes(uint64_t head, const uint8_t *p, size_t n)
{
	uint64_t h = (head ^ (0x9e3779b97f4a7c15ULL * (n + 1))) * 0xbf58476d1ce4e5b9ULL;

	for (size_t i = 8; i < n; i += 8) {
		uint64_t w = load_head(p + i, n - i < 8 ? n - i : 8);

		h = (h ^ (h >> 31) ^ w) * 0x94d049bb133111ebULL;
	}
	return mix64(h);
}

uint32_t bpe_lookup(const struct bpe *b, const uint8_t *bytes, size_t len)
{
	uint64_t head = load_head(bytes, len);
	uint64_t h = hash_bytes(head, bytes, len);

	for (uint32_t i = (uint32_t)h & b->slot_mask;; i = (i + 1) & b->slot_mask) {
		const struct tslot *s = &b->slots[i];

		if (s->len == 0)
			return TOK_NONE;
		if (s->len == len && s->head == head &&
		    (len <= 8 || memcmp(b->arena + b->tok_off[s->id] + 8, bytes + 8, len - 8) == 0))
			return s->id;
	}
}

static inline uint64_t pair_key(uint32_t a, uint32_t c)
{
	return (uint64_t)a << 32 | c;
}

static inline const struct pslot *pair_find(const struct bpe *b, uint32_t a, uint32_t c)
{
	uint64_t key = pair_key(a, c);

	for (uint32_t i = (uint32_t)mix64(key) & b->pair_mask;; i = (i + 1) & b->pair_mask) {
		const struct pslot *s = &b->pairs[i];

		if (s->key == key)
			return s;
		if (s->key == UINT64_MAX)
			return NULL;
	}
}

/* ---- building ---- */

static uint32_t pow2_at_least(size_t n)
{
	uint32_t p = 64;

	while (p < n)
		p <<= 1;
	return p;
}

struct bpe *bpe_new(size_t nr_tokens_hint, size_t nr_merges_hint, int use_merges)
{
	struct bpe *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->slot_mask = pow2_at_least(nr_tokens_hint * 2 + 1) - 1;
	b->slots = calloc((size_t)b->slot_mask + 1, sizeof(*b->slots));
	b->use_merges = use_merges;
	if (use_merges) {
		b->pair_mask = pow2_at_least(nr_merges_hint * 2 + 1) - 1;
		b->pairs = malloc(((size_t)b->pair_mask + 1) * sizeof(*b->pairs));
		if (b->pairs)
			memset(b->pairs, 0xff, ((size_t)b->pair_mask + 1) * sizeof(*b->pairs));
	}
	if (!b->slots || (use_merges && !b->pairs)) {
		bpe_free(b);
		return NULL;
	}
	for (int i = 0; i < 256; i++)
		b->byte_id[i] = TOK_NONE;
	return b;
}

void bpe_free(struct bpe *b)
{
	if (!b)
		return;
	for (int i = 0; i < b->nr_re; i++)
		pcre2_code_free(b->re[i]);
	free(b->arena);
	free(b->tok_off);
	free(b->tok_len);
	free(b->slots);
	free(b->pairs);
	free(b->specials);
	free(b);
}

static int grow_slots(struct bpe *b)
{
	uint32_t mask = (b->slot_mask + 1) * 2 - 1;
	struct tslot *s = calloc((size_t)mask + 1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (uint32_t i = 0; i <= b->slot_mask; i++) {
		struct tslot *o = &b->slots[i];

		if (!o->len)
			continue;
		uint64_t h = hash_bytes(o->head, b->arena + b->tok_off[o->id], o->len);
		uint32_t j = (uint32_t)h & mask;

		while (s[j].len)
			j = (j + 1) & mask;
		s[j] = *o;
	}
	free(b->slots);
	b->slots = s;
	b->slot_mask = mask;
	return 0;
}

static int arena_put(struct bpe *b, const uint8_t *bytes, size_t len, uint32_t *off)
{
	if (b->arena_len + len > UINT32_MAX)
		return -E2BIG;
	if (b->arena_len + len > b->arena_cap) {
		size_t cap = b->arena_cap ? b->arena_cap * 2 : 1 << 20;

		while (cap < b->arena_len + len)
			cap *= 2;
		uint8_t *a = realloc(b->arena, cap);

		if (!a)
			return -ENOMEM;
		b->arena = a;
		b->arena_cap = cap;
	}
	memcpy(b->arena + b->arena_len, bytes, len);
	*off = (uint32_t)b->arena_len;
	b->arena_len += len;
	return 0;
}

static int ids_reserve(struct bpe *b, uint32_t id)
{
	if (id == TOK_NONE)
		return -EINVAL;
	if (id < b->ids_cap)
		return 0;
	uint32_t cap = b->ids_cap ? b->ids_cap : 1024;

	while (cap <= id)
		cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
	uint32_t *off = realloc(b->tok_off, (size_t)cap * sizeof(*off));

	if (!off)
		return -ENOMEM;
	b->tok_off = off;
	uint32_t *len = realloc(b->tok_len, (size_t)cap * sizeof(*len));

	if (!len)
		return -ENOMEM;
	b->tok_len = len;
	memset(b->tok_len + b->ids_cap, 0, (size_t)(cap - b->ids_cap) * sizeof(*len));
	b->ids_cap = cap;
	return 0;
}

int bpe_add_token(struct bpe *b, const uint8_t *bytes, size_t len, uint32_t id)
{
	int ret;

	if (len == 0 || len > UINT32_MAX)
		return -EINVAL;
	if (bpe_lookup(b, bytes, len) != TOK_NONE)
		return -EEXIST;
	ret = ids_reserve(b, id);
	if (ret)
		return ret;
	if (b->tok_len[id])
		return -EEXIST; /* two byte strings for one id */
	if ((size_t)(b->nr_tokens + 1) * 2 > (size_t)b->slot_mask + 1) {
		ret = grow_slots(b);
		if (ret)
			return ret;
	}
	ret = arena_put(b, bytes, len, &b->tok_off[id]);
	if (ret)
		return ret;
	b->tok_len[id] = (uint32_t)len;

	uint64_t head = load_head(bytes, len);
	uint32_t i = (uint32_t)hash_bytes(head, bytes, len) & b->slot_mask;

	while (b->slots[i].len)
		i = (i + 1) & b->slot_mask;
	b->slots[i] = (struct tslot){ .head = head, .id = id, .len = (uint32_t)len };
	b->nr_tokens++;
	if (len == 1)
		b->byte_id[bytes[0]] = id;
	return 0;
}

static int grow_pairs(struct bpe *b)
{
	uint32_t mask = (b->pair_mask + 1) * 2 - 1;
	struct pslot *s = malloc(((size_t)mask + 1) * sizeof(*s));

	if (!s)
		return -ENOMEM;
	memset(s, 0xff, ((size_t)mask + 1) * sizeof(*s));
	for (uint32_t i = 0; i <= b->pair_mask; i++) {
		if (b->pairs[i].key == UINT64_MAX)
			continue;
		uint32_t j = (uint32_t)mix64(b->pairs[i].key) & mask;

		while (s[j].key != UINT64_MAX)
			j = (j + 1) & mask;
		s[j] = b->pairs[i];
	}
	free(b->pairs);
	b->pairs = s;
	b->pair_mask = mask;
	return 0;
}

int bpe_add_merge(struct bpe *b, const uint8_t *a, size_t a_len, const uint8_t *c, size_t c_len)
{
	uint8_t buf[1024];
	uint32_t ia = bpe_lookup(b, a, a_len), ic = bpe_lookup(b, c, c_len), im;
	uint32_t rank = b->nr_merges++;

	if (ia == TOK_NONE || ic == TOK_NONE || a_len + c_len > sizeof(buf))
		return -ENOENT;
	memcpy(buf, a, a_len);
	memcpy(buf + a_len, c, c_len);
	im = bpe_lookup(b, buf, a_len + c_len);
	if (im == TOK_NONE)
		return -ENOENT;
	if ((size_t)(rank + 1) * 2 > (size_t)b->pair_mask + 1) {
		int ret = grow_pairs(b);

		if (ret)
			return ret;
	}
	uint64_t key = pair_key(ia, ic);
	uint32_t i = (uint32_t)mix64(key) & b->pair_mask;

	while (b->pairs[i].key != UINT64_MAX) {
		if (b->pairs[i].key == key)
			return 0; /* a repeated merge keeps its first (lowest) rank */
		i = (i + 1) & b->pair_mask;
	}
	b->pairs[i] = (struct pslot){ .key = key, .rank = rank, .id = im };
	return 0;
}

int bpe_add_special(struct bpe *b, const uint8_t *bytes, size_t len, uint32_t id)
{
	uint32_t off;
	int ret;

	if (len == 0)
		return -EINVAL;
	if (b->nr_specials == b->specials_cap) {
		uint32_t cap = b->specials_cap ? b->specials_cap * 2 : 16;
		struct special *s = realloc(b->specials, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		b->specials = s;
		b->specials_cap = cap;
	}
	ret = arena_put(b, bytes, len, &off);
	if (ret)
		return ret;
	/* Keep longest first, so that the first match at a position is the longest. */
	uint32_t i = b->nr_specials++;

	while (i > 0 && b->specials[i - 1].len < len) {
		b->specials[i] = b->specials[i - 1];
		i--;
	}
	b->specials[i] = (struct special){ .off = off, .len = (uint32_t)len, .id = id };
	b->special_first[bytes[0] >> 3] |= (uint8_t)(1u << (bytes[0] & 7));
	return 0;
}

int bpe_finish(struct bpe *b, const char *const *patterns, int nr_patterns, int whole_first,
	       int nfc, char *err, size_t err_len)
{
	int errcode;
	PCRE2_SIZE erroff;

	for (int i = 0; i < 256; i++) {
		if (b->byte_id[i] == TOK_NONE) {
			tok_errf(err, err_len, "byte 0x%02x has no token: not a byte-level BPE", i);
			return -EINVAL;
		}
	}
	if (nr_patterns < 1 || nr_patterns > BPE_MAX_SPLITS) {
		tok_errf(err, err_len, "%d pre-tokenisation patterns: 1 to %d are supported",
			 nr_patterns, BPE_MAX_SPLITS);
		return -ENOTSUP;
	}
	b->jit = true;
	for (; b->nr_re < nr_patterns; b->nr_re++) {
		/*
		 * UCP: \s, \d, \w and POSIX classes follow Unicode, as in the
		 * reference tokenizers. MATCH_INVALID_UTF: invalid UTF-8 never
		 * matches, and the bytes a pattern skips are still tokenised,
		 * byte-level. DOLLAR_ENDONLY: "$" is the end of the text, never
		 * before a final newline.
		 */
		pcre2_code *re = pcre2_compile(
		    (PCRE2_SPTR)patterns[b->nr_re], PCRE2_ZERO_TERMINATED,
		    PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY,
		    &errcode, &erroff, NULL);

		if (!re) {
			PCRE2_UCHAR msg[160];

			pcre2_get_error_message(errcode, msg, sizeof(msg));
			tok_errf(err, err_len, "pre-tokenisation pattern %d, at offset %zu: %s",
				 b->nr_re + 1, (size_t)erroff, (const char *)msg);
			return -EINVAL;
		}
		b->re[b->nr_re] = re;
		/* Without JIT (no executable memory) the interpreter gives the same matches. */
		b->jit &= pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
	}
	b->whole_first = whole_first;
	b->nfc = nfc;
	return 0;
}

/* ---- state ---- */

int bpe_state_new(const struct bpe *b, size_t max_text, struct bpe_state **out)
{
	struct bpe_state *st = calloc(1, sizeof(*st));
	size_t n = max_text + 1;

	if (!st)
		return -ENOMEM;
	st->b = b;
	st->max_text = max_text;
	st->md = pcre2_match_data_create(1, NULL);
	st->mctx = pcre2_match_context_create(NULL);
	if (b->jit) {
		st->jstack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
		if (st->jstack && st->mctx)
			pcre2_jit_stack_assign(st->mctx, NULL, st->jstack);
	}
	st->nx = malloc(n * sizeof(uint32_t));
	st->pv = malloc(n * sizeof(uint32_t));
	st->hid = malloc(n * sizeof(uint32_t));
	st->hrk = malloc(n * sizeof(uint32_t));
	st->hmid = malloc(n * sizeof(uint32_t));
	st->heap = malloc(n * sizeof(uint32_t));
	st->hpos = malloc(n * sizeof(uint32_t));
	if (b->nfc) {
		/* NFC grows UTF-8 text at most threefold. */
		st->norm_cap = 3 * max_text + 4;
		st->cps_cap = 2 * max_text + 16;
		st->norm = malloc(st->norm_cap);
		st->nmap = malloc((st->norm_cap + 1) * sizeof(uint32_t));
		st->cps = malloc(st->cps_cap * sizeof(int32_t));
	}
	if (!st->md || !st->mctx || (b->jit && !st->jstack) || !st->nx || !st->pv || !st->hid ||
	    !st->hrk || !st->hmid || !st->heap || !st->hpos ||
	    (b->nfc && (!st->norm || !st->nmap || !st->cps))) {
		bpe_state_free(st);
		return -ENOMEM;
	}
	*out = st;
	return 0;
}

void bpe_state_free(struct bpe_state *st)
{
	if (!st)
		return;
	pcre2_match_data_free(st->md);
	pcre2_match_context_free(st->mctx);
	pcre2_jit_stack_free(st->jstack);
	free(st->nx);
	free(st->pv);
	free(st->hid);
	free(st->hrk);
	free(st->hmid);
	free(st->heap);
	free(st->hpos);
	free(st->norm);
	free(st->nmap);
	free(st->cps);
	free(st);
}

/* ---- encoding ---- */

/* Token id ends at offset end of the segment being encoded. */
static inline void emit(struct bpe_state *st, uint32_t id, size_t end)
{
	end = st->seg_base + (st->emap ? st->emap[end] : end);
	if (st->n < st->cap) {
		if (st->out_ids)
			st->out_ids[st->n] = id;
		if (st->out_ends)
			st->out_ends[st->n] = (uint32_t)end;
	}
	st->n++;
}

/*
 * Rank of merging the parts p[s..m) (token ia) and p[m..e) (token ic), and the
 * token they merge into in *mid; TOK_NONE when they do not merge.
 */
static inline uint32_t pair_rank(const struct bpe *b, const uint8_t *p, uint32_t s, uint32_t e,
				 uint32_t ia, uint32_t ic, uint32_t *mid)
{
	if (b->use_merges) {
		const struct pslot *ps = pair_find(b, ia, ic);

		if (!ps)
			return TOK_NONE;
		*mid = ps->id;
		return ps->rank;
	}
	uint32_t r = bpe_lookup(b, p + s, e - s);

	*mid = r;
	return r;
}

static void merge_scan(struct bpe_state *st, const uint8_t *p, uint32_t n, size_t base)
{
	const struct bpe *b = st->b;
	uint32_t *s = st->st, *id = st->id, *rk = st->rk, *mid = st->mid;
	uint32_t k = n;

	for (uint32_t i = 0; i < n; i++) {
		s[i] = i;
		id[i] = b->byte_id[p[i]];
	}
	s[n] = n;
	for (uint32_t i = 0; i + 1 < n; i++)
		rk[i] = pair_rank(b, p, i, i + 2, id[i], id[i + 1], &mid[i]);
	rk[n - 1] = TOK_NONE;

	while (k > 1) {
		uint32_t best = TOK_NONE, i = 0;

		for (uint32_t j = 0; j + 1 < k; j++) {
			if (rk[j] < best) {
				best = rk[j];
				i = j;
			}
		}
		if (best == TOK_NONE)
			break;
		id[i] = mid[i];
		/* Part i+1 joins part i. */
		for (uint32_t j = i + 1; j < k; j++) {
			s[j] = s[j + 1];
			if (j + 1 < k) {
				id[j] = id[j + 1];
				rk[j] = rk[j + 1];
				mid[j] = mid[j + 1];
			}
		}
		k--;
		if (i > 0)
			rk[i - 1] =
			    pair_rank(b, p, s[i - 1], s[i + 1], id[i - 1], id[i], &mid[i - 1]);
		rk[i] = i + 1 < k ? pair_rank(b, p, s[i], s[i + 2], id[i], id[i + 1], &mid[i])
				  : TOK_NONE;
	}
	for (uint32_t i = 0; i < k; i++)
		emit(st, id[i], base + s[i + 1]);
}

/* Min-heap of part starts by (rank, start): the leftmost lowest-ranked pair on top. */
static inline bool hless(const uint32_t *rk, uint32_t a, uint32_t c)
{
	return rk[a] < rk[c] || (rk[a] == rk[c] && a < c);
}

static void heap_up(struct bpe_state *st, uint32_t i)
{
	uint32_t *h = st->heap, *pos = st->hpos, x = h[i];

	while (i > 0) {
		uint32_t up = (i - 1) / 2;

		if (!hless(st->hrk, x, h[up]))
			break;
		h[i] = h[up];
		pos[h[i]] = i;
		i = up;
	}
	h[i] = x;
	pos[x] = i;
}

static void heap_down(struct bpe_state *st, uint32_t i, uint32_t len)
{
	uint32_t *h = st->heap, *pos = st->hpos, x = h[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= len)
			break;
		if (c + 1 < len && hless(st->hrk, h[c + 1], h[c]))
			c++;
		if (!hless(st->hrk, h[c], x))
			break;
		h[i] = h[c];
		pos[h[i]] = i;
		i = c;
	}
	h[i] = x;
	pos[x] = i;
}

static void heap_fix(struct bpe_state *st, uint32_t i, uint32_t len)
{
	uint32_t x = st->heap[i];

	heap_up(st, i);
	heap_down(st, st->hpos[x], len);
}

static void merge_heap(struct bpe_state *st, const uint8_t *p, uint32_t n, size_t base)
{
	const struct bpe *b = st->b;
	uint32_t *nx = st->nx, *pv = st->pv, *id = st->hid, *rk = st->hrk, *mid = st->hmid;
	uint32_t len = n;

	for (uint32_t i = 0; i < n; i++) {
		nx[i] = i + 1;
		pv[i] = i - 1;
		id[i] = b->byte_id[p[i]];
	}
	for (uint32_t i = 0; i < n; i++) {
		rk[i] = i + 1 < n ? pair_rank(b, p, i, i + 2, id[i], id[i + 1], &mid[i]) : TOK_NONE;
		st->heap[i] = i;
		st->hpos[i] = i;
	}
	for (uint32_t i = n / 2; i-- > 0;)
		heap_down(st, i, len);

	while (len > 1) {
		uint32_t s = st->heap[0];

		if (rk[s] == TOK_NONE)
			break;
		uint32_t m = nx[s], e = nx[m];

		/* Part m joins part s: take m out of the list and the heap. */
		id[s] = mid[s];
		nx[s] = e;
		if (e < n)
			pv[e] = s;
		nx[m] = 0;
		uint32_t at = st->hpos[m], last = st->heap[--len];

		if (at != len) {
			st->heap[at] = last;
			st->hpos[last] = at;
			heap_fix(st, at, len);
		}
		rk[s] = e < n ? pair_rank(b, p, s, nx[e], id[s], id[e], &mid[s]) : TOK_NONE;
		heap_fix(st, st->hpos[s], len);
		if (s > 0) {
			uint32_t q = pv[s];

			rk[q] = pair_rank(b, p, q, e, id[q], id[s], &mid[q]);
			heap_fix(st, st->hpos[q], len);
		}
	}
	for (uint32_t i = 0; i < n; i = nx[i])
		emit(st, id[i], base + nx[i]);
}

static void encode_piece(struct bpe_state *st, const uint8_t *p, size_t n, size_t base)
{
	const struct bpe *b = st->b;

	if (n == 1) {
		emit(st, b->byte_id[p[0]], base + 1);
		return;
	}
	if (b->whole_first) {
		uint32_t id = bpe_lookup(b, p, n);

		if (id != TOK_NONE) {
			emit(st, id, base + n);
			return;
		}
	}
	if (n <= SCAN_MAX)
		merge_scan(st, p, (uint32_t)n, base);
	else
		merge_heap(st, p, (uint32_t)n, base);
}

/*
 * Pre-tokenise sub[0..len), at offset base of the segment, with pattern
 * level and the ones after it; encode each final piece. The matches and the
 * bytes between them (invalid UTF-8, or text a pattern does not take, as
 * HF's "Isolated" keeps it) are pieces, in text order.
 */
static void split_and_encode(struct bpe_state *st, const uint8_t *sub, size_t len, size_t base,
			     int level)
{
	const struct bpe *b = st->b;
	size_t off = 0, gap = 0;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(st->md);

	if (level == b->nr_re) {
		encode_piece(st, sub, len, base);
		return;
	}
	const pcre2_code *re = b->re[level];

	while (off < len) {
		int rc = b->jit ? pcre2_jit_match(re, sub, len, off, 0, st->md, st->mctx)
				: pcre2_match(re, sub, len, off, 0, st->md, st->mctx);

		/*
		 * The JIT failing otherwise than by not matching (its stack
		 * exhausted): the interpreter gives the same matches (and may
		 * allocate, in this path only).
		 */
		if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && b->jit)
			rc = pcre2_match(re, sub, len, off, 0, st->md, st->mctx);
		if (rc < 0)
			break;
		size_t ms = ov[0], me = ov[1];

		if (me == ms) {
			/* An empty match takes no text: look again one byte on. */
			off = ms + 1;
			continue;
		}
		if (ms > gap)
			split_and_encode(st, sub + gap, ms - gap, base + gap, level + 1);
		split_and_encode(st, sub + ms, me - ms, base + ms, level + 1);
		off = gap = me;
	}
	if (gap < len)
		split_and_encode(st, sub + gap, len - gap, base + gap, level + 1);
}

static size_t put_utf8(uint8_t *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * NFC of one run t[0..len): an ASCII character and the non-ASCII text after
 * it. Normalisation never joins across an ASCII character's start (none
 * composes with what precedes it), so runs normalise independently.
 * Appends the result at norm[*nlen]; text that is not valid UTF-8 is copied
 * as it is.
 */
static void nfc_run(struct bpe_state *st, const uint8_t *t, size_t len, size_t *nlen)
{
	const utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
	utf8proc_ssize_t n = utf8proc_decompose_custom(
	    t, (utf8proc_ssize_t)len, st->cps, (utf8proc_ssize_t)st->cps_cap, opt, NULL, NULL);
	size_t out = *nlen;

	if (n >= 0 && (size_t)n <= st->cps_cap)
		n = utf8proc_normalize_utf32(st->cps, n, opt);
	if (n < 0 || (size_t)n > st->cps_cap || out + 4 * (size_t)n > st->norm_cap) {
		memcpy(st->norm + out, t, len);
		*nlen = out + len;
		return;
	}
	for (utf8proc_ssize_t i = 0; i < n; i++)
		out += put_utf8(st->norm + out, (uint32_t)st->cps[i]);
	*nlen = out;
}

/*
 * NFC of text[0..len) into st->norm with st->nmap; returns its length, or
 * SIZE_MAX when the text is already NFC (the common case: then nothing is
 * copied). Offsets inside a run that changed map to the run's end: its tokens
 * are complete only once the whole run has arrived.
 */
static size_t nfc(struct bpe_state *st, const uint8_t *t, size_t len)
{
	size_t i = 0, nlen = 0;
	bool changed = false;

	while (i < len && t[i] < 0x80)
		i++;
	if (i == len)
		return SIZE_MAX;
	i = 0;
	while (i < len) {
		size_t s = i, e = i + 1;

		while (e < len && t[e] >= 0x80)
			e++;
		if (e - s == 1 && t[s] < 0x80) {
			st->norm[nlen] = t[s];
			st->nmap[nlen++] = (uint32_t)s;
			i = e;
			continue;
		}
		size_t n0 = nlen;

		nfc_run(st, t + s, e - s, &nlen);
		if (nlen - n0 == e - s && memcmp(st->norm + n0, t + s, e - s) == 0) {
			for (size_t k = 0; k < e - s; k++)
				st->nmap[n0 + k] = (uint32_t)(s + k);
		} else {
			changed = true;
			st->nmap[n0] = (uint32_t)s;
			for (size_t k = n0 + 1; k < nlen; k++)
				st->nmap[k] = (uint32_t)e;
		}
		i = e;
	}
	st->nmap[nlen] = (uint32_t)len;
	return changed ? nlen : SIZE_MAX;
}

/* Encode text[a..z): a segment between special tokens. */
static void encode_segment(struct bpe_state *st, const uint8_t *text, size_t a, size_t z)
{
	size_t nlen = st->b->nfc ? nfc(st, text + a, z - a) : SIZE_MAX;

	st->seg_base = a;
	if (nlen == SIZE_MAX) {
		st->emap = NULL;
		split_and_encode(st, text + a, z - a, 0, 0);
	} else {
		st->emap = st->nmap;
		split_and_encode(st, st->norm, nlen, 0, 0);
	}
	st->emap = NULL;
}

/* Length of the longest special token at text[i..len), 0 if none; its id in *id. */
static size_t special_at(const struct bpe *b, const uint8_t *text, size_t i, size_t len,
			 uint32_t *id)
{
	for (uint32_t k = 0; k < b->nr_specials; k++) {
		const struct special *s = &b->specials[k];

		if (s->len <= len - i && b->arena[s->off] == text[i] &&
		    memcmp(b->arena + s->off, text + i, s->len) == 0) {
			*id = s->id;
			return s->len;
		}
	}
	return 0;
}

long bpe_encode(struct bpe_state *st, const uint8_t *text, size_t len, uint32_t *ids,
		uint32_t *ends, size_t cap)
{
	const struct bpe *b = st->b;
	size_t seg = 0;

	if (len > st->max_text)
		return -E2BIG;
	st->out_ids = ids;
	st->out_ends = ends;
	st->cap = cap;
	st->n = 0;
	st->seg_base = 0;
	st->emap = NULL;
	if (b->nr_specials) {
		for (size_t i = 0; i < len;) {
			uint32_t id;
			size_t sl = 0;

			if (b->special_first[text[i] >> 3] & (1u << (text[i] & 7)))
				sl = special_at(b, text, i, len, &id);
			if (!sl) {
				i++;
				continue;
			}
			if (i > seg)
				encode_segment(st, text, seg, i);
			st->seg_base = 0;
			emit(st, id, i + sl);
			i += sl;
			seg = i;
		}
	}
	if (len > seg)
		encode_segment(st, text, seg, len);
	return (long)st->n;
}
