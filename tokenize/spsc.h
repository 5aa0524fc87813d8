/* SPDX-License-Identifier: MIT */
/*
 * tokenize/spsc.h: a lock-free single-producer/single-consumer ring of
 * variable-length records, for shards (producers) handing content bytes to
 * tokenizer threads (consumers) without ever blocking the shard.
 *
 * One thread pushes, one other thread pops; nothing else touches a ring
 * between spsc_init and spsc_close. The producer's index and the consumer's
 * index sit on cache lines of their own, each next to the side's cached copy
 * of the opposite index, so that in the steady state a push or a pop reads
 * the other side's line only when its cached view says the ring is full
 * (producer) or empty (consumer). Publication is a release store of the
 * index after the bytes are written; the other side reads it with acquire.
 *
 * A record is an 8-byte header (its length) and its bytes, padded to 8;
 * records never wrap: when one does not fit before the end of the buffer,
 * the producer fills the rest with a pad record and starts at 0.
 * Header-only: push and pop are meant to inline into the data plane.
 */
#ifndef BROOD_SPSC_H
#define BROOD_SPSC_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SPSC_CACHE_LINE 64
#ifdef __cplusplus
#define SPSC_ALIGNAS(n) alignas(n)
#else
#define SPSC_ALIGNAS(n) _Alignas(n)
#endif
#define SPSC_ALIGN     8u
#define SPSC_HDR_BYTES 8u
#define SPSC_PAD       UINT32_MAX /* a header length saying "skip to the buffer's end" */
#define SPSC_MIN_BYTES 4096u
#define SPSC_MAX_BYTES (1u << 30)

struct spsc {
	/* Producer's line: written by the producer only. */
	SPSC_ALIGNAS(SPSC_CACHE_LINE) uint64_t head; /* bytes ever pushed; atomic (release) */
	uint64_t tail_cache;			     /* the producer's last view of tail */
	/* Consumer's line: written by the consumer only. */
	SPSC_ALIGNAS(SPSC_CACHE_LINE) uint64_t tail; /* bytes ever popped; atomic (release) */
	uint64_t head_cache;			     /* the consumer's last view of head */
	uint64_t pop_len;			     /* bytes the record spsc_peek returned spans */
	/* Read-only after spsc_init: shared by both without contention. */
	SPSC_ALIGNAS(SPSC_CACHE_LINE) char *buf;
	uint64_t size; /* bytes, a power of two */
	uint64_t mask; /* size - 1 */
};

static inline uint64_t spsc_round(uint64_t n)
{
	return (n + SPSC_ALIGN - 1) & ~(uint64_t)(SPSC_ALIGN - 1);
}

/*
 * Sets up an empty ring of size bytes (a power of two, SPSC_MIN_BYTES ..
 * SPSC_MAX_BYTES). The largest record is size / 2 - SPSC_HDR_BYTES bytes.
 * Call before either thread uses the ring. Returns 0, -EINVAL or -ENOMEM.
 */
static inline int spsc_init(struct spsc *r, size_t size)
{
	memset(r, 0, sizeof(*r));
	if (size < SPSC_MIN_BYTES || size > SPSC_MAX_BYTES || (size & (size - 1)))
		return -EINVAL;
	r->buf = (char *)aligned_alloc(SPSC_CACHE_LINE, size);
	if (!r->buf)
		return -ENOMEM;
	r->size = size;
	r->mask = size - 1;
	return 0;
}

/* Frees the buffer; both threads must be done with the ring. */
static inline void spsc_close(struct spsc *r)
{
	free(r->buf);
	r->buf = NULL;
}

/* Bytes a record of len bytes takes in the ring, header included. */
static inline uint64_t spsc_record_bytes(size_t len)
{
	return SPSC_HDR_BYTES + spsc_round(len);
}

/*
 * Producer: the record of a_len bytes of a followed by b_len bytes of b (b
 * may be NULL when b_len is 0), copied in and published at once. Never
 * blocks. Returns true, or false when the ring has no room for it now (or
 * it is larger than the largest record): nothing is written then.
 */
static inline bool spsc_push2(struct spsc *r, const void *a, size_t a_len, const void *b,
			      size_t b_len)
{
	uint64_t need = spsc_record_bytes(a_len + b_len);
	uint64_t head = r->head;
	uint64_t off = head & r->mask;
	uint64_t to_end = r->size - off;
	uint64_t total = need <= to_end ? need : to_end + need;
	char *p;

	if (need > r->size / 2)
		return false;
	if (head + total - r->tail_cache > r->size) {
		r->tail_cache = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
		if (head + total - r->tail_cache > r->size)
			return false;
	}
	if (need > to_end) {
		/* Pad to the end: the consumer skips it and starts at 0. */
		*(uint32_t *)(r->buf + off) = SPSC_PAD;
		off = 0;
	}
	p = r->buf + off;
	*(uint32_t *)p = (uint32_t)(a_len + b_len);
	memcpy(p + SPSC_HDR_BYTES, a, a_len);
	if (b_len)
		memcpy(p + SPSC_HDR_BYTES + a_len, b, b_len);
	__atomic_store_n(&r->head, head + total, __ATOMIC_RELEASE);
	return true;
}

/* Producer: spsc_push2 of one part. */
static inline bool spsc_push(struct spsc *r, const void *data, size_t len)
{
	return spsc_push2(r, data, len, NULL, 0);
}

/*
 * Consumer: the oldest record, without removing it: returns a pointer to
 * its bytes (8-byte aligned) and sets *len, or returns NULL when the ring is
 * empty. The bytes stay valid until spsc_pop.
 */
static inline const void *spsc_peek(struct spsc *r, size_t *len)
{
	uint64_t tail = r->tail;
	uint64_t skip = 0;
	const char *p;
	uint32_t n;

	if (tail == r->head_cache) {
		r->head_cache = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
		if (tail == r->head_cache)
			return NULL;
	}
	p = r->buf + (tail & r->mask);
	n = *(const uint32_t *)p;
	if (n == SPSC_PAD) {
		/* A record is never published before its pad: it is at 0. */
		skip = r->size - (tail & r->mask);
		p = r->buf;
		n = *(const uint32_t *)p;
	}
	r->pop_len = skip + spsc_record_bytes(n);
	*len = n;
	return (const void *)(p + SPSC_HDR_BYTES);
}

/* Consumer: removes the record spsc_peek returned, giving its room back. */
static inline void spsc_pop(struct spsc *r)
{
	__atomic_store_n(&r->tail, r->tail + r->pop_len, __ATOMIC_RELEASE);
	r->pop_len = 0;
}

/* Either thread: bytes in use now (a snapshot; exact only when both sides are idle). */
static inline uint64_t spsc_used(const struct spsc *r)
{
	return __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) -
	       __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
}

#endif
