/* SPDX-License-Identifier: MIT */
/*
 * Live latency buckets: edges, sums, differences and percentiles. Readers
 * only; the shard's side is live_record in live.h.
 */
#include <string.h>

#include "live.h"

uint64_t live_bucket_lower_ns(unsigned b)
{
	unsigned k, sub;

	if (b == 0)
		return 0;
	if (b >= LIVE_NR_BUCKETS - 1)
		return 1ull << LIVE_HIGH_SHIFT;
	k = LIVE_LOW_SHIFT + ((b - 1) >> LIVE_SUB_BITS);
	sub = (b - 1) & ((1u << LIVE_SUB_BITS) - 1);
	return (uint64_t)((1u << LIVE_SUB_BITS) + sub) << (k - LIVE_SUB_BITS);
}

uint64_t live_bucket_upper_ns(unsigned b)
{
	if (b >= LIVE_NR_BUCKETS - 1)
		return UINT64_MAX;
	return live_bucket_lower_ns(b + 1);
}

void live_hist_add(struct live_hist *dst, const struct live_hist *src)
{
	for (unsigned i = 0; i < LIVE_NR_BUCKETS; i++)
		dst->counts[i] += __atomic_load_n(&src->counts[i], __ATOMIC_RELAXED);
	dst->sum_ns += __atomic_load_n(&src->sum_ns, __ATOMIC_RELAXED);
}

void live_hist_diff(struct live_hist *dst, const struct live_hist *a, const struct live_hist *b)
{
	for (unsigned i = 0; i < LIVE_NR_BUCKETS; i++)
		dst->counts[i] = a->counts[i] - b->counts[i];
	dst->sum_ns = a->sum_ns - b->sum_ns;
}

uint64_t live_hist_count(const struct live_hist *h)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < LIVE_NR_BUCKETS; i++)
		n += h->counts[i];
	return n;
}

uint64_t live_hist_percentile(const struct live_hist *h, double p)
{
	uint64_t total = live_hist_count(h), want, seen = 0;

	if (!total)
		return 0;
	if (!(p > 0))
		p = 0;
	if (p > 100)
		p = 100;
	want = (uint64_t)(p / 100.0 * (double)total + 0.5);
	if (want < 1)
		want = 1;
	if (want > total)
		want = total;
	for (unsigned i = 0; i < LIVE_NR_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= want)
			return i == 0 || i == LIVE_NR_BUCKETS - 1
				   ? live_bucket_lower_ns(i)
				   : (live_bucket_lower_ns(i) + live_bucket_upper_ns(i)) / 2;
	}
	return 0;
}
