/* SPDX-License-Identifier: MIT */
/*
 * dist and schedule with fixed seeds: the arrival processes' mean rate and
 * inter-arrival distribution (coefficient of variation; Kolmogorov-Smirnov
 * distance against the exact CDF where it has a closed form), max_tokens
 * distributions, load profiles (levels, first times a level is reached),
 * open-loop intended times under changing rates and shards, the due queue,
 * and reproducibility. The seeds are fixed, so these are deterministic;
 * the bounds are still wide enough for any good generator (KS at the 1%
 * level), and narrow enough to catch a wrong rate, shape or offset.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dist.h"
#include "schedule.h"

#define N	 40000
#define KS_LIMIT (1.63 / sqrt(N)) /* Kolmogorov-Smirnov critical value, alpha 0.01 */
#define NS_PER_S 1000000000ull

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct moments {
	double mean, cv;
};

static struct moments moments(const double *v, size_t n)
{
	double sum = 0, sq = 0;
	struct moments m;

	for (size_t i = 0; i < n; i++)
		sum += v[i];
	m.mean = sum / (double)n;
	for (size_t i = 0; i < n; i++)
		sq += (v[i] - m.mean) * (v[i] - m.mean);
	m.cv = sqrt(sq / (double)(n - 1)) / m.mean;
	return m;
}

/* Largest distance between the sample's CDF and cdf (v is sorted here). */
static double ks(double *v, size_t n, double (*cdf)(double))
{
	double d = 0;

	qsort(v, n, sizeof(*v), cmp_double);
	for (size_t i = 0; i < n; i++) {
		double f = cdf(v[i]);
		double lo = fabs(f - (double)i / (double)n),
		       hi = fabs((double)(i + 1) / (double)n - f);

		d = fmax(d, fmax(lo, hi));
	}
	return d;
}

static double exp_cdf(double x)
{
	return 1 - exp(-x);
}

/* Gamma with shape 2, scale 1/2 (mean 1): the gaps of burstiness 2. */
static double gamma2_cdf(double x)
{
	return 1 - exp(-2 * x) * (1 + 2 * x);
}

static double uniform01_cdf(double x)
{
	return x;
}

static void gaps(enum dist_arrival kind, double burstiness, uint64_t seed, double *v)
{
	struct dist_rng r;

	dist_rng_seed(&r, seed, 0);
	for (size_t i = 0; i < N; i++)
		v[i] = dist_arrival_gap(&r, kind, burstiness);
}

static void test_uniform(void **state)
{
	double *v = malloc(N * sizeof(*v));
	struct dist_rng r;

	(void)state;
	dist_rng_seed(&r, 42, 7);
	for (size_t i = 0; i < N; i++) {
		v[i] = dist_uniform(&r);
		assert_true(v[i] > 0 && v[i] < 1);
	}
	assert_true(ks(v, N, uniform01_cdf) < KS_LIMIT);
	free(v);
}

static void test_constant_gaps(void **state)
{
	double *v = malloc(N * sizeof(*v));

	(void)state;
	gaps(DIST_ARRIVAL_CONSTANT, 1, 1, v);
	for (size_t i = 0; i < N; i++)
		assert_true(v[i] == 1.0);
	free(v);
}

static void test_poisson_gaps(void **state)
{
	double *v = malloc(N * sizeof(*v));
	struct moments m;

	(void)state;
	gaps(DIST_ARRIVAL_POISSON, 1, 2, v);
	m = moments(v, N);
	assert_true(fabs(m.mean - 1) < 0.03);
	assert_true(fabs(m.cv - 1) < 0.05);
	assert_true(ks(v, N, exp_cdf) < KS_LIMIT);
	/* Not some other shape with the same mean: gamma 2 is far away. */
	assert_true(ks(v, N, gamma2_cdf) > 5 * KS_LIMIT);
	free(v);
}

static void test_gamma_gaps(void **state)
{
	static const double shapes[] = { 0.25, 0.5, 1, 2, 4 };
	double *v = malloc(N * sizeof(*v));

	(void)state;
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		struct moments m;

		gaps(DIST_ARRIVAL_GAMMA, shapes[i], 3 + i, v);
		m = moments(v, N);
		/* Mean 1 whatever the burstiness; CV 1/sqrt(shape). */
		assert_true(fabs(m.mean - 1) < 0.05);
		assert_true(fabs(m.cv - 1 / sqrt(shapes[i])) < 0.08 / sqrt(shapes[i]));
		if (shapes[i] == 2)
			assert_true(ks(v, N, gamma2_cdf) < KS_LIMIT);
		if (shapes[i] == 1)
			assert_true(ks(v, N, exp_cdf) < KS_LIMIT);
	}
	free(v);
}

