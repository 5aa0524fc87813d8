/* SPDX-License-Identifier: MIT */
/*
 * Seeded randomness for load models: a small PRNG (xoshiro256**, seeded
 * through splitmix64 so that any 64-bit seed and stream number give a good
 * state), the inter-arrival gaps of open-loop schedules and the max_tokens
 * distributions. Pure and allocation-free: a generator is a value that one
 * thread owns; the same seed and stream give the same numbers everywhere.
 */
#ifndef BROOD_ENGINE_DIST_H
#define BROOD_ENGINE_DIST_H

#include <stdint.h>

struct dist_rng {
	uint64_t s[4];
};

/* Seeds r from (seed, stream): streams of one seed are independent. */
void dist_rng_seed(struct dist_rng *r, uint64_t seed, uint64_t stream);
uint64_t dist_u64(struct dist_rng *r);
/* Uniform in the open interval (0, 1): safe under log(). */
double dist_uniform(struct dist_rng *r);
/* Exponential with mean 1. */
double dist_exponential(struct dist_rng *r);
/* Standard normal (Box-Muller; one value per call, nothing cached). */
double dist_normal(struct dist_rng *r);
/* Gamma with this shape (> 0) and scale 1 (Marsaglia-Tsang). */
double dist_gamma(struct dist_rng *r, double shape);

/* How open-loop requests arrive. */
enum dist_arrival {
	DIST_ARRIVAL_CONSTANT, /* evenly spaced */
	DIST_ARRIVAL_POISSON,  /* exponential gaps: coefficient of variation 1 */
	DIST_ARRIVAL_GAMMA,    /* gamma gaps, shape = burstiness: CV 1/sqrt(burstiness) */
};

/*
 * The next inter-arrival gap in units of the mean gap (so its mean is 1).
 * Gamma follows vLLM's benchmark_serving: burstiness is the gamma shape;
 * 1 is Poisson, below 1 burstier, above 1 more even. burstiness is used by
 * DIST_ARRIVAL_GAMMA only and must be > 0 there.
 */
double dist_arrival_gap(struct dist_rng *r, enum dist_arrival kind, double burstiness);

/* Parses "constant", "poisson" or "gamma"; returns 0 or -EINVAL. */
int dist_arrival_parse(const char *s, enum dist_arrival *kind);
const char *dist_arrival_name(enum dist_arrival kind);

enum dist_tokens_kind {
	DIST_TOKENS_CONSTANT,	 /* always mean */
	DIST_TOKENS_UNIFORM,	 /* integers in [lo, hi], each equally likely */
	DIST_TOKENS_NORMAL,	 /* mean, stddev; truncated to [lo, hi] */
	DIST_TOKENS_EXPONENTIAL, /* mean; truncated to [lo, hi] */
};

/*
 * max_tokens per request. Truncation redraws (up to 64 times, then clamps),
 * so the shape inside [lo, hi] is kept rather than piling mass on the
 * bounds; cap then clamps (a server's context limit), which does pile.
 */
struct dist_tokens {
	enum dist_tokens_kind kind;
	uint32_t mean; /* >= 1 */
	uint32_t lo;   /* >= 1 */
	uint32_t hi;   /* >= lo */
	uint32_t cap;  /* 0 = none */
	double stddev; /* DIST_TOKENS_NORMAL */
};

/* One draw, in [1, cap or hi]. */
uint32_t dist_tokens_sample(const struct dist_tokens *d, struct dist_rng *r);
/* The largest value dist_tokens_sample can return. */
uint32_t dist_tokens_max(const struct dist_tokens *d);
/* Parses "constant", "uniform", "normal" or "exponential"; returns 0 or -EINVAL. */
int dist_tokens_parse(const char *s, enum dist_tokens_kind *kind);
const char *dist_tokens_name(enum dist_tokens_kind kind);

#endif
