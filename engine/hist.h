/* SPDX-License-Identifier: MIT */
/*
 * Log-linear latency histogram in the manner of HdrHistogram: a fixed range
 * (for brood, 1 us .. 1 h, recorded in nanoseconds) at a fixed number of
 * significant decimal digits, O(1) record, lossless merge of histograms of
 * the same shape. The counts array is allocated once by hist_init; record,
 * merge and queries never allocate. One thread records into a histogram;
 * merge copies happen after that thread is done (or from a snapshot).
 */
#ifndef BROOD_ENGINE_HIST_H
#define BROOD_ENGINE_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hist {
	uint64_t lowest;    /* lowest discernible value (ns), >= 1 */
	uint64_t highest;   /* highest trackable value (ns); larger values clamp here */
	int sig_digits;	    /* 1..5 */
	int unit_magnitude; /* private */
	int sub_bucket_half_count_magnitude; /* private */
	uint32_t sub_bucket_count;	     /* private */
	uint32_t sub_bucket_half_count;	     /* private */
	uint64_t sub_bucket_mask;	     /* private */
	uint32_t bucket_count;		     /* private */
	size_t nr_counts;		     /* entries in counts */
	uint64_t *counts;		     /* per-slot counts */
	uint64_t total;			     /* values recorded */
	uint64_t min;			     /* smallest value recorded (UINT64_MAX when empty) */
	uint64_t max;			     /* largest value recorded (0 when empty) */
	double sum;			     /* sum of recorded values, for an exact mean */
	uint64_t clamped;		     /* values above highest, recorded as highest */
};

/* Returns 0, -EINVAL (lowest < 1, highest < 2 * lowest, highest > INT64_MAX / 2,
 * digits outside 1..5) or -ENOMEM. Values below lowest land in the first
 * slots, whose width is 2^floor(log2(lowest)). */
int hist_init(struct hist *h, uint64_t lowest, uint64_t highest, int sig_digits);
/*
 * The brood shape: 1 us .. 1 h in ns, 3 significant digits. The lowest
 * discernible value is 1 ns (not 1 us): HdrHistogram's unit is
 * 2^floor(log2(lowest)), so lowest = 1000 would give 512 ns steps and 50%
 * error at 1 us; with 1 ns the 0.1% bound holds from 1 us (exact below
 * 2048 ns) for 33 Ki slots, 264 KiB.
 */
int hist_init_latency(struct hist *h);
void hist_close(struct hist *h);
void hist_reset(struct hist *h);

void hist_record(struct hist *h, uint64_t value);
void hist_record_n(struct hist *h, uint64_t value, uint64_t n);

/* dst += src. Returns 0, or -EINVAL when the shapes differ. */
int hist_merge(struct hist *dst, const struct hist *src);

/* Value at percentile p (0..100], as HdrHistogram reports it (the highest
 * value equivalent to the slot's); 0 when empty. */
uint64_t hist_percentile(const struct hist *h, double p);
double hist_mean(const struct hist *h); /* 0 when empty */
uint64_t hist_count(const struct hist *h);

/*
 * Walks non-empty slots in increasing value order: cb gets each slot's
 * representative value (its lowest equivalent value) and count. For
 * serialising; returns the first non-zero cb result, else 0.
 */
typedef int (*hist_visit_fn)(uint64_t value, uint64_t count, void *arg);
int hist_for_each(const struct hist *h, hist_visit_fn cb, void *arg);

/*
 * The lossless form: the non-empty slots by index in counts[] (with the
 * shape's lowest, highest and sig_digits, and total, min, max, sum and
 * clamped, this rebuilds an identical histogram). hist_for_each_slot walks
 * them in increasing index order; returns the first non-zero cb result, else 0.
 */
typedef int (*hist_slot_fn)(size_t index, uint64_t count, void *arg);
int hist_for_each_slot(const struct hist *h, hist_slot_fn cb, void *arg);

/* Adds count values to slot index (and to total); min, max, sum and clamped
 * are the caller's to set. Returns 0, or -ERANGE when index is outside the
 * shape. */
int hist_add_slot(struct hist *h, size_t index, uint64_t count);

#endif
