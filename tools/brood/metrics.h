/* SPDX-License-Identifier: MIT */
/*
 * --metrics-port: a Prometheus text-format (0.0.4) endpoint served by brood
 * itself, so Grafana can chart a run live. One thread of its own with a
 * blocking accept loop; it never touches a shard. The main thread publishes
 * a copy of the engine's live figures once a second (and the final figures
 * at the end) under a mutex; a scrape formats the latest copy, so it is at
 * most about one second old and never slows the shards.
 */
#ifndef BROOD_TOOLS_METRICS_H
#define BROOD_TOOLS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "sbuf.h"

struct metrics;

/*
 * Binds addr:port (port 0 picks a free one; *bound_port says which) and
 * starts the serving thread. Returns 0, or -errno with one line in err.
 */
int metrics_start(struct metrics **out, const char *addr, int port, unsigned users,
		  const char *model, int *bound_port, char *err, size_t err_len);
/* Main thread: replaces the published figures (p->final marks the end). */
void metrics_publish(struct metrics *m, const struct engine_progress *p);
/* Stops the thread, closes the socket, frees m. m may be NULL. */
void metrics_stop(struct metrics *m);

/* Snapshot state as published; exposed for tests of the text format. */
struct metrics_state {
	uint64_t elapsed_ns;
	struct engine_counters c;
	struct live_hist h[LIVE_NR_HISTS];
	unsigned users;	 /* users of the run */
	char model[256]; /* for brood_info; "" when unknown */
	bool running;	 /* false once the load has stopped */
};

/* Appends the exposition text for st to b. */
void metrics_format(struct sbuf *b, const struct metrics_state *st);

#endif
