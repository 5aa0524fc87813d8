/* SPDX-License-Identifier: MIT */
/*
 * Live latency counters: what another thread may read while a shard runs.
 *
 * The exact histograms (hist.h) belong to their shard until the run ends.
 * For a view of the run while it goes on (the dashboard, the time series,
 * the Prometheus endpoint), each shard also counts TTFT, ITL and E2E in
 * coarse log buckets: 32 per power of two (each at most 3.1% wide) from
 * 1.024 us to 2^42 ns (73 min), plus one bucket below and one above. The
 * shard is the only writer and stores with relaxed atomics (as CTR_ADD
 * does): no locked instruction on the data plane, no torn reads. A reader
 * sums the shards' buckets and diffs two such sums for a window.
 */
#ifndef BROOD_ENGINE_LIVE_H
#define BROOD_ENGINE_LIVE_H

#include <stdint.h>

#define LIVE_SUB_BITS	5  /* 32 buckets per power of two */
#define LIVE_LOW_SHIFT	10 /* 1024 ns: the first bucketed octave */
#define LIVE_HIGH_SHIFT 42 /* 2^42 ns (~73 min): values above land in the last bucket */
#define LIVE_NR_BUCKETS (2 + ((LIVE_HIGH_SHIFT - LIVE_LOW_SHIFT) << LIVE_SUB_BITS))

enum live_kind {
	LIVE_TTFT,
	LIVE_ITL,
	LIVE_E2E,
	LIVE_NR_HISTS,
};

struct live_hist {
	uint64_t counts[LIVE_NR_BUCKETS]; /* [0]: below 1024 ns; last: 2^42 ns and above */
	uint64_t sum_ns;		  /* sum of the values counted */
};

/* Bucket of a value in ns; O(1) (a count of leading zeros and a shift). */
static inline unsigned live_bucket_of(uint64_t ns)
{
	unsigned k;

	if (ns < (1ull << LIVE_LOW_SHIFT))
		return 0;
	k = 63u - (unsigned)__builtin_clzll(ns);
	if (k >= LIVE_HIGH_SHIFT)
		return LIVE_NR_BUCKETS - 1;
	return 1 + ((k - LIVE_LOW_SHIFT) << LIVE_SUB_BITS) +
	       (unsigned)((ns >> (k - LIVE_SUB_BITS)) & ((1u << LIVE_SUB_BITS) - 1));
}

/* Single writer (the shard): relaxed stores, so readers never see a torn value. */
static inline void live_record(struct live_hist *h, uint64_t ns)
{
	unsigned b = live_bucket_of(ns);

	__atomic_store_n(&h->counts[b], h->counts[b] + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&h->sum_ns, h->sum_ns + ns, __ATOMIC_RELAXED);
}

/* Smallest value of bucket b, in ns (0 for bucket 0). */
uint64_t live_bucket_lower_ns(unsigned b);
/* First value above bucket b, in ns (UINT64_MAX for the last bucket). */
uint64_t live_bucket_upper_ns(unsigned b);

/* dst += src, reading src with relaxed loads (another thread may be writing it). */
void live_hist_add(struct live_hist *dst, const struct live_hist *src);
/* dst = a - b (b an earlier sum of the same shards). */
void live_hist_diff(struct live_hist *dst, const struct live_hist *a, const struct live_hist *b);
uint64_t live_hist_count(const struct live_hist *h);
/*
 * Value at percentile p (0..100]: the middle of the bucket holding it (so
 * within 1.6% of the true value), or the lower edge for the first and last
 * buckets; 0 when empty.
 */
uint64_t live_hist_percentile(const struct live_hist *h, double p);

#endif
