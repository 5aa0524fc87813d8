/* SPDX-License-Identifier: MIT */
/*
 * Log-linear histogram with HdrHistogram_c's layout. Values are split into
 * buckets by powers of two; each bucket holds sub_bucket_half_count linear
 * sub-buckets (bucket 0 holds sub_bucket_count of them, the top half of every
 * later bucket overlapping the one before). The bucket comes from the
 * leading-zero count of the value, the sub-bucket from a shift, so a record
 * is a few integer operations and one store.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

/* 1 ns discernible so that 3 digits hold from 1 us up (see hist.h). */
#define HIST_LATENCY_LOWEST_NS	1ULL
#define HIST_LATENCY_HIGHEST_NS (3600ULL * 1000 * 1000 * 1000)
#define HIST_LATENCY_SIG_DIGITS 3

static int bucket_index(const struct hist *h, uint64_t value)
{
	/* The mask keeps the argument non-zero and small values in bucket 0. */
	int pow2ceiling = 64 - __builtin_clzll(value | h->sub_bucket_mask);

	return pow2ceiling - h->unit_magnitude - (h->sub_bucket_half_count_magnitude + 1);
}

static int sub_bucket_index(const struct hist *h, uint64_t value, int bucket)
{
	return (int)(value >> (bucket + h->unit_magnitude));
}

static size_t counts_index(const struct hist *h, int bucket, int sub_bucket)
{
	size_t base = (size_t)(bucket + 1) << h->sub_bucket_half_count_magnitude;

	return base + (size_t)sub_bucket - h->sub_bucket_half_count;
}

static size_t counts_index_for(const struct hist *h, uint64_t value)
{
	int bucket = bucket_index(h, value);

	return counts_index(h, bucket, sub_bucket_index(h, value, bucket));
}

static uint64_t value_from_index(const struct hist *h, int bucket, int sub_bucket)
{
	return (uint64_t)sub_bucket << (bucket + h->unit_magnitude);
}

/* The lowest value that lands in counts[index]. */
static uint64_t value_at_index(const struct hist *h, size_t index)
{
	int bucket = (int)(index >> h->sub_bucket_half_count_magnitude) - 1;
	int sub_bucket = (int)(index & (h->sub_bucket_half_count - 1)) + h->sub_bucket_half_count;

	if (bucket < 0) {
		sub_bucket -= h->sub_bucket_half_count;
		bucket = 0;
	}
	return value_from_index(h, bucket, sub_bucket);
}

static uint64_t equivalent_range(const struct hist *h, uint64_t value)
{
	int bucket = bucket_index(h, value);
	int sub_bucket = sub_bucket_index(h, value, bucket);
	int adjusted = sub_bucket >= (int)h->sub_bucket_count ? bucket + 1 : bucket;

	return 1ULL << (h->unit_magnitude + adjusted);
}

static uint64_t lowest_equivalent(const struct hist *h, uint64_t value)
{
	int bucket = bucket_index(h, value);

	return value_from_index(h, bucket, sub_bucket_index(h, value, bucket));
}

static uint64_t highest_equivalent(const struct hist *h, uint64_t value)
{
	return lowest_equivalent(h, value) + equivalent_range(h, value) - 1;
}

static uint32_t buckets_needed(const struct hist *h, uint64_t value)
{
	uint64_t smallest_untrackable = (uint64_t)h->sub_bucket_count << h->unit_magnitude;
	uint32_t n = 1;

	while (smallest_untrackable <= value) {
		if (smallest_untrackable > INT64_MAX / 2)
			return n + 1;
		smallest_untrackable <<= 1;
		n++;
	}
	return n;
}

int hist_init(struct hist *h, uint64_t lowest, uint64_t highest, int sig_digits)
{
	uint64_t single_unit_max = 2;
	int count_magnitude = 0;

	if (lowest < 1 || sig_digits < 1 || sig_digits > 5 || highest / 2 < lowest ||
	    highest > INT64_MAX / 2)
		return -EINVAL;

	memset(h, 0, sizeof(*h));
	for (int i = 0; i < sig_digits; i++)
		single_unit_max *= 10;
	while ((1ULL << count_magnitude) < single_unit_max)
		count_magnitude++;

	h->lowest = lowest;
	h->highest = highest;
	h->sig_digits = sig_digits;
	h->sub_bucket_half_count_magnitude = (count_magnitude > 1 ? count_magnitude : 1) - 1;
	h->unit_magnitude = 63 - __builtin_clzll(lowest);
	if (h->unit_magnitude + h->sub_bucket_half_count_magnitude > 61)
		return -EINVAL;
	h->sub_bucket_count = 1U << (h->sub_bucket_half_count_magnitude + 1);
	h->sub_bucket_half_count = h->sub_bucket_count / 2;
	h->sub_bucket_mask = ((uint64_t)h->sub_bucket_count - 1) << h->unit_magnitude;
	h->bucket_count = buckets_needed(h, highest);
	h->nr_counts = (size_t)(h->bucket_count + 1) * h->sub_bucket_half_count;

	h->counts = calloc(h->nr_counts, sizeof(*h->counts));
	if (!h->counts)
		return -ENOMEM;
	h->min = UINT64_MAX;
	return 0;
}

