/* SPDX-License-Identifier: MIT */
/*
 * hist: HdrHistogram-style precision, exact min/max/mean, merge, reset,
 * clamping, argument checks and the hist_for_each round trip.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hist.h"

#define NR_VALUES 200000
#define HOUR_NS	  (3600ULL * 1000 * 1000 * 1000)

static const double percentiles[] = { 0.001, 0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100 };

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Log-uniform in [lo, hi]. */
static uint64_t log_uniform(uint64_t *state, double lo, double hi)
{
	double u = (double)(splitmix64(state) >> 11) / (double)(1ULL << 53);

	return (uint64_t)exp(log(lo) + u * (log(hi) - log(lo)));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The exact value at HdrHistogram's rank for percentile p. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double p)
{
	uint64_t want = (uint64_t)(p / 100.0 * (double)n + 0.5);

	if (want < 1)
		want = 1;
	if (want > n)
		want = n;
	return sorted[want - 1];
}

static void test_init_bad_args(void **state)
{
	struct hist h;

	(void)state;
	assert_int_equal(hist_init(&h, 0, 1000, 3), -EINVAL);
	assert_int_equal(hist_init(&h, 1, 1000, 0), -EINVAL);
	assert_int_equal(hist_init(&h, 1, 1000, 6), -EINVAL);
	assert_int_equal(hist_init(&h, 1000, 1999, 3), -EINVAL);
	assert_int_equal(hist_init(&h, 1, UINT64_MAX, 3), -EINVAL);
	assert_int_equal(hist_init(&h, 1ULL << 60, (1ULL << 62) - 1, 5), -EINVAL);
	assert_int_equal(hist_init(&h, 1000, 2000, 3), 0);
	hist_close(&h);
	assert_int_equal(hist_init(&h, 1, (uint64_t)INT64_MAX / 2, 5), 0);
	hist_close(&h);
}

static void test_latency_shape(void **state)
{
	struct hist h;

	(void)state;
	assert_int_equal(hist_init_latency(&h), 0);
	assert_int_equal(h.lowest, 1);
	assert_int_equal(h.highest, HOUR_NS);
	assert_int_equal(h.sig_digits, 3);
	assert_int_equal(h.sub_bucket_count, 2048);
	assert_int_equal(h.nr_counts, 33 * 1024);
	assert_int_equal(hist_count(&h), 0);
	assert_int_equal(h.min, UINT64_MAX);
	assert_int_equal(h.max, 0);
	assert_int_equal(hist_percentile(&h, 50), 0);
	assert_true(hist_mean(&h) == 0);
	hist_close(&h);
	hist_close(&h); /* twice is harmless */
}

static void test_relative_error_log_uniform(void **state)
{
	uint64_t *vals = malloc(NR_VALUES * sizeof(*vals));
	uint64_t seed = 42;
	struct hist h;

	(void)state;
	assert_non_null(vals);
	assert_int_equal(hist_init_latency(&h), 0);
	for (size_t i = 0; i < NR_VALUES; i++) {
		vals[i] = log_uniform(&seed, 1000, (double)HOUR_NS);
		hist_record(&h, vals[i]);
	}
	qsort(vals, NR_VALUES, sizeof(*vals), cmp_u64);
	for (size_t i = 0; i < sizeof(percentiles) / sizeof(percentiles[0]); i++) {
		uint64_t exact = exact_percentile(vals, NR_VALUES, percentiles[i]);
		uint64_t got = hist_percentile(&h, percentiles[i]);

		assert_true(got >= exact);
		assert_true((double)(got - exact) <= 0.001 * (double)exact);
	}
	/* Every rank, not only the usual percentiles. */
	for (size_t k = 1; k <= NR_VALUES; k += 997) {
		double p = 100.0 * (double)k / NR_VALUES;
		uint64_t exact = exact_percentile(vals, NR_VALUES, p);
		uint64_t got = hist_percentile(&h, p);

		assert_true(got >= exact && (double)(got - exact) <= 0.001 * (double)exact);
	}
	assert_int_equal(h.min, vals[0]);
	assert_int_equal(h.max, vals[NR_VALUES - 1]);
	assert_int_equal(h.clamped, 0);
	hist_close(&h);
	free(vals);
}

/* One value at a time, each power-of-two boundary and its neighbours. */
static void test_each_value_within_precision(void **state)
{
	struct hist h;

	(void)state;
	assert_int_equal(hist_init_latency(&h), 0);
	for (uint64_t v = 1; v < 2048; v++) {
		hist_reset(&h);
		hist_record(&h, v);
		assert_int_equal(hist_percentile(&h, 50), v); /* exact below 2048 ns */
	}
	for (int shift = 10; shift < 42; shift++) {
		for (int d = -3; d <= 3; d++) {
			uint64_t v = (1ULL << shift) + (uint64_t)(int64_t)d;
			uint64_t got;

			hist_reset(&h);
			hist_record(&h, v);
			got = hist_percentile(&h, 99);
			assert_true(got >= v && (double)(got - v) <= 0.001 * (double)v);
			assert_true(hist_percentile(&h, 0) <= v);
		}
	}
	hist_close(&h);
}

static void test_min_max_mean_exact(void **state)
{
	static const uint64_t vals[] = { 1234567, 1000, 987654321, 55555, 3000000000ULL };
	double sum = 0;
	struct hist h;

	(void)state;
	assert_int_equal(hist_init_latency(&h), 0);
	for (size_t i = 0; i < 5; i++) {
		hist_record(&h, vals[i]);
		sum += (double)vals[i];
	}
	assert_int_equal(h.min, 1000);
	assert_int_equal(h.max, 3000000000ULL);
	assert_int_equal(hist_count(&h), 5);
	assert_true(hist_mean(&h) == sum / 5);
	hist_record_n(&h, 7, 3);
	hist_record_n(&h, 1, 0); /* n = 0 records nothing */
	assert_int_equal(h.min, 7);
	assert_int_equal(hist_count(&h), 8);
	assert_true(hist_mean(&h) == (sum + 21) / 8);
	hist_close(&h);
}

static void test_merge_equals_single(void **state)
{
	struct hist a, b, all;
	uint64_t seed = 7;

	(void)state;
	assert_int_equal(hist_init_latency(&a), 0);
	assert_int_equal(hist_init_latency(&b), 0);
	assert_int_equal(hist_init_latency(&all), 0);
	for (int i = 0; i < 50000; i++) {
		uint64_t v = log_uniform(&seed, 1000, 1e11);

		hist_record(i % 3 ? &a : &b, v);
		hist_record(&all, v);
	}
	hist_record(&b, 2 * HOUR_NS);
	hist_record(&all, 2 * HOUR_NS);
	assert_int_equal(hist_merge(&a, &b), 0);
	assert_int_equal(hist_count(&a), hist_count(&all));
	assert_int_equal(a.min, all.min);
	assert_int_equal(a.max, all.max);
	assert_int_equal(a.clamped, 1);
	assert_memory_equal(a.counts, all.counts, a.nr_counts * sizeof(*a.counts));
	for (size_t i = 0; i < sizeof(percentiles) / sizeof(percentiles[0]); i++)
		assert_int_equal(hist_percentile(&a, percentiles[i]),
				 hist_percentile(&all, percentiles[i]));
	assert_true(fabs(hist_mean(&a) - hist_mean(&all)) <= 1e-9 * hist_mean(&all));
	/* Merging an empty histogram changes nothing. */
	hist_reset(&b);
	assert_int_equal(hist_merge(&a, &b), 0);
	assert_int_equal(a.min, all.min);
	assert_int_equal(a.max, all.max);
	hist_close(&a);
	hist_close(&b);
	hist_close(&all);
}

static void test_merge_shape_mismatch(void **state)
{
	struct hist a, b;

	(void)state;
	assert_int_equal(hist_init_latency(&a), 0);
	assert_int_equal(hist_init(&b, 1000, HOUR_NS, 3), 0);
	hist_record(&b, 5000);
	assert_int_equal(hist_merge(&a, &b), -EINVAL);
	assert_int_equal(hist_count(&a), 0);
	hist_close(&a);
	hist_close(&b);
}

static void test_reset(void **state)
{
	struct hist h;

	(void)state;
	assert_int_equal(hist_init_latency(&h), 0);
	for (uint64_t v = 1000; v < 1000000000; v *= 3)
		hist_record(&h, v);
	hist_record(&h, HOUR_NS + 1);
	hist_reset(&h);
	assert_int_equal(hist_count(&h), 0);
	assert_int_equal(h.min, UINT64_MAX);
	assert_int_equal(h.max, 0);
	assert_int_equal(h.clamped, 0);
	assert_true(hist_mean(&h) == 0);
	assert_int_equal(hist_percentile(&h, 99), 0);
	for (size_t i = 0; i < h.nr_counts; i++)
		assert_int_equal(h.counts[i], 0);
	hist_record(&h, 1500);
	assert_int_equal(hist_percentile(&h, 100), 1500);
	assert_int_equal(h.min, 1500);
	hist_close(&h);
}

static void test_clamp(void **state)
{
	struct hist h;
	uint64_t top;

	(void)state;
	assert_int_equal(hist_init_latency(&h), 0);
	hist_record(&h, HOUR_NS);
	assert_int_equal(h.clamped, 0);
	hist_record(&h, HOUR_NS + 1);
	hist_record(&h, UINT64_MAX);
	hist_record_n(&h, 10 * HOUR_NS, 4);
	assert_int_equal(h.clamped, 6);
	assert_int_equal(hist_count(&h), 7);
	assert_int_equal(h.max, HOUR_NS);
	top = hist_percentile(&h, 100);
	assert_true(top >= HOUR_NS && (double)(top - HOUR_NS) <= 0.001 * (double)HOUR_NS);
	assert_true(hist_mean(&h) == (double)HOUR_NS);
	hist_close(&h);
}

static void test_below_lowest(void **state)
{
	struct hist h;

	(void)state;
	/* unit = 512: values 0..511 share the first slot. */
	assert_int_equal(hist_init(&h, 1000, HOUR_NS, 3), 0);
	assert_int_equal(h.unit_magnitude, 9);
	hist_record(&h, 0);
	hist_record(&h, 5);
	hist_record(&h, 511);
	assert_int_equal(h.counts[0], 3);
	assert_int_equal(hist_percentile(&h, 100), 511);
	assert_int_equal(hist_percentile(&h, 0), 0);
	assert_int_equal(h.min, 0);
	hist_close(&h);
	assert_int_equal(hist_init_latency(&h), 0);
	hist_record(&h, 0);
	assert_int_equal(h.counts[0], 1);
	hist_close(&h);
}

struct rebuild {
	struct hist *h;
	uint64_t prev_value; /* visit order check */
	uint64_t visits;
};

static int rebuild_cb(uint64_t value, uint64_t count, void *arg)
{
	struct rebuild *r = arg;

	if (r->visits && value <= r->prev_value)
		return -1;
	r->prev_value = value;
	r->visits++;
	hist_record_n(r->h, value, count);
	return 0;
}

static int stop_cb(uint64_t value, uint64_t count, void *arg)
{
	(void)value;
	(void)count;
	return ++*(int *)arg == 3 ? 42 : 0;
}

static void test_for_each_roundtrip(void **state)
{
	struct hist h, copy;
	struct rebuild r = { &copy, 0, 0 };
	uint64_t seed = 99;
	int calls = 0;

	(void)state;
	assert_int_equal(hist_init_latency(&h), 0);
	assert_int_equal(hist_init_latency(&copy), 0);
	for (int i = 0; i < 20000; i++)
		hist_record(&h, log_uniform(&seed, 1, (double)HOUR_NS));
	assert_int_equal(hist_for_each(&h, rebuild_cb, &r), 0);
	assert_int_equal(hist_count(&copy), hist_count(&h));
	assert_memory_equal(copy.counts, h.counts, h.nr_counts * sizeof(*h.counts));
	for (size_t i = 0; i < sizeof(percentiles) / sizeof(percentiles[0]); i++)
		assert_int_equal(hist_percentile(&copy, percentiles[i]),
				 hist_percentile(&h, percentiles[i]));
	assert_int_equal(hist_for_each(&h, stop_cb, &calls), 42);
	assert_int_equal(calls, 3);
	hist_close(&h);
	hist_close(&copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_bad_args),
		cmocka_unit_test(test_latency_shape),
		cmocka_unit_test(test_relative_error_log_uniform),
		cmocka_unit_test(test_each_value_within_precision),
		cmocka_unit_test(test_min_max_mean_exact),
		cmocka_unit_test(test_merge_equals_single),
		cmocka_unit_test(test_merge_shape_mismatch),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_clamp),
		cmocka_unit_test(test_below_lowest),
		cmocka_unit_test(test_for_each_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
