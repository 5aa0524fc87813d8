/* SPDX-License-Identifier: MIT */
/*
 * brood: a load generator and benchmark for LLM inference servers.
 *
 *   brood run -H http://127.0.0.1:8000 -u 1000 -t 60s -p 512 -o 128
 *
 * Parses the flags, checks every target before any load (resolve, connect,
 * /v1/models when -m is missing), builds the request bytes once per target,
 * runs the engine and writes the summary, JSON and CSV. Ctrl-C stops the
 * load and still writes every report.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "opts.h"
#include "probe.h"
#include "report.h"
#include "request.h"
#include "truth.h"

#define PROBE_TIMEOUT_MS 5000
#define EXIT_USAGE	 2
#define EXIT_SETUP	 1

struct progress {
	FILE *out;
	bool tty;
	unsigned users;
	uint64_t run_time_ns;
	uint64_t last_ns;
	uint64_t last_done;
	uint64_t last_chunks;
};

static void on_signal(int sig)
{
	(void)sig;
	engine_stop();
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	/* A second Ctrl-C kills at once, for when stopping itself hangs. */
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void on_progress(const struct engine_progress *p, void *arg)
{
	struct progress *st = arg;
	uint64_t done = p->c.requests_ok + p->c.requests_failed;
	double dt = (double)(p->elapsed_ns - st->last_ns) / 1e9;
	double secs = (double)p->elapsed_ns / 1e9;

	if (dt <= 0)
		return;
	if (st->tty || (uint64_t)secs % 10 == 0) {
		fprintf(st->out, "%s[%5.0fs", st->tty ? "\r\033[K" : "", secs);
		if (st->run_time_ns)
			fprintf(st->out, "/%.0fs", (double)st->run_time_ns / 1e9);
		fprintf(st->out, "] users %llu/%u  rps %.1f  chunks/s %.0f  ok %llu  failed %llu%s",
			(unsigned long long)p->c.users_spawned, st->users,
			(double)(done - st->last_done) / dt,
			(double)(p->c.chunks - st->last_chunks) / dt,
			(unsigned long long)p->c.requests_ok,
			(unsigned long long)p->c.requests_failed, st->tty ? "" : "\n");
		fflush(st->out);
	}
	st->last_ns = p->elapsed_ns;
	st->last_done = done;
	st->last_chunks = p->c.chunks;
}

/* Resolves and connects to every target; asks /v1/models for -m. */
static int preflight(struct brood_opts *o, struct engine_config *cfg, char *err, size_t err_len)
{
	for (unsigned i = 0; i < o->nr_urls; i++) {
		struct engine_target *t = &cfg->targets[i];
		int ret;

		if (o->urls[i].tls) {
			snprintf(err, err_len,
				 "https:// targets are not supported yet (TLS lands with the "
				 "tls/ module): use an http:// URL");
			return -EINVAL;
		}
		ret = probe_resolve(&o->urls[i], &t->addr, &t->addr_len, err, err_len);
		if (ret < 0)
			return ret;
		ret = probe_connect(&o->urls[i], &t->addr, t->addr_len, PROBE_TIMEOUT_MS, err,
				    err_len);
		if (ret < 0)
			return ret;
	}
	cfg->nr_targets = o->nr_urls;
	if (o->model[0])
		return 0;

	char *req;
	size_t req_len;
	unsigned nr_models = 0;
	char why[512];
	int ret = request_build_models(&o->urls[0], o->api_key, &req, &req_len);

	if (ret < 0) {
		snprintf(err, err_len, "out of memory");
		return ret;
	}
	ret = probe_models(&o->urls[0], &cfg->targets[0].addr, cfg->targets[0].addr_len, req,
			   req_len, PROBE_TIMEOUT_MS, o->model, sizeof(o->model), &nr_models, why,
			   sizeof(why));
	free(req);
	if (ret < 0) {
		snprintf(err, err_len, "no -m/--model given and %s: name the model with -m", why);
		return ret;
	}
	if (nr_models != 1) {
		snprintf(err, err_len,
			 "no -m/--model given and the server lists %u models: pick one with -m",
			 nr_models);
		o->model[0] = '\0';
		return -EINVAL;
	}
	return 0;
}

