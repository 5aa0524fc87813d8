/* SPDX-License-Identifier: MIT */
/*
 * Load profiles, open-loop arrival times and the due-request queue: see
 * schedule.h. An arrival process with a rate that changes over time is made
 * by time change: gaps of mean 1 accumulate a target count, and the
 * intended time is where the profile's cumulative rate reaches it.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "schedule.h"

#define NS_PER_S 1e9

static double stage_level(const struct sched_stage *s, uint64_t dt_ns)
{
	if (s->from == s->to || s->duration_ns == SCHED_FOREVER)
		return s->from;
	return s->from + (s->to - s->from) * ((double)dt_ns / (double)s->duration_ns);
}

double sched_level_at(const struct sched_profile *p, uint64_t t_ns)
{
	uint64_t start = 0;

	for (unsigned i = 0; i < p->nr; i++) {
		const struct sched_stage *s = &p->stages[i];

		if (s->duration_ns == SCHED_FOREVER || t_ns - start < s->duration_ns)
			return stage_level(s, t_ns - start);
		start += s->duration_ns;
	}
	return p->stages[p->nr - 1].to;
}

double sched_level_max(const struct sched_profile *p)
{
	double m = 0;

	for (unsigned i = 0; i < p->nr; i++) {
		m = p->stages[i].from > m ? p->stages[i].from : m;
		m = p->stages[i].to > m ? p->stages[i].to : m;
	}
	return m;
}

uint64_t sched_duration(const struct sched_profile *p)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < p->nr; i++) {
		if (p->stages[i].duration_ns == SCHED_FOREVER)
			return SCHED_FOREVER;
		total += p->stages[i].duration_ns;
	}
	return total;
}

uint64_t sched_reach(const struct sched_profile *p, uint64_t from_ns, double level)
{
	uint64_t start = 0;

	level -= 1e-9; /* a ramp's arithmetic may land a hair short */
	for (unsigned i = 0; i < p->nr; i++) {
		const struct sched_stage *s = &p->stages[i];
		bool forever = s->duration_ns == SCHED_FOREVER;
		uint64_t end = forever ? SCHED_FOREVER : start + s->duration_ns;
		uint64_t at = from_ns > start ? from_ns : start;

		if (at < end || forever) {
			double here = stage_level(s, at - start);

			if (here >= level)
				return at;
			if (!forever && s->to > here && s->to >= level) {
				/* On the ramp: solve from + (to - from) * dt / D = level. */
				double dt =
				    (level - s->from) / (s->to - s->from) * (double)s->duration_ns;
				uint64_t t = start + (uint64_t)ceil(dt);

				return t > at ? t : at;
			}
		}
		if (forever)
			return SCHED_FOREVER;
		start = end;
	}
	if (p->stages[p->nr - 1].to >= level)
		return from_ns > start ? from_ns : start;
	return SCHED_FOREVER;
}

/* Arrivals (in gaps) a stage holds, at this shard's share; INFINITY if endless with a rate. */
static double stage_area(const struct sched_arrivals *a, const struct sched_stage *s)
{
	if (s->duration_ns == SCHED_FOREVER)
		return s->from > 0 ? INFINITY : 0;
	return (s->from + s->to) / 2 * a->scale * ((double)s->duration_ns / NS_PER_S);
}

/* The time at which the cumulative arrivals reach a->target. */
static uint64_t time_of_target(struct sched_arrivals *a)
{
	for (;;) {
		const struct sched_stage *s;
		double area, need, r0, r1, tau;

		if (a->k >= a->p->nr) {
			/* Past the last stage: its final level holds. */
			double r = a->p->stages[a->p->nr - 1].to * a->scale;

			if (r <= 0)
				return SCHED_FOREVER;
			tau = (a->target - a->lam_start) / r * NS_PER_S;
			return a->t_stage + (uint64_t)tau;
		}
		s = &a->p->stages[a->k];
		area = stage_area(a, s);
		need = a->target - a->lam_start;
		/* Finite stages without arrivals are skipped whole. */
		if (need > area || (area == 0 && s->duration_ns != SCHED_FOREVER)) {
			if (s->duration_ns == SCHED_FOREVER)
				return SCHED_FOREVER; /* endless stage at rate 0 */
			a->lam_start += area;
			a->t_stage += s->duration_ns;
			a->k++;
			continue;
		}
		r0 = s->from * a->scale;
		r1 = s->duration_ns == SCHED_FOREVER ? r0 : s->to * a->scale;
		if (need <= 0) {
			tau = 0;
		} else if (r0 == r1) {
			tau = r0 > 0 ? need / r0 : 0;
		} else {
			/* need = r0 tau + (r1 - r0) tau^2 / (2 D), in seconds; the
			 * stable root of a tau^2 + r0 tau - need = 0. */
			double d = (double)s->duration_ns / NS_PER_S;
			double qa = (r1 - r0) / (2 * d);
			double disc = r0 * r0 + 4 * qa * need;

			tau = 2 * need / (r0 + sqrt(disc > 0 ? disc : 0));
			if (!isfinite(tau) || tau > d)
				tau = d;
		}
		return a->t_stage + (uint64_t)(tau * NS_PER_S);
	}
}

void sched_arrivals_init(struct sched_arrivals *a, const struct sched_profile *p,
			 enum dist_arrival kind, double burstiness, uint64_t seed, unsigned shard,
			 unsigned nr_shards)
{
	a->p = p;
	a->kind = kind;
	a->burstiness = burstiness > 0 ? burstiness : 1;
	a->scale = 1.0 / (nr_shards ? nr_shards : 1);
	dist_rng_seed(&a->rng, seed, 0x5ced000000000000ull | shard);
	a->lam_start = 0;
	a->t_stage = 0;
	a->k = 0;
	if (kind == DIST_ARRIVAL_CONSTANT)
		a->target = (double)shard / (nr_shards ? nr_shards : 1);
	else
		a->target = dist_arrival_gap(&a->rng, kind, a->burstiness);
	a->next_ns = time_of_target(a);
}

uint64_t sched_arrivals_advance(struct sched_arrivals *a)
{
	if (a->next_ns == SCHED_FOREVER)
		return SCHED_FOREVER;
	a->target += dist_arrival_gap(&a->rng, a->kind, a->burstiness);
	a->next_ns = time_of_target(a);
	return a->next_ns;
}

int sched_queue_init(struct sched_queue *q, uint32_t cap)
{
	q->t_ns = cap ? calloc(cap, sizeof(*q->t_ns)) : NULL;
	q->cap = cap;
	q->head = 0;
	q->len = 0;
	if (cap && !q->t_ns)
		return -ENOMEM;
	return 0;
}

void sched_queue_close(struct sched_queue *q)
{
	free(q->t_ns);
	q->t_ns = NULL;
	q->cap = q->len = 0;
}

bool sched_queue_push(struct sched_queue *q, uint64_t t_ns)
{
	if (q->len == q->cap)
		return false;
	q->t_ns[(q->head + q->len) % q->cap] = t_ns;
	q->len++;
	return true;
}

bool sched_queue_pop(struct sched_queue *q, uint64_t *t_ns)
{
	if (!q->len)
		return false;
	*t_ns = q->t_ns[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return true;
}
