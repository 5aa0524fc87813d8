/* SPDX-License-Identifier: MIT */
/*
 * The run: sizes and starts the shards, pins them, shows progress, stops
 * them on a deadline or a signal, and merges their counters and histograms.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "engine_int.h"
#include "json.h"

/* Written by a signal handler, read by every shard: a lock-free atomic int,
 * which is async-signal-safe (and what ThreadSanitizer expects). */
static int stop_flag;

/* Leaves this many descriptors of RLIMIT_NOFILE to the rest of the process
 * (rings, trace and output files, the progress terminal). */
#define NOFILE_RESERVE 64

uint64_t engine_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void engine_stop(void)
{
	if (__atomic_load_n(&stop_flag, __ATOMIC_RELAXED) < 2)
		__atomic_add_fetch(&stop_flag, 1, __ATOMIC_RELAXED);
}

bool engine_stop_requested(void)
{
	return __atomic_load_n(&stop_flag, __ATOMIC_RELAXED) != 0;
}

int engine_stop_level(void)
{
	return __atomic_load_n(&stop_flag, __ATOMIC_RELAXED);
}

const char *engine_err_name(enum engine_err e)
{
	static const char *const names[ENGINE_NR_ERR] = {
		[ENGINE_ERR_CONNECT] = "connect",
		[ENGINE_ERR_STATUS] = "http_status",
		[ENGINE_ERR_PROTOCOL] = "protocol",
		[ENGINE_ERR_TIMEOUT] = "timeout",
		[ENGINE_ERR_RESET] = "reset",
		[ENGINE_ERR_SERVER] = "server_error",
		[ENGINE_ERR_TLS] = "tls",
		[ENGINE_ERR_CONNECT_TIMEOUT] = "connect_timeout",
		[ENGINE_ERR_FIRST_BYTE_TIMEOUT] = "first_byte_timeout",
		[ENGINE_ERR_FIRST_TOKEN_TIMEOUT] = "first_token_timeout",
		[ENGINE_ERR_IDLE_TIMEOUT] = "idle_timeout",
	};

	return (unsigned)e < ENGINE_NR_ERR ? names[e] : "unknown";
}

void engine_hists_list(struct engine_hists *h, struct hist *out[ENGINE_NR_HISTS])
{
	out[0] = &h->ttft;
	out[1] = &h->itl;
	out[2] = &h->tpot;
	out[3] = &h->e2e;
	out[4] = &h->ttfb;
	out[5] = &h->connect;
	out[6] = &h->tls_handshake;
	out[7] = &h->queue;
	out[8] = &h->warmup_e2e;
}

