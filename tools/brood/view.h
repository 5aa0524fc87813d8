/* SPDX-License-Identifier: MIT */
/*
 * What brood shows while a run goes on: on a terminal, a compact dashboard
 * redrawn every second (progress bar for timed runs, users, RPS, tokens/s,
 * TTFT/ITL p50/p99 over the last second, errors); otherwise one plain line
 * every VIEW_PLAIN_EVERY_S seconds. Main thread only (the engine's
 * progress callback).
 */
#ifndef BROOD_TOOLS_VIEW_H
#define BROOD_TOOLS_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"

#define VIEW_PLAIN_EVERY_S 10

struct view {
	FILE *out;
	bool tty;	      /* dashboard; else plain lines */
	unsigned users;	      /* users of the run */
	uint64_t run_time_ns; /* 0 = no time limit */
	uint64_t max_requests;
	unsigned lines; /* dashboard lines on screen now */
	uint64_t next_plain_s;
};

void view_init(struct view *v, FILE *out, bool tty, unsigned users, uint64_t run_time_ns,
	       uint64_t max_requests);
/* Draws one update; a final update (p->final) only clears the dashboard. */
void view_update(struct view *v, const struct engine_progress *p);
/* Removes the dashboard from the terminal (before the summary prints). */
void view_clear(struct view *v);

#endif
