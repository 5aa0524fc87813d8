/* SPDX-License-Identifier: MIT */
/*
 * The load model's command-line specs, parsed once at start-up: --slo,
 * --max-tokens-range, sweep level lists (--concurrency 1,2,4 or
 * --qps 1:64:x2), and load profiles (--shape step|ramp, --stages FILE as
 * CSV or JSON). Each parser returns 0 or -EINVAL with one line in err that
 * names the flag and the fix.
 */
#ifndef BROOD_TOOLS_LOAD_H
#define BROOD_TOOLS_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#define LOAD_MAX_STAGES 1024 /* stages of a profile, ramps included */
#define LOAD_MAX_LEVELS 64   /* levels of a sweep */

/* "ttft=500ms,itl=50ms,itl_max=200ms,tpot=40ms,e2e=20s,attainment=0.9":
 * any non-empty subset of bounds; attainment (0..1, default 0.9) is the
 * share a sweep level must reach to count as meeting the SLO. */
int load_parse_slo(const char *s, struct engine_slo *slo, double *attainment, char *err,
		   size_t err_len);

/* "LO:HI" with 1 <= LO <= HI <= max. */
int load_parse_range(const char *flag, const char *s, uint32_t max, uint32_t *lo, uint32_t *hi,
		     char *err, size_t err_len);

/*
 * Sweep levels: "1,2,4,8" (ascending), "A:B:xF" (A, A*F, ... up to B,
 * F > 1) or "A:B:+S" (A, A+S, ... up to B). whole: levels must be whole
 * numbers (concurrency). Returns 0 with 1..LOAD_MAX_LEVELS levels.
 */
int load_parse_levels(const char *flag, const char *s, bool whole, double *levels, unsigned *nr,
		      char *err, size_t err_len);

/*
 * --shape step: step_size more every step_ns up to target, which then
 * holds; --shape ramp: linear from 0 to target over ramp_ns, then holds.
 * Fills stages (LOAD_MAX_STAGES room) and *nr.
 */
int load_shape_step(double target, double step_size, uint64_t step_ns, struct sched_stage *stages,
		    unsigned *nr, char *err, size_t err_len);
int load_shape_ramp(double target, uint64_t ramp_ns, struct sched_stage *stages, unsigned *nr,
		    char *err, size_t err_len);

/*
 * A stages file: CSV with a header "duration,users" or "duration,qps"
 * (an optional third column "ramp" of 0/1 ramps from the previous level),
 * or JSON: [{"duration": "30s", "users": 10}, ...] (or "qps"; "ramp": true).
 * Durations as --run-time takes them. *qps tells which level the file
 * holds. Returns 0 with *nr >= 1.
 */
int load_read_stages(const char *path, struct sched_stage *stages, unsigned *nr, bool *qps,
		     char *err, size_t err_len);

/* The same from text in memory (what load_read_stages reads). */
int load_parse_stages(const char *name, const char *text, size_t len, struct sched_stage *stages,
		      unsigned *nr, bool *qps, char *err, size_t err_len);

#endif
