/* SPDX-License-Identifier: MIT */
/*
 * The live buckets (every value lands in the bucket whose edges hold it,
 * percentiles within 1.6%) and the bounded time series (merging pairs
 * keeps every count).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine_int.h"
#include "live.h"

static void test_edges(void **state)
{
	(void)state;
	assert_int_equal(live_bucket_of(0), 0);
	assert_int_equal(live_bucket_of(1023), 0);
	assert_int_equal(live_bucket_of(1024), 1);
	assert_int_equal(live_bucket_of(UINT64_MAX), LIVE_NR_BUCKETS - 1);
	assert_true(live_bucket_upper_ns(LIVE_NR_BUCKETS - 2) == 1ull << LIVE_HIGH_SHIFT);
	for (unsigned b = 0; b + 1 < LIVE_NR_BUCKETS; b++) {
		uint64_t lo = live_bucket_lower_ns(b), hi = live_bucket_upper_ns(b);

		assert_true(lo < hi);
		assert_int_equal(live_bucket_of(lo), b);
		assert_int_equal(live_bucket_of(hi - 1), b);
		assert_int_equal(live_bucket_of(hi), b + 1);
		/* At most 1/32 wide (3.1%) once bucketed. */
		if (b > 0)
			assert_true((double)(hi - lo) / (double)lo <= 1.0 / 32 + 1e-12);
	}
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_percentiles(void **state)
{
	struct live_hist *h = calloc(1, sizeof(*h));
	uint64_t x = 88172645463325252ull;

	(void)state;
	assert_true(live_hist_percentile(h, 50) == 0);
	/* 100000 values spread log-uniformly over 10 us .. 10 s. */
	uint64_t *v = malloc(100000 * sizeof(*v));

	for (int i = 0; i < 100000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		v[i] = (uint64_t)(1e4 * pow(10, 6.0 * (double)(x >> 11) / 9007199254740992.0));
		live_record(h, v[i]);
	}
	assert_true(live_hist_count(h) == 100000);
	/* Against the exact order statistic. */
	qsort(v, 100000, sizeof(*v), cmp);
	for (double p = 1; p <= 99.9; p += 7.3) {
		uint64_t exact = v[(size_t)(p / 100 * 100000 + 0.5) - 1];
		uint64_t got = live_hist_percentile(h, p);

		assert_true(fabs((double)got - (double)exact) / (double)exact <= 1.0 / 64 + 1e-9);
	}
	{
		struct live_hist *d = calloc(1, sizeof(*d)), *z = calloc(1, sizeof(*z));

		live_hist_add(z, h);
		live_hist_diff(d, z, h);
		assert_true(live_hist_count(d) == 0 && d->sum_ns == 0);
		free(d);
		free(z);
	}
	free(v);
	free(h);
}

static void test_series_bounded(void **state)
{
	struct engine_series s;
	uint64_t total = 0, ok = 0;
	unsigned n = 3 * ENGINE_SERIES_MAX + 17;
	double t = 0;

	(void)state;
	assert_int_equal(series_init(&s), 0);
	for (unsigned i = 0; i < n; i++) {
		struct engine_point p;

		memset(&p, 0, sizeof(p));
		/* As the watch loop does: a point per step. */
		p.dt_s = s.step_s;
		t += s.step_s;
		p.t_s = t;
		p.started = i % 7;
		p.ok = i % 5;
		p.ttft_count = 1;
		p.ttft_p50_ns = 1000;
		p.ttft_p99_ns = 1000 + i;
		total += p.started;
		ok += p.ok;
		series_push(&s, &p);
	}
	assert_true(s.nr <= ENGINE_SERIES_MAX);
	/* 3600 points of 1 s fill it and double the step; then each 1800 more. */
	assert_true(s.step_s == 32);
	{
		uint64_t st = 0, o = 0;
		double dt = 0;

		for (unsigned i = 0; i < s.nr; i++) {
			st += s.points[i].started;
			o += s.points[i].ok;
			dt += s.points[i].dt_s;
			assert_true(s.points[i].ttft_p50_ns == 1000);
			assert_true(s.points[i].dt_s == s.step_s);
			if (i)
				assert_true(s.points[i].t_s > s.points[i - 1].t_s);
		}
		assert_true(st == total && o == ok);
		assert_true(dt == t);
		assert_true(s.points[s.nr - 1].t_s == t);
		assert_true(s.points[s.nr - 1].ttft_p99_ns == 1000 + n - 1);
	}
	free(s.points);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_percentiles),
		cmocka_unit_test(test_series_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