static void test_seeds(void **state)
{
	struct dist_rng a, b, c;
	int same = 0;

	(void)state;
	dist_rng_seed(&a, 9, 0);
	dist_rng_seed(&b, 9, 0);
	dist_rng_seed(&c, 9, 1);
	for (int i = 0; i < 1000; i++) {
		uint64_t x = dist_u64(&a);

		assert_true(x == dist_u64(&b));
		same += x == dist_u64(&c);
	}
	assert_int_equal(same, 0);
	dist_rng_seed(&a, 0, 1);
	dist_rng_seed(&b, 1, 0);
	assert_true(dist_u64(&a) != dist_u64(&b));
}

static void draw(const struct dist_tokens *d, uint64_t seed, double *v, uint32_t *min,
		 uint32_t *max)
{
	struct dist_rng r;

	dist_rng_seed(&r, seed, 0);
	*min = UINT32_MAX;
	*max = 0;
	for (size_t i = 0; i < N; i++) {
		uint32_t x = dist_tokens_sample(d, &r);

		*min = x < *min ? x : *min;
		*max = x > *max ? x : *max;
		v[i] = x;
	}
}

static void test_tokens(void **state)
{
	double *v = malloc(N * sizeof(*v));
	unsigned hist[16] = { 0 };
	struct dist_tokens d;
	struct moments m;
	uint32_t lo, hi;

	(void)state;
	d = (struct dist_tokens){ .kind = DIST_TOKENS_CONSTANT, .mean = 128, .lo = 128, .hi = 128 };
	draw(&d, 1, v, &lo, &hi);
	assert_int_equal(lo, 128);
	assert_int_equal(hi, 128);
	assert_int_equal(dist_tokens_max(&d), 128);

	/* Uniform over [4, 12]: every value, each about 1/9 of the time. */
	d = (struct dist_tokens){ .kind = DIST_TOKENS_UNIFORM, .mean = 8, .lo = 4, .hi = 12 };
	draw(&d, 2, v, &lo, &hi);
	assert_int_equal(lo, 4);
	assert_int_equal(hi, 12);
	for (size_t i = 0; i < N; i++)
		hist[(unsigned)v[i]]++;
	for (unsigned k = 4; k <= 12; k++)
		assert_true(fabs(hist[k] / (double)N - 1 / 9.0) < 0.01);
	m = moments(v, N);
	assert_true(fabs(m.mean - 8) < 0.1);

	/* Normal 100 +- 25 inside [1, 1000]: mean and spread kept. */
	d = (struct dist_tokens){
		.kind = DIST_TOKENS_NORMAL, .mean = 100, .lo = 1, .hi = 1000, .stddev = 25
	};
	draw(&d, 3, v, &lo, &hi);
	m = moments(v, N);
	assert_true(fabs(m.mean - 100) < 1);
	assert_true(fabs(m.cv * m.mean - 25) < 1);
	assert_true(lo >= 1 && hi <= 1000);

	/* Truncated to [90, 110]: redrawn inside, not piled on the bounds. */
	d.lo = 90;
	d.hi = 110;
	draw(&d, 4, v, &lo, &hi);
	memset(hist, 0, sizeof(hist));
	assert_true(lo >= 90 && hi <= 110);
	for (size_t i = 0; i < N; i++)
		if (v[i] == 90 || v[i] == 110)
			hist[0]++;
	assert_true(hist[0] < N / 10);

	/* Exponential with mean 100: CV 1 (rounding to integers costs a bit). */
	d = (struct dist_tokens){
		.kind = DIST_TOKENS_EXPONENTIAL, .mean = 100, .lo = 1, .hi = 1000000
	};
	draw(&d, 5, v, &lo, &hi);
	m = moments(v, N);
	assert_true(fabs(m.mean - 100) < 3);
	assert_true(fabs(m.cv - 1) < 0.05);

	/* The cap clamps last. */
	d.cap = 50;
	draw(&d, 6, v, &lo, &hi);
	assert_int_equal(hi, 50);
	assert_int_equal(dist_tokens_max(&d), 50);
	free(v);
}

