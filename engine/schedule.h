/* SPDX-License-Identifier: MIT */
/*
 * Load over time, as pure functions a shard calls from its timers:
 *
 *  - a profile: stages of a level (users in a closed loop, requests per
 *    second in an open loop), each held or ramped linearly for a duration;
 *    after the last stage its final level holds;
 *  - the open-loop schedule: intended send times from unit-mean gaps
 *    (dist_arrival_gap) mapped through the profile's cumulative rate, so a
 *    changing rate keeps the arrival process's shape;
 *  - the queue of due requests that found no free connection: a bounded
 *    ring of intended times, allocated once.
 *
 * Times are nanoseconds from the run's start (t0). Nothing here reads a
 * clock, allocates after init or touches another thread's state.
 */
#ifndef BROOD_ENGINE_SCHEDULE_H
#define BROOD_ENGINE_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "dist.h"

#define SCHED_FOREVER UINT64_MAX

/* One stage: the level goes linearly from `from` to `to` over duration_ns
 * (from == to: held). */
struct sched_stage {
	uint64_t duration_ns; /* > 0; SCHED_FOREVER only for the last */
	double from;	      /* level at the stage's start, >= 0 */
	double to;	      /* level at its end, >= 0 */
};

struct sched_profile {
	const struct sched_stage *stages; /* caller owns; lives for the run */
	unsigned nr;			  /* >= 1 */
};

/* The level at t (ns from t0): the stage holding t, else the last level. */
double sched_level_at(const struct sched_profile *p, uint64_t t_ns);

/* The highest level the profile reaches. */
double sched_level_max(const struct sched_profile *p);

/* The profile's total duration; SCHED_FOREVER when a stage is endless. */
uint64_t sched_duration(const struct sched_profile *p);

/*
 * The earliest t >= from_ns at which the level is at least level (closed
 * loop: user u runs while the level is >= u + 1). SCHED_FOREVER when never.
 */
uint64_t sched_reach(const struct sched_profile *p, uint64_t from_ns, double level);

/*
 * One shard's open-loop arrivals: the shard takes 1/nr_shards of the
 * profile's rate with its own random stream. Constant arrivals are
 * interleaved across shards (shard i is offset by i/nr_shards of a gap) so
 * that together they are evenly spaced.
 */
struct sched_arrivals {
	const struct sched_profile *p;
	struct dist_rng rng;
	enum dist_arrival kind;
	double burstiness;
	double scale;	  /* 1 / nr_shards: this shard's share of the rate */
	double target;	  /* cumulative arrivals (in gaps) of the next arrival */
	double lam_start; /* cumulative arrivals at the start of stage k */
	uint64_t t_stage; /* start of stage k, ns */
	unsigned k;	  /* current stage */
	uint64_t next_ns; /* intended time of the next arrival; SCHED_FOREVER: none */
};

void sched_arrivals_init(struct sched_arrivals *a, const struct sched_profile *p,
			 enum dist_arrival kind, double burstiness, uint64_t seed, unsigned shard,
			 unsigned nr_shards);

/* Moves to the arrival after next_ns; returns the new next_ns. */
uint64_t sched_arrivals_advance(struct sched_arrivals *a);

/* Due requests waiting for a connection: intended times, oldest first. */
struct sched_queue {
	uint64_t *t_ns; /* cap entries */
	uint32_t cap;
	uint32_t head;
	uint32_t len;
};

/* Returns 0 or -ENOMEM; cap 0 makes a queue that drops everything. */
int sched_queue_init(struct sched_queue *q, uint32_t cap);
void sched_queue_close(struct sched_queue *q);
/* Returns false (nothing stored) when the queue is full. */
bool sched_queue_push(struct sched_queue *q, uint64_t t_ns);
/* Returns false when empty. */
bool sched_queue_pop(struct sched_queue *q, uint64_t *t_ns);

#endif
