/* SPDX-License-Identifier: MIT */
/*
 * `brood sweep`: one run per level (closed-loop concurrency or open-loop
 * QPS), in order, until the load saturates the server. The verdict is pure
 * (sweep_evaluate), so it is tested without a server; sweep_main drives
 * the engine.
 *
 * Saturation is the first level where any of these holds:
 *  - failures: more than 1% of its requests failed or, in an open loop,
 *    were dropped;
 *  - ttft: its p95 TTFT is more than twice the lowest level's (p95 E2E
 *    when not streaming);
 *  - throughput: its throughput grew by less than a quarter of the growth
 *    in offered load over the previous level (doubling the load gained
 *    less than 25%).
 * The level before it is the last good one. With --slo, a level meets the
 * SLO when its attainment reaches the target (attainment=, default 0.9).
 */
#ifndef BROOD_TOOLS_SWEEP_H
#define BROOD_TOOLS_SWEEP_H

#include <stdbool.h>

#include "opts.h"
#include "report.h"

#define SWEEP_FAIL_SHARE   0.01 /* failures above this share saturate */
#define SWEEP_TTFT_RATIO   2.0	/* p95 TTFT above this times the lowest level's */
#define SWEEP_GROWTH_SHARE 0.25 /* throughput must gain this share of the load's growth */

struct sweep_level {
	double level; /* users or QPS */
	struct report_summary sum;
};

struct sweep_verdict {
	int saturated;	    /* index of the first saturated level; -1 when none */
	const char *reason; /* "failures", "ttft" or "throughput"; NULL when none */
	int last_good;	    /* index of the level before it (or the last one); -1 when none */
	int slo_best;	    /* index of the highest level meeting the SLO; -1 when none */
};

/* The verdict over lv[0..n). Pure. */
void sweep_evaluate(const struct sweep_level *lv, unsigned n, const struct brood_opts *o,
		    struct sweep_verdict *v);

/* The sweep's JSON (levels, environment, saturation, slo, config); *out is
 * malloc'd. Returns 0 or -ENOMEM. */
int sweep_json_build(const struct sweep_level *lv, unsigned n, const struct sweep_verdict *v,
		     const struct brood_opts *o, char **out, size_t *out_len);

/* The `brood sweep` command (sweep_cmd.c). Returns the exit status. */
int sweep_main(int argc, char **argv);

#endif