static void test_parse_names(void **state)
{
	enum dist_arrival a;
	enum dist_tokens_kind k;

	(void)state;
	assert_int_equal(dist_arrival_parse("gamma", &a), 0);
	assert_int_equal(a, DIST_ARRIVAL_GAMMA);
	assert_string_equal(dist_arrival_name(a), "gamma");
	assert_int_equal(dist_arrival_parse("Poisson", &a), -EINVAL);
	assert_int_equal(dist_tokens_parse("exponential", &k), 0);
	assert_string_equal(dist_tokens_name(k), "exponential");
	assert_int_equal(dist_tokens_parse("zipf", &k), -EINVAL);
}

static const struct sched_stage step3[] = {
	{ 10 * NS_PER_S, 10, 10 },
	{ 10 * NS_PER_S, 20, 20 },
	{ 10 * NS_PER_S, 30, 30 },
};

static void test_profile(void **state)
{
	struct sched_profile p = { step3, 3 };
	struct sched_stage ramp[] = { { 10 * NS_PER_S, 0, 100 } };
	struct sched_profile r = { ramp, 1 };
	struct sched_stage down[] = { { NS_PER_S, 5, 5 }, { NS_PER_S, 0, 0 } };
	struct sched_profile d = { down, 2 };

	(void)state;
	assert_true(sched_level_at(&p, 0) == 10);
	assert_true(sched_level_at(&p, 15 * NS_PER_S) == 20);
	assert_true(sched_level_at(&p, 99 * NS_PER_S) == 30); /* the last level holds */
	assert_true(sched_level_max(&p) == 30);
	assert_true(sched_duration(&p) == 30 * NS_PER_S);
	/* User u runs once the level reaches u + 1. */
	assert_true(sched_reach(&p, 0, 10) == 0);
	assert_true(sched_reach(&p, 0, 11) == 10 * NS_PER_S);
	assert_true(sched_reach(&p, 12 * NS_PER_S, 25) == 20 * NS_PER_S);
	assert_true(sched_reach(&p, 0, 31) == SCHED_FOREVER);
	/* On a ramp: level 50 at 5 s, 100 at its end. */
	assert_true(fabs(sched_level_at(&r, 5 * NS_PER_S) - 50) < 1e-9);
	assert_true(llabs((long long)sched_reach(&r, 0, 50) - 5 * (long long)NS_PER_S) <= 1);
	assert_true(llabs((long long)sched_reach(&r, 0, 100) - 10 * (long long)NS_PER_S) <= 1);
	/* Going down: no room after 1 s, ever again. */
	assert_true(sched_reach(&d, 0, 5) == 0);
	assert_true(sched_reach(&d, NS_PER_S, 1) == SCHED_FOREVER);
}

/* Counts arrivals of all shards in [from_s, to_s). */
static unsigned count_arrivals(const struct sched_profile *p, enum dist_arrival kind, double b,
			       unsigned nr_shards, double from_s, double to_s)
{
	unsigned n = 0;

	for (unsigned s = 0; s < nr_shards; s++) {
		struct sched_arrivals a;

		sched_arrivals_init(&a, p, kind, b, 77, s, nr_shards);
		while (a.next_ns < (uint64_t)(to_s * NS_PER_S)) {
			n += a.next_ns >= (uint64_t)(from_s * NS_PER_S);
			sched_arrivals_advance(&a);
		}
	}
	return n;
}

static void test_arrival_rates(void **state)
{
	struct sched_stage flat[] = { { SCHED_FOREVER, 100, 100 } };
	struct sched_profile f = { flat, 1 };
	struct sched_profile p = { step3, 3 };
	struct sched_stage ramp[] = { { 20 * NS_PER_S, 0, 100 } };
	struct sched_profile r = { ramp, 1 };
	struct sched_stage gap[] = { { NS_PER_S, 50, 50 },
				     { NS_PER_S, 0, 0 },
				     { NS_PER_S, 50, 50 } };
	struct sched_profile g = { gap, 3 };
	unsigned n;

	(void)state;
	/* 100/s for 100 s, on 1 and on 3 shards: 10,000 within a few percent. */
	for (unsigned shards = 1; shards <= 3; shards += 2) {
		n = count_arrivals(&f, DIST_ARRIVAL_POISSON, 1, shards, 0, 100);
		assert_true(abs((int)n - 10000) < 300);
		n = count_arrivals(&f, DIST_ARRIVAL_GAMMA, 0.5, shards, 0, 100);
		assert_true(abs((int)n - 10000) < 500);
		n = count_arrivals(&f, DIST_ARRIVAL_CONSTANT, 1, shards, 0, 100);
		assert_true(abs((int)n - 10000) <= 1);
	}
	/* Steps of 10, 20, 30/s for 10 s each, then 30/s on. */
	assert_true(count_arrivals(&p, DIST_ARRIVAL_CONSTANT, 1, 2, 0, 10) == 100);
	assert_true(count_arrivals(&p, DIST_ARRIVAL_CONSTANT, 1, 2, 10, 20) == 200);
	assert_true(count_arrivals(&p, DIST_ARRIVAL_CONSTANT, 1, 2, 30, 40) == 300);
	n = count_arrivals(&p, DIST_ARRIVAL_POISSON, 1, 2, 10, 20);
	assert_true(abs((int)n - 200) < 50);
	/* A ramp 0 -> 100/s over 20 s: 1000 in all, a quarter in the first half. */
	n = count_arrivals(&r, DIST_ARRIVAL_CONSTANT, 1, 1, 0, 20);
	assert_true(abs((int)n - 1000) <= 1);
	n = count_arrivals(&r, DIST_ARRIVAL_CONSTANT, 1, 1, 0, 10);
	assert_true(abs((int)n - 250) <= 1);
	/* Nothing while the rate is 0. */
	assert_true(count_arrivals(&g, DIST_ARRIVAL_POISSON, 1, 2, 1.001, 1.999) == 0);
	n = count_arrivals(&g, DIST_ARRIVAL_CONSTANT, 1, 2, 2, 3);
	assert_true(abs((int)n - 50) <= 1);
}