static void *shard_thread(void *arg)
{
	struct shard *s = arg;
	char name[16];

	snprintf(name, sizeof(name), "brood-shard%u", s->id);
	pthread_setname_np(pthread_self(), name);
	if (s->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(s->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	/* The ring is made here: SINGLE_ISSUER binds it to this thread. */
	s->setup_err = shard_setup(s);
	pthread_mutex_lock(&s->run->mu);
	s->run->nr_ready++;
	pthread_cond_broadcast(&s->run->cv);
	while (!s->run->go)
		pthread_cond_wait(&s->run->cv, &s->run->mu);
	pthread_mutex_unlock(&s->run->mu);
	if (!s->setup_err && s->run->go > 0)
		shard_main(s);
	s->t_done_ns = engine_now_ns();
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

_Static_assert(sizeof(struct engine_counters) % sizeof(uint64_t) == 0,
	       "engine_counters is summed as an array of uint64_t");

static void counters_add(struct engine_counters *dst, const struct engine_counters *src)
{
	const uint64_t *a = (const uint64_t *)src;
	uint64_t *d = (uint64_t *)dst;

	for (size_t i = 0; i < sizeof(*src) / sizeof(uint64_t); i++)
		d[i] += __atomic_load_n(&a[i], __ATOMIC_RELAXED);
}

static double rusage_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Raises the soft descriptor limit to the hard one; returns the limit. */
static rlim_t raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}

/* MemAvailable from /proc/meminfo in bytes; 0 when unknown. */
static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	unsigned long long kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

/* What the shards allocate at start-up for cfg, in bytes (shard.c's sizes). */
static uint64_t mem_needed(const struct engine_config *cfg, unsigned nr_shards)
{
	uint64_t per_user = sizeof(struct conn) + cfg->max_event_bytes + JSON_PADDING;
	uint64_t users = (cfg->nr_users + nr_shards - 1) / nr_shards, nr_bufs = 1024;
	uint64_t per_shard;

	while (nr_bufs < users && nr_bufs < 32768)
		nr_bufs <<= 1;
	per_shard = nr_bufs * (4096 + JSON_PADDING) + (2u << 20); /* receive buffers, trace */

	if (cfg->trace_path && cfg->trace_chunks)
		per_user += (uint64_t)cfg->trace_events_cap * sizeof(uint64_t);
	return (uint64_t)cfg->nr_users * per_user + nr_shards * per_shard;
}

static int check_config(const struct engine_config *cfg, unsigned nr_shards, char *err,
			size_t err_len)
{
	rlim_t nofile = raise_nofile();
	uint64_t per_shard = (cfg->nr_users + nr_shards - 1) / nr_shards;

	if (!cfg->nr_targets || cfg->nr_targets > ENGINE_MAX_TARGETS) {
		snprintf(err, err_len, "need 1..%d targets", ENGINE_MAX_TARGETS);
		return -EINVAL;
	}
	if (!cfg->nr_users) {
		snprintf(err, err_len, "need at least one user");
		return -EINVAL;
	}
	if (cfg->qps < 0 || (cfg->arrival == DIST_ARRIVAL_GAMMA && !(cfg->burstiness > 0))) {
		snprintf(err, err_len,
			 "the open-loop rate must be >= 0 and gamma's burstiness > 0");
		return -EINVAL;
	}
	if (cfg->stages && !cfg->nr_stages) {
		snprintf(err, err_len, "a load profile needs at least one stage");
		return -EINVAL;
	}
	if (cfg->max_event_bytes < 256) {
		snprintf(err, err_len, "--max-event-bytes must be at least 256");
		return -EINVAL;
	}
	for (unsigned i = 0; i < cfg->nr_sources; i++) {
		for (unsigned t = 0; t < cfg->nr_targets; t++) {
			if (cfg->sources[i].addr.ss_family != cfg->targets[t].addr.ss_family) {
				snprintf(
				    err, err_len,
				    "--source-ips: source address %u is %s but target %u is "
				    "%s: give addresses of the targets' family",
				    i + 1,
				    cfg->sources[i].addr.ss_family == AF_INET ? "IPv4" : "IPv6",
				    t + 1,
				    cfg->targets[t].addr.ss_family == AF_INET ? "IPv4" : "IPv6");
				return -EINVAL;
			}
		}
	}
	uint64_t mem_need = mem_needed(cfg, nr_shards), avail = mem_available();

	if (avail && mem_need > avail) {
		snprintf(
		    err, err_len,
		    "%u users need about %llu MiB here but %llu MiB are available: fewer users "
		    "per process (run several), or a smaller --max-event-bytes",
		    cfg->nr_users, (unsigned long long)(mem_need >> 20),
		    (unsigned long long)(avail >> 20));
		return -ENOMEM;
	}
	/* One ring's registered-file table is limited by RLIMIT_NOFILE. */
	if (per_shard + NOFILE_RESERVE > nofile) {
		unsigned need = (unsigned)((cfg->nr_users + (nofile - NOFILE_RESERVE) - 1) /
					   (nofile - NOFILE_RESERVE));
		snprintf(err, err_len,
			 "%u users on %u shards is %llu connections per shard, over the "
			 "descriptor limit of %llu: use --shards %u or more (or raise ulimit -n)",
			 cfg->nr_users, nr_shards, (unsigned long long)per_shard,
			 (unsigned long long)(nofile - NOFILE_RESERVE), need);
		return -EMFILE;
	}
	return 0;
}

/* The CPUs this process may run on (a cpuset or taskset may allow fewer
 * than are online), in order; returns how many, at least 1. */
static unsigned allowed_cpus(int cpus[CPU_SETSIZE])
{
	cpu_set_t set;
	unsigned n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &set))
				cpus[n++] = i;
	if (!n)
		cpus[n++] = 0;
	return n;
}