static int build_requests(const struct brood_opts *o, struct engine_config *cfg, char **reqs)
{
	for (unsigned i = 0; i < o->nr_urls; i++) {
		size_t len;
		int ret = request_build(o, &o->urls[i], &reqs[i], &len);

		if (ret < 0)
			return ret;
		cfg->targets[i].request = reqs[i];
		cfg->targets[i].request_len = len;
	}
	return 0;
}

static void fill_config(const struct brood_opts *o, struct engine_config *cfg)
{
	cfg->nr_users = o->users;
	cfg->spawn_rate = o->spawn_rate;
	cfg->run_time_ns = o->run_time_ns;
	cfg->max_requests = o->max_requests;
	cfg->timeout_ns = o->timeout_ns;
	cfg->nr_shards = o->nr_shards;
	cfg->max_event_bytes = o->max_event_bytes;
	cfg->batch_us = o->batch_us;
	cfg->no_pin = o->no_pin;
	cfg->input_tokens = request_prompt_tokens(o);
	cfg->trace_path = o->trace_path;
	cfg->trace_chunks = o->trace_chunks;
	/* role + one event per token at most + finish, usage, [DONE] */
	cfg->trace_events_cap = o->max_tokens + 8;
}

static int write_reports(const struct brood_opts *o, struct engine_result *res)
{
	struct report_summary sum;
	int ret = 0, r;

	report_summarize(res, o, &sum);
	report_print(stdout, &sum, o);
	fflush(stdout);
	if (o->json_path && (r = report_write_json(o->json_path, &sum, o, res)) < 0) {
		fprintf(stderr, "brood: cannot write %s: %s\n", o->json_path, strerror(-r));
		ret = r;
	}
	if (o->summary_path && (r = report_append_csv(o->summary_path, &sum, o)) < 0) {
		fprintf(stderr, "brood: cannot append to %s: %s\n", o->summary_path, strerror(-r));
		ret = r;
	}
	return ret;
}

static int cmd_run(int argc, char **argv)
{
	struct brood_opts o;
	struct engine_config *cfg = NULL;
	struct engine_result res;
	struct progress prog;
	char *reqs[ENGINE_MAX_TARGETS] = { 0 };
	char err[1024];
	int ret, code = EXIT_SETUP;

	ret = opts_parse_run(argc, argv, &o, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "brood: %s\n", err);
		return EXIT_USAGE;
	}
	if (o.help) {
		opts_usage(stdout);
		opts_close(&o);
		return 0;
	}
	install_signals();
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		fprintf(stderr, "brood: out of memory\n");
		goto out;
	}
	ret = preflight(&o, cfg, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "brood: %s\n", err);
		goto out;
	}
	if (build_requests(&o, cfg, reqs) < 0) {
		fprintf(stderr, "brood: out of memory building requests\n");
		goto out;
	}
	fill_config(&o, cfg);

	memset(&prog, 0, sizeof(prog));
	prog.out = stderr;
	prog.tty = isatty(STDERR_FILENO);
	prog.users = o.users;
	prog.run_time_ns = o.run_time_ns;
	ret = engine_run(cfg, &res, o.quiet ? NULL : on_progress, &prog, err, sizeof(err));
	if (prog.tty && !o.quiet)
		fputs("\r\033[K", stderr);
	if (ret < 0) {
		fprintf(stderr, "brood: %s\n", err);
		goto out;
	}
	code = write_reports(&o, &res) < 0 ? EXIT_SETUP : 0;
	engine_result_close(&res);
out:
	for (unsigned i = 0; i < ENGINE_MAX_TARGETS; i++)
		free(reqs[i]);
	free(cfg);
	opts_close(&o);
	return code;
}

static void usage(FILE *f)
{
	fputs("usage: brood run [options]     drive streaming users against an OpenAI-compatible "
	      "server\n"
	      "       brood run --help        all run options\n"
	      "       brood truth-diff TRACE.jsonl TRUTH.tsv\n"
	      "                               brood's receive times against brood-mock --truth\n"
	      "       brood version\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "truth-diff"))
		return truth_diff_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("brood %s\n", BROOD_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "brood: unknown command '%s': try 'brood run --help'\n", argv[1]);
	return EXIT_USAGE;
}