static void test_constant_shards_interleave(void **state)
{
	struct sched_stage flat[] = { { SCHED_FOREVER, 1000, 1000 } };
	struct sched_profile f = { flat, 1 };
	uint64_t t[3000];
	unsigned n = 0;

	(void)state;
	/* Three shards at 1000/s together: one request every millisecond. */
	for (unsigned s = 0; s < 3; s++) {
		struct sched_arrivals a;

		sched_arrivals_init(&a, &f, DIST_ARRIVAL_CONSTANT, 1, 5, s, 3);
		for (int i = 0; i < 1000; i++) {
			t[n++] = a.next_ns;
			sched_arrivals_advance(&a);
		}
	}
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (t[j] < t[i]) {
				uint64_t x = t[i];
				t[i] = t[j];
				t[j] = x;
			}
	for (unsigned i = 0; i < n; i++)
		assert_true(llabs((long long)t[i] - (long long)i * 1000000) <= 2);
}

static void test_poisson_schedule_is_exponential(void **state)
{
	struct sched_stage flat[] = { { SCHED_FOREVER, 50, 50 } };
	struct sched_profile f = { flat, 1 };
	double *v = malloc(N * sizeof(*v));
	struct sched_arrivals a;
	uint64_t prev;

	(void)state;
	/* Gaps of the intended times, in units of the mean gap (20 ms). */
	sched_arrivals_init(&a, &f, DIST_ARRIVAL_POISSON, 1, 11, 0, 1);
	prev = a.next_ns;
	for (size_t i = 0; i < N; i++) {
		uint64_t t = sched_arrivals_advance(&a);

		v[i] = (double)(t - prev) / 20e6;
		prev = t;
	}
	assert_true(fabs(moments(v, N).mean - 1) < 0.03);
	assert_true(ks(v, N, exp_cdf) < KS_LIMIT);
	free(v);
}

static void test_queue(void **state)
{
	struct sched_queue q;
	uint64_t t;

	(void)state;
	assert_int_equal(sched_queue_init(&q, 3), 0);
	assert_false(sched_queue_pop(&q, &t));
	for (uint64_t round = 0; round < 3; round++) {
		assert_true(sched_queue_push(&q, 10 * round + 1));
		assert_true(sched_queue_push(&q, 10 * round + 2));
		assert_true(sched_queue_push(&q, 10 * round + 3));
		assert_false(sched_queue_push(&q, 99)); /* full: dropped */
		for (uint64_t k = 1; k <= 3; k++) {
			assert_true(sched_queue_pop(&q, &t));
			assert_true(t == 10 * round + k); /* oldest first */
		}
	}
	sched_queue_close(&q);
	assert_int_equal(sched_queue_init(&q, 0), 0);
	assert_false(sched_queue_push(&q, 1));
	sched_queue_close(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_constant_gaps),
		cmocka_unit_test(test_poisson_gaps),
		cmocka_unit_test(test_gamma_gaps),
		cmocka_unit_test(test_seeds),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_parse_names),
		cmocka_unit_test(test_profile),
		cmocka_unit_test(test_arrival_rates),
		cmocka_unit_test(test_constant_shards_interleave),
		cmocka_unit_test(test_poisson_schedule_is_exponential),
		cmocka_unit_test(test_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