static int merge(struct shard *shards, unsigned n, struct engine_result *res)
{
	struct hist *dst[ENGINE_NR_HISTS], *src[ENGINE_NR_HISTS];
	int ret;

	engine_hists_list(&res->h, dst);
	for (int i = 0; i < ENGINE_NR_HISTS; i++) {
		ret = hist_init_latency(dst[i]);
		if (ret < 0)
			return ret;
	}
	for (unsigned i = 0; i < n; i++) {
		engine_hists_list(&shards[i].h, src);
		for (int j = 0; j < ENGINE_NR_HISTS; j++)
			hist_merge(dst[j], src[j]);
		counters_add(&res->c, &shards[i].c);
		res->shard_cpu_seconds += shards[i].cpu_seconds;
		if (!res->first_error[0] && shards[i].first_error[0])
			memcpy(res->first_error, shards[i].first_error, sizeof(res->first_error));
		for (int e = 0; e < ENGINE_NR_ERR; e++)
			for (unsigned k = 0;
			     k < shards[i].nr_samples[e] && res->nr_samples[e] < ENGINE_SAMPLES;
			     k++)
				memcpy(res->samples[e][res->nr_samples[e]++],
				       shards[i].samples[e][k], ENGINE_SAMPLE_LEN);
	}
	return 0;
}

/* What the watch loop keeps between seconds: three sums of the shards. */
struct watch {
	struct live_snap now, last, last_point;
	struct live_hist scratch;
	struct engine_point window;
	unsigned ticks; /* seconds since the last series point */
};

static void report_progress(struct watch *w, engine_progress_fn progress, void *arg, bool final)
{
	struct engine_progress p;

	if (!progress)
		return;
	p.elapsed_ns = w->now.t_ns;
	p.c = w->now.c;
	p.h = w->now.h;
	p.window = &w->window;
	p.final = final;
	progress(&p, arg);
}

/* Once a second: a window for the progress display, and a series point
 * when the series' step has passed. */
static void watch_tick(struct watch *w, struct engine_series *series, engine_progress_fn progress,
		       void *arg)
{
	series_point_of(&w->window, &w->now, &w->last, &w->scratch);
	/* Counted in ticks, not measured: a late tick must not skip a point. */
	if (++w->ticks >= (unsigned)series->step_s) {
		struct engine_point pt;

		w->ticks = 0;
		series_point_of(&pt, &w->now, &w->last_point, &w->scratch);
		series_push(series, &pt);
		w->last_point = w->now;
	}
	report_progress(w, progress, arg, false);
	w->last = w->now;
}

/* Sleeps in short steps until all shards are done, sampling each second.
 * Shards watch the stop flag themselves. */
static void watch(struct shard *shards, unsigned n, struct engine_run *run, struct watch *w,
		  struct engine_series *series, engine_progress_fn progress, void *arg)
{
	uint64_t next = run->t0_ns + 1000000000ull;

	for (;;) {
		struct timespec ts = { .tv_nsec = 20 * 1000 * 1000 };
		bool running = false;
		uint64_t now;

		for (unsigned i = 0; i < n; i++)
			running |= !__atomic_load_n(&shards[i].done, __ATOMIC_ACQUIRE);
		if (!running)
			return;
		nanosleep(&ts, NULL);
		now = engine_now_ns();
		if (now >= next) {
			live_snap_take(&w->now, shards, n, now - run->t0_ns);
			watch_tick(w, series, progress, arg);
			/* A late wake skips the seconds it missed: no sliver windows. */
			while (next <= now)
				next += 1000000000ull;
		}
	}
}

/* After the shards are done: the last (partial) point, so that the series
 * adds up to the totals, and the final progress call. */
