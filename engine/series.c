/* SPDX-License-Identifier: MIT */
/*
 * The run's time series, built by the thread that runs engine_run (never a
 * shard): it sums the shards' counters and live buckets once a second and
 * turns the difference of two sums into a point. Bounded: ENGINE_SERIES_MAX
 * points, merged pairwise when full.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

static void counters_sum(struct engine_counters *dst, const struct engine_counters *src)
{
	const uint64_t *a = (const uint64_t *)src;
	uint64_t *d = (uint64_t *)dst;

	for (size_t i = 0; i < sizeof(*src) / sizeof(uint64_t); i++)
		d[i] += __atomic_load_n(&a[i], __ATOMIC_RELAXED);
}

void live_snap_take(struct live_snap *dst, struct shard *shards, unsigned n, uint64_t t_ns)
{
	memset(dst, 0, sizeof(*dst));
	dst->t_ns = t_ns;
	for (unsigned i = 0; i < n; i++) {
		counters_sum(&dst->c, &shards[i].c);
		for (int k = 0; k < LIVE_NR_HISTS; k++)
			live_hist_add(&dst->h[k], &shards[i].lh[k]);
	}
}

static void window_lat(struct live_hist *w, uint64_t *count, uint64_t *p50, uint64_t *p99)
{
	*count = live_hist_count(w);
	*p50 = live_hist_percentile(w, 50);
	*p99 = live_hist_percentile(w, 99);
}

void series_point_of(struct engine_point *pt, const struct live_snap *now,
		     const struct live_snap *prev, struct live_hist *scratch)
{
	const struct engine_counters *a = &now->c, *b = &prev->c;

	memset(pt, 0, sizeof(*pt));
	pt->t_s = (double)now->t_ns / 1e9;
	pt->dt_s = (double)(now->t_ns - prev->t_ns) / 1e9;
	pt->started = a->requests_started - b->requests_started;
	pt->ok = a->requests_ok - b->requests_ok;
	pt->failed = a->requests_failed - b->requests_failed;
	for (int i = 0; i < ENGINE_NR_ERR; i++)
		pt->errors[i] = a->errors[i] - b->errors[i];
	pt->output_tokens = a->output_tokens - b->output_tokens;
	pt->chunks = a->chunks - b->chunks;
	pt->users = a->users_spawned;
	pt->connections = a->connects - a->disconnects;
	live_hist_diff(scratch, &now->h[LIVE_TTFT], &prev->h[LIVE_TTFT]);
	window_lat(scratch, &pt->ttft_count, &pt->ttft_p50_ns, &pt->ttft_p99_ns);
	live_hist_diff(scratch, &now->h[LIVE_ITL], &prev->h[LIVE_ITL]);
	window_lat(scratch, &pt->itl_count, &pt->itl_p50_ns, &pt->itl_p99_ns);
	live_hist_diff(scratch, &now->h[LIVE_E2E], &prev->h[LIVE_E2E]);
	window_lat(scratch, &pt->e2e_count, &pt->e2e_p50_ns, &pt->e2e_p99_ns);
}

int series_init(struct engine_series *s)
{
	s->points = calloc(ENGINE_SERIES_MAX, sizeof(*s->points));
	s->nr = 0;
	s->step_s = 1;
	return s->points ? 0 : -ENOMEM;
}

static uint64_t weighted(uint64_t a, uint64_t na, uint64_t b, uint64_t nb)
{
	return na + nb ? (uint64_t)(((double)a * (double)na + (double)b * (double)nb) /
				    (double)(na + nb))
		       : 0;
}

static void merge_lat(uint64_t *n, uint64_t *p50, uint64_t *p99, uint64_t n2, uint64_t p50_2,
		      uint64_t p99_2)
{
	*p50 = weighted(*p50, *n, p50_2, n2);
	*p99 = *p99 > p99_2 ? *p99 : p99_2;
	*n += n2;
}

/* a absorbs the later point b. */
static void point_merge(struct engine_point *a, const struct engine_point *b)
{
	a->t_s = b->t_s;
	a->dt_s += b->dt_s;
	a->started += b->started;
	a->ok += b->ok;
	a->failed += b->failed;
	for (int i = 0; i < ENGINE_NR_ERR; i++)
		a->errors[i] += b->errors[i];
	a->output_tokens += b->output_tokens;
	a->chunks += b->chunks;
	a->users = b->users;
	a->connections = b->connections;
	merge_lat(&a->ttft_count, &a->ttft_p50_ns, &a->ttft_p99_ns, b->ttft_count, b->ttft_p50_ns,
		  b->ttft_p99_ns);
	merge_lat(&a->itl_count, &a->itl_p50_ns, &a->itl_p99_ns, b->itl_count, b->itl_p50_ns,
		  b->itl_p99_ns);
	merge_lat(&a->e2e_count, &a->e2e_p50_ns, &a->e2e_p99_ns, b->e2e_count, b->e2e_p50_ns,
		  b->e2e_p99_ns);
}

void series_push(struct engine_series *s, const struct engine_point *pt)
{
	if (!s->points)
		return;
	s->points[s->nr++] = *pt;
	/* Full: merge pairs now, so that the next point is already made at
	 * the doubled step and every point spans the same time. */
	if (s->nr == ENGINE_SERIES_MAX) {
		for (unsigned i = 0; i < ENGINE_SERIES_MAX / 2; i++) {
			struct engine_point m = s->points[2 * i];

			point_merge(&m, &s->points[2 * i + 1]);
			s->points[i] = m;
		}
		s->nr = ENGINE_SERIES_MAX / 2;
		s->step_s *= 2;
	}
}
