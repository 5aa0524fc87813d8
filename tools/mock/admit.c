/* SPDX-License-Identifier: MIT */
/*
 * Capacity and stalls, for tests of how brood measures an overloaded or
 * stuck server.
 *
 * --max-concurrency N: at most N completion requests are generated at once
 * (an atomic count); the rest wait in a FIFO, with the response head
 * already sent, as a batching server's scheduler queue does, and their plan
 * (TTFT, then the tokens) starts when they are admitted. So TTFT grows with
 * the queue past N. main.c runs one worker with --max-concurrency, so the
 * queue is first come, first served: with several, a slot freed in one
 * worker would go to its own queue at once and to the others' only when
 * they poll (ADMIT_POLL_NS), which starves some connections.
 *
 * --pause-at-ms A --pause-ms D: A ms after the first completion request
 * arrives, every worker stops for D ms: no reads, no writes, no timers, as
 * a server stuck in a long GC or a driver reset. The kernel still accepts
 * connections and queues their bytes. The window is printed on stderr.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mock.h"

#define ADMIT_POLL_NS 1000000ull /* a queued worker looks for a free slot this often */
#define NONE	      UINT32_MAX

enum { ADMIT_NONE, ADMIT_QUEUED, ADMIT_RUNNING };

static unsigned active;		  /* admitted requests, all workers; atomic */
static uint64_t first_request_ns; /* atomic; 0 until the first completion request */
static int pause_logged;	  /* atomic */

int admit_init(struct mock_worker *w)
{
	w->adm_next = malloc(w->nr_conns * sizeof(*w->adm_next));
	w->adm_prev = malloc(w->nr_conns * sizeof(*w->adm_prev));
	w->adm_head = w->adm_tail = NONE;
	w->adm_len = 0;
	return w->adm_next && w->adm_prev ? 0 : -1;
}

void admit_close(struct mock_worker *w)
{
	free(w->adm_next);
	free(w->adm_prev);
	w->adm_next = w->adm_prev = NULL;
}

static bool take_slot(const struct mock_config *cfg)
{
	unsigned cur = __atomic_load_n(&active, __ATOMIC_RELAXED);

	if (!cfg->max_concurrency) {
		__atomic_add_fetch(&active, 1, __ATOMIC_RELAXED);
		return true;
	}
	while (cur < cfg->max_concurrency)
		if (__atomic_compare_exchange_n(&active, &cur, cur + 1, false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return true;
	return false;
}

static void start(struct mock_worker *w, struct mock_conn *c, uint64_t now_ns)
{
	struct mock_resp *r = &c->resp;

	r->admit = ADMIT_RUNNING;
	r->t0_ns = now_ns;
	worker_timer_set(w, c, now_ns + r->admit_delay_ns);
}

static uint32_t idx_of(const struct mock_worker *w, const struct mock_conn *c)
{
	return (uint32_t)(c - w->conns);
}

static void unlink_conn(struct mock_worker *w, uint32_t i)
{
	uint32_t p = w->adm_prev[i], n = w->adm_next[i];

	if (p == NONE)
		w->adm_head = n;
	else
		w->adm_next[p] = n;
	if (n == NONE)
		w->adm_tail = p;
	else
		w->adm_prev[n] = p;
	w->adm_len--;
}

void admit_request(struct mock_worker *w, struct mock_conn *c, uint64_t delay_ns)
{
	const struct mock_config *cfg = w->cfg;
	uint64_t now_ns = mock_now_ns();
	uint64_t zero = 0;
	uint32_t i = idx_of(w, c);

	if (cfg->pause_ns)
		__atomic_compare_exchange_n(&first_request_ns, &zero, now_ns, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	c->resp.admit_delay_ns = delay_ns;
	if (!w->adm_len && take_slot(cfg)) {
		start(w, c, c->resp.t0_ns);
		return;
	}
	c->resp.admit = ADMIT_QUEUED;
	w->adm_next[i] = NONE;
	w->adm_prev[i] = w->adm_tail;
	if (w->adm_tail == NONE)
		w->adm_head = i;
	else
		w->adm_next[w->adm_tail] = i;
	w->adm_tail = i;
	w->adm_len++;
}

void admit_pump(struct mock_worker *w)
{
	while (w->adm_len && take_slot(w->cfg)) {
		uint32_t i = w->adm_head;

		unlink_conn(w, i);
		start(w, &w->conns[i], mock_now_ns());
	}
}

void admit_release(struct mock_worker *w, struct mock_conn *c)
{
	if (c->resp.admit == ADMIT_QUEUED)
		unlink_conn(w, idx_of(w, c));
	else if (c->resp.admit == ADMIT_RUNNING)
		__atomic_sub_fetch(&active, 1, __ATOMIC_RELAXED);
	c->resp.admit = ADMIT_NONE;
	admit_pump(w);
}

/* The pause window, once the first request set it; false before. */
static bool pause_window(const struct mock_config *cfg, uint64_t *start_ns, uint64_t *end_ns)
{
	uint64_t first = __atomic_load_n(&first_request_ns, __ATOMIC_RELAXED);

	if (!cfg->pause_ns || !first)
		return false;
	*start_ns = first + cfg->pause_at_ns;
	*end_ns = *start_ns + cfg->pause_ns;
	return true;
}

uint64_t admit_wait_cap(const struct mock_worker *w, uint64_t wait_ns)
{
	uint64_t now_ns = mock_now_ns(), start_ns, end_ns;

	if (w->adm_len && wait_ns > ADMIT_POLL_NS)
		wait_ns = ADMIT_POLL_NS;
	if (pause_window(w->cfg, &start_ns, &end_ns) && now_ns < start_ns &&
	    start_ns - now_ns < wait_ns)
		wait_ns = start_ns - now_ns;
	return wait_ns;
}

void admit_pause_check(struct mock_worker *w)
{
	uint64_t now_ns = mock_now_ns(), start_ns, end_ns;

	if (!pause_window(w->cfg, &start_ns, &end_ns) || now_ns < start_ns || now_ns >= end_ns)
		return;
	while ((now_ns = mock_now_ns()) < end_ns) {
		struct timespec ts = { .tv_sec = (time_t)((end_ns - now_ns) / 1000000000ull),
				       .tv_nsec = (long)((end_ns - now_ns) % 1000000000ull) };

		nanosleep(&ts, NULL);
	}
	if (!__atomic_exchange_n(&pause_logged, 1, __ATOMIC_RELAXED))
		fprintf(stderr,
			"brood-mock: stalled every worker from %llu to %llu ns (CLOCK_MONOTONIC)\n",
			(unsigned long long)start_ns, (unsigned long long)end_ns);
}