static void watch_end(struct shard *shards, unsigned n, struct watch *w, struct engine_result *res,
		      engine_progress_fn progress, void *arg)
{
	uint64_t t_ns = res->elapsed_ns > w->last_point.t_ns ? res->elapsed_ns : w->last_point.t_ns;

	live_snap_take(&w->now, shards, n, t_ns);
	series_point_of(&w->window, &w->now, &w->last_point, &w->scratch);
	if (w->now.t_ns > w->last_point.t_ns || w->window.started || w->window.ok ||
	    w->window.failed)
		series_push(&res->series, &w->window);
	memcpy(res->live, w->now.h, sizeof(res->live));
	series_point_of(&w->window, &w->now, &w->last, &w->scratch);
	report_progress(w, progress, arg, true);
}

/* Starts one thread per shard; returns how many started. */
static unsigned launch(struct shard *shards, unsigned n, struct engine_run *run,
		       const struct engine_config *cfg, char *err, size_t err_len)
{
	int cpus[CPU_SETSIZE];
	unsigned nr_cpus = allowed_cpus(cpus);
	unsigned i;

	for (i = 0; i < n; i++) {
		struct shard *s = &shards[i];
		int ret;

		s->id = i;
		s->cpu = cfg->no_pin ? -1 : cpus[i % nr_cpus];
		s->run = run;
		s->cfg = cfg;
		ret = pthread_create(&s->thread, NULL, shard_thread, s);
		if (ret) {
			snprintf(err, err_len, "cannot start shard thread: %s", strerror(ret));
			break;
		}
	}
	return i;
}

/* Waits until every started shard has finished its setup. */
static void wait_ready(struct engine_run *run, unsigned started)
{
	pthread_mutex_lock(&run->mu);
	while (run->nr_ready < started)
		pthread_cond_wait(&run->cv, &run->mu);
	pthread_mutex_unlock(&run->mu);
}

static void release(struct engine_run *run, int go)
{
	pthread_mutex_lock(&run->mu);
	run->go = go;
	pthread_cond_broadcast(&run->cv);
	pthread_mutex_unlock(&run->mu);
}

