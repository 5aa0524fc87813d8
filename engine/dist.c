/* SPDX-License-Identifier: MIT */
/*
 * PRNG and distributions: see dist.h. xoshiro256** and splitmix64 are
 * Blackman and Vigna's public-domain algorithms, written out here.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "dist.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void dist_rng_seed(struct dist_rng *r, uint64_t seed, uint64_t stream)
{
	/* Mix the stream in through its own splitmix step, so that seed 1
	 * stream 0 and seed 0 stream 1 do not share a state. */
	uint64_t x = stream;
	uint64_t k = seed ^ splitmix64(&x);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&k);
}

uint64_t dist_u64(struct dist_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double dist_uniform(struct dist_rng *r)
{
	/* 53 random bits, shifted by half a step: never 0, never 1. */
	return ((double)(dist_u64(r) >> 11) + 0.5) * 0x1.0p-53;
}

double dist_exponential(struct dist_rng *r)
{
	return -log(dist_uniform(r));
}

double dist_normal(struct dist_rng *r)
{
	double u1 = dist_uniform(r), u2 = dist_uniform(r);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double dist_gamma(struct dist_rng *r, double shape)
{
	double d, c;

	if (shape < 1.0) {
		/* Gamma(a) = Gamma(a + 1) * U^(1/a). */
		double u = dist_uniform(r);

		return dist_gamma(r, shape + 1.0) * pow(u, 1.0 / shape);
	}
	d = shape - 1.0 / 3.0;
	c = 1.0 / sqrt(9.0 * d);
	for (;;) {
		double x, v, u;

		do {
			x = dist_normal(r);
			v = 1.0 + c * x;
		} while (v <= 0);
		v = v * v * v;
		u = dist_uniform(r);
		if (u < 1.0 - 0.0331 * x * x * x * x)
			return d * v;
		if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
			return d * v;
	}
}

double dist_arrival_gap(struct dist_rng *r, enum dist_arrival kind, double burstiness)
{
	switch (kind) {
	case DIST_ARRIVAL_POISSON:
		return dist_exponential(r);
	case DIST_ARRIVAL_GAMMA:
		return dist_gamma(r, burstiness) / burstiness;
	case DIST_ARRIVAL_CONSTANT:
	default:
		return 1.0;
	}
}

static const char *const arrival_names[] = { "constant", "poisson", "gamma" };
static const char *const tokens_names[] = { "constant", "uniform", "normal", "exponential" };

int dist_arrival_parse(const char *s, enum dist_arrival *kind)
{
	for (unsigned i = 0; i < sizeof(arrival_names) / sizeof(arrival_names[0]); i++) {
		if (!strcmp(s, arrival_names[i])) {
			*kind = (enum dist_arrival)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *dist_arrival_name(enum dist_arrival kind)
{
	return (unsigned)kind < 3 ? arrival_names[kind] : "unknown";
}

int dist_tokens_parse(const char *s, enum dist_tokens_kind *kind)
{
	for (unsigned i = 0; i < sizeof(tokens_names) / sizeof(tokens_names[0]); i++) {
		if (!strcmp(s, tokens_names[i])) {
			*kind = (enum dist_tokens_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *dist_tokens_name(enum dist_tokens_kind kind)
{
	return (unsigned)kind < 4 ? tokens_names[kind] : "unknown";
}

static uint32_t clamp_u32(double v, uint32_t lo, uint32_t hi)
{
	if (!(v >= lo)) /* NaN too */
		return lo;
	if (v >= hi)
		return hi;
	return (uint32_t)v;
}

uint32_t dist_tokens_sample(const struct dist_tokens *d, struct dist_rng *r)
{
	uint32_t v = d->mean;
	double x = 0;

	switch (d->kind) {
	case DIST_TOKENS_CONSTANT:
		break;
	case DIST_TOKENS_UNIFORM:
		v = d->lo + (uint32_t)(dist_uniform(r) * ((double)d->hi - d->lo + 1));
		if (v > d->hi)
			v = d->hi;
		break;
	case DIST_TOKENS_NORMAL:
	case DIST_TOKENS_EXPONENTIAL:
		for (int i = 0; i < 64; i++) {
			if (d->kind == DIST_TOKENS_NORMAL)
				x = d->mean + d->stddev * dist_normal(r);
			else
				x = d->mean * dist_exponential(r);
			x = floor(x + 0.5);
			if (x >= d->lo && x <= d->hi)
				break;
		}
		v = clamp_u32(x, d->lo, d->hi);
		break;
	}
	if (d->cap && v > d->cap)
		v = d->cap;
	return v ? v : 1;
}

uint32_t dist_tokens_max(const struct dist_tokens *d)
{
	uint32_t v = d->kind == DIST_TOKENS_CONSTANT ? d->mean : d->hi;

	return d->cap && v > d->cap ? d->cap : v;
}