int hist_init_latency(struct hist *h)
{
	return hist_init(h, HIST_LATENCY_LOWEST_NS, HIST_LATENCY_HIGHEST_NS,
			 HIST_LATENCY_SIG_DIGITS);
}

void hist_close(struct hist *h)
{
	free(h->counts);
	h->counts = NULL;
	h->nr_counts = 0;
}

void hist_reset(struct hist *h)
{
	memset(h->counts, 0, h->nr_counts * sizeof(*h->counts));
	h->total = 0;
	h->min = UINT64_MAX;
	h->max = 0;
	h->sum = 0;
	h->clamped = 0;
}

/* Branch-free apart from the clamp, which compilers turn into a cmov. */
static inline void record(struct hist *h, uint64_t value, uint64_t n)
{
	uint64_t over = value > h->highest;
	uint64_t v = over ? h->highest : value;

	h->counts[counts_index_for(h, v)] += n;
	h->total += n;
	h->clamped += over * n;
	h->min = v < h->min ? v : h->min;
	h->max = v > h->max ? v : h->max;
	/* v <= highest <= INT64_MAX / 2: the signed convert needs no branch. */
	h->sum += (double)(int64_t)v * (double)n;
}

void hist_record(struct hist *h, uint64_t value)
{
	record(h, value, 1);
}

void hist_record_n(struct hist *h, uint64_t value, uint64_t n)
{
	if (n == 0)
		return; /* would move min/max without a value */
	record(h, value, n);
}

static bool same_shape(const struct hist *a, const struct hist *b)
{
	return a->lowest == b->lowest && a->highest == b->highest &&
	       a->sig_digits == b->sig_digits && a->nr_counts == b->nr_counts;
}

int hist_merge(struct hist *dst, const struct hist *src)
{
	if (!same_shape(dst, src))
		return -EINVAL;
	for (size_t i = 0; i < src->nr_counts; i++)
		dst->counts[i] += src->counts[i];
	dst->total += src->total;
	dst->clamped += src->clamped;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	return 0;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
	uint64_t want, seen = 0;

	if (h->total == 0)
		return 0;
	if (!(p > 0))
		p = 0; /* also NaN */
	if (p > 100)
		p = 100;
	/* HdrHistogram's rank: round to nearest, at least the first value. */
	want = (uint64_t)(p / 100.0 * (double)h->total + 0.5);
	if (want < 1)
		want = 1;
	if (want > h->total)
		want = h->total;

	for (size_t i = 0; i < h->nr_counts; i++) {
		seen += h->counts[i];
		if (seen >= want) {
			uint64_t v = value_at_index(h, i);

			return p == 0 ? lowest_equivalent(h, v) : highest_equivalent(h, v);
		}
	}
	return 0;
}

double hist_mean(const struct hist *h)
{
	return h->total ? h->sum / (double)h->total : 0;
}

uint64_t hist_count(const struct hist *h)
{
	return h->total;
}

int hist_for_each(const struct hist *h, hist_visit_fn cb, void *arg)
{
	for (size_t i = 0; i < h->nr_counts; i++) {
		int ret;

		if (!h->counts[i])
			continue;
		ret = cb(value_at_index(h, i), h->counts[i], arg);
		if (ret)
			return ret;
	}
	return 0;
}

int hist_for_each_slot(const struct hist *h, hist_slot_fn cb, void *arg)
{
	for (size_t i = 0; i < h->nr_counts; i++) {
		int ret;

		if (!h->counts[i])
			continue;
		ret = cb(i, h->counts[i], arg);
		if (ret)
			return ret;
	}
	return 0;
}

int hist_add_slot(struct hist *h, size_t index, uint64_t count)
{
	if (index >= h->nr_counts)
		return -ERANGE;
	h->counts[index] += count;
	h->total += count;
	return 0;
}