int engine_run(const struct engine_config *cfg, struct engine_result *res,
	       engine_progress_fn progress, void *arg, char *err, size_t err_len)
{
	int cpus[CPU_SETSIZE];
	unsigned nr_cpus = allowed_cpus(cpus);
	unsigned nr_tok = 0;
	unsigned n = cfg->nr_shards ? cfg->nr_shards : nr_cpus;
	struct tokpipe tp;
	struct engine_run run;
	struct shard *shards;
	struct watch *w = NULL;
	uint64_t t_done_ns = 0;
	unsigned started;
	double cpu0;
	int ret;

	memset(res, 0, sizeof(*res));
	memset(&tp, 0, sizeof(tp));
	tp.trace_fd = -1;
	if (cfg->tokenizer) {
		nr_tok =
		    cfg->nr_tok_threads ? cfg->nr_tok_threads : tokpipe_default_threads(nr_cpus);
		if (nr_tok > ENGINE_MAX_TOK_THREADS)
			nr_tok = ENGINE_MAX_TOK_THREADS;
		/* Enough CPUs: tokenizer threads get their own, shards the rest. */
		if (!cfg->nr_shards && nr_cpus >= nr_tok + 3)
			n = nr_cpus - nr_tok;
	}
	if (n > ENGINE_MAX_SHARDS)
		n = ENGINE_MAX_SHARDS;
	if (n > cfg->nr_users)
		n = cfg->nr_users ? cfg->nr_users : 1;
	ret = check_config(cfg, n, err, err_len);
	if (ret < 0)
		return ret;

	memset(&run, 0, sizeof(run));
	run.nr_shards = n;
	run.budget = cfg->max_requests ? (int64_t)cfg->max_requests : INT64_MAX;
	run.t_end_ns = UINT64_MAX;
	run.trace_fd = -1;
	run.tok_trace = cfg->tokenizer && cfg->tok_trace_path;
	if (cfg->trace_path) {
		run.trace_fd = open(cfg->trace_path,
				    O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
		if (run.trace_fd < 0) {
			ret = -errno;
			snprintf(err, err_len, "cannot open trace file %s: %s", cfg->trace_path,
				 strerror(errno));
			return ret;
		}
	}
	shards = calloc(n, sizeof(*shards));
	w = calloc(1, sizeof(*w));
	if (!shards || !w || series_init(&res->series) < 0) {
		ret = -ENOMEM;
		snprintf(err, err_len, "out of memory for %u shards", n);
		free(shards);
		goto err_trace;
	}

	for (unsigned i = 0; i < n; i++)
		shards[i].nr_conns = cfg->nr_users / n + (i < cfg->nr_users % n);
	if (nr_tok) {
		int tok_cpus[ENGINE_MAX_TOK_THREADS];

		/* From the last allowed CPU down: away from the first shards. */
		for (unsigned i = 0; i < nr_tok; i++)
			tok_cpus[i] = cpus[(nr_cpus - 1 - i % nr_cpus)];
		ret = tokpipe_start(&tp, cfg, shards, n, nr_tok, cfg->no_pin ? NULL : tok_cpus, err,
				    err_len);
		if (ret < 0)
			goto err_tok;
	}
	pthread_mutex_init(&run.mu, NULL);
	pthread_cond_init(&run.cv, NULL);
	started = launch(shards, n, &run, cfg, err, err_len);
	if (started < n)
		ret = -EAGAIN;

	/* Every started shard is set up (or failed): decide, then release. */
	wait_ready(&run, started);
	for (unsigned i = 0; i < started && !ret; i++) {
		if (shards[i].setup_err) {
			ret = shards[i].setup_err;
			snprintf(err, err_len, "%s", shards[i].err);
		}
	}
	cpu0 = rusage_seconds();
	run.t0_ns = engine_now_ns() + 1000000; /* a common start, just ahead */
	/* -t counts after the warm-up. */
	if (cfg->run_time_ns)
		run.t_end_ns = run.t0_ns + cfg->warmup_ns + cfg->run_time_ns;
	res->series.t0_ns = run.t0_ns;
	release(&run, ret ? -1 : 1);

	if (!ret)
		watch(shards, n, &run, w, &res->series, progress, arg);
	for (unsigned i = 0; i < started; i++)
		pthread_join(shards[i].thread, NULL);
	/* Every push happened before the joins: the tokenizer threads drain. */
	if (nr_tok)
		tokpipe_stop(&tp);
	if (ret)
		goto err_close;

	for (unsigned i = 0; i < n; i++)
		if (shards[i].t_done_ns > t_done_ns)
			t_done_ns = shards[i].t_done_ns;
	res->cpu_seconds = rusage_seconds() - cpu0;
	res->elapsed_ns = t_done_ns > run.t0_ns ? t_done_ns - run.t0_ns : 0;
	res->measured_ns = res->elapsed_ns > cfg->warmup_ns ? res->elapsed_ns - cfg->warmup_ns : 0;
	res->nr_shards = n;
	res->nr_users = cfg->nr_users;
	res->interrupted = engine_stop_requested();
	ret = merge(shards, n, res);
	if (!ret && nr_tok)
		ret = tokpipe_merge(&tp, res);
	if (ret < 0)
		snprintf(err, err_len, "out of memory merging results");
	else
		watch_end(shards, n, w, res, progress, arg);
err_close:
	for (unsigned i = 0; i < started; i++)
		shard_close(&shards[i]);
	pthread_cond_destroy(&run.cv);
	pthread_mutex_destroy(&run.mu);
err_tok:
	tokpipe_close(&tp);
	free(shards);
err_trace:
	free(w);
	if (ret < 0)
		engine_result_close(res);
	if (run.trace_fd >= 0)
		close(run.trace_fd);
	return ret;
}

void engine_result_close(struct engine_result *res)
{
	struct hist *h[ENGINE_NR_HISTS];

	engine_hists_list(&res->h, h);
	for (int i = 0; i < ENGINE_NR_HISTS; i++)
		hist_close(h[i]);
	free(res->series.points);
	res->series.points = NULL;
	res->series.nr = 0;
}
