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
#include <time.h>
#include <unistd.h>

#include "compare.h"
#include "cmd.h"
#include "engine.h"
#include "html.h"
#include "metrics.h"
#include "opts.h"
#include "probe.h"
#include "report.h"
#include "request.h"
#include "tokcli.h"
#include "sweep.h"
#include "tls.h"
#include "truth.h"
#include "view.h"

#define PROBE_TIMEOUT_MS 5000

struct progress {
	struct view view;
	bool quiet;
	struct metrics *metrics;
};

static volatile sig_atomic_t signalled;

/* First signal: stop, in-flight requests get --grace. Second: cancel them
 * now (reports are still written). Third: die, for when stopping hangs. */
static void on_signal(int sig)
{
	static volatile sig_atomic_t count;

	signalled = 1;
	if (++count >= 3) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	engine_stop();
}

void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void on_progress(const struct engine_progress *p, void *arg)
{
	struct progress *st = arg;

	metrics_publish(st->metrics, p);
	if (!st->quiet)
		view_update(&st->view, p);
}

/* The client TLS context when a target is https:// (cfg->tls_ctx). */
static int tls_setup(const struct brood_opts *o, struct engine_config *cfg, char *err,
		     size_t err_len)
{
	struct tls_ctx_opts to = { .ca_file = o->cacert,
				   .insecure = o->insecure,
				   .version = o->tls_version };

	for (unsigned i = 0; i < o->nr_urls; i++)
		if (o->urls[i].tls)
			return tls_ctx_client(&cfg->tls_ctx, &to, err, err_len);
	return 0;
}

/* Resolves and connects to every target (a TLS handshake, certificate
 * checked, for https); asks /v1/models for -m. */
int preflight(struct brood_opts *o, struct engine_config *cfg, char *err, size_t err_len)
{
	int ret = tls_setup(o, cfg, err, err_len);

	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < o->nr_urls; i++) {
		struct engine_target *t = &cfg->targets[i];

		ret = probe_resolve(&o->urls[i], &t->addr, &t->addr_len, err, err_len);
		if (ret < 0)
			return ret;
		t->tls = o->urls[i].tls;
		t->host = o->urls[i].host;
		if (t->tls)
			ret = probe_tls(&o->urls[i], &t->addr, t->addr_len, cfg->tls_ctx,
					PROBE_TIMEOUT_MS, err, err_len);
		else
			ret = probe_connect(&o->urls[i], &t->addr, t->addr_len, PROBE_TIMEOUT_MS,
					    err, err_len);
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

	ret = request_build_models(&o->urls[0], o->api_key, &req, &req_len);

	if (ret < 0) {
		snprintf(err, err_len, "out of memory");
		return ret;
	}
	ret =
	    probe_models(&o->urls[0], &cfg->targets[0].addr, cfg->targets[0].addr_len,
			 cfg->targets[0].tls ? cfg->tls_ctx : NULL, req, req_len, PROBE_TIMEOUT_MS,
			 o->model, sizeof(o->model), &nr_models, why, sizeof(why));
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

int build_requests(const struct brood_opts *o, struct engine_config *cfg, char **reqs)
{
	for (unsigned i = 0; i < o->nr_urls; i++) {
		size_t len;
		int ret = request_build(o, &o->urls[i], &reqs[i], &len);

		if (ret < 0)
			return ret;
		cfg->targets[i].request = reqs[i];
		cfg->targets[i].request_len = len;
		if (opts_tokens_vary(o)) {
			ret = request_token_slots(reqs[i], len, cfg->targets[i].slot_off,
						  &cfg->targets[i].nr_slots);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

int cmd_prepare(struct brood_opts *o, struct engine_config *cfg, struct tok **tok,
		struct engine_tokenizer *tk, char **reqs)
{
	char err[1024];

	if (o->tokenizer) {
		if (tokcli_setup(o, tok, err, sizeof(err)) < 0) {
			fprintf(stderr, "brood: %s\n", err);
			return EXIT_USAGE;
		}
		tokcli_engine(*tok, tk);
		cfg->tokenizer = tk;
	}
	if (preflight(o, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "brood: %s\n", err);
		return EXIT_SETUP;
	}
	if (build_requests(o, cfg, reqs) < 0) {
		fprintf(stderr, "brood: out of memory building requests\n");
		return EXIT_SETUP;
	}
	return 0;
}

void fill_config(const struct brood_opts *o, struct engine_config *cfg)
{
	cfg->nr_users = o->users;
	cfg->spawn_rate = o->spawn_rate;
	cfg->run_time_ns = o->run_time_ns;
	cfg->max_requests = o->max_requests;
	cfg->timeout_ns = o->timeout_ns;
	cfg->connect_timeout_ns = o->connect_timeout_ns;
	cfg->first_byte_timeout_ns = o->first_byte_timeout_ns;
	cfg->first_token_timeout_ns = o->first_token_timeout_ns;
	cfg->idle_timeout_ns = o->idle_timeout_ns;
	cfg->grace_ns = o->grace_ns;
	cfg->retries = o->retries;
	memcpy(cfg->sources, o->sources, sizeof(cfg->sources));
	cfg->nr_sources = o->nr_sources;
	cfg->nr_shards = o->nr_shards;
	cfg->max_event_bytes = o->max_event_bytes;
	cfg->batch_us = o->batch_us;
	cfg->no_pin = o->no_pin;
	cfg->input_tokens = request_prompt_tokens(o);
	cfg->trace_path = o->trace_path;
	cfg->trace_chunks = o->trace_chunks;
	/* role + one event per token at most + finish, usage, [DONE] */
	cfg->trace_events_cap = dist_tokens_max(&o->max_tokens_dist) + 8;
	cfg->nr_tok_threads = o->tokenizer_threads;
	cfg->tok_max_text = o->tokenizer_max_bytes;
	cfg->tok_trace_path = o->trace_tokens_path;
	cfg->qps = o->qps;
	cfg->arrival = o->qps_dist;
	cfg->burstiness = o->burstiness;
	cfg->queue_cap = o->max_queue;
	cfg->stages = o->stages;
	cfg->nr_stages = o->nr_stages;
	cfg->wait_ns = o->wait_ns;
	cfg->burst_ns = o->burst_ns;
	cfg->warmup_ns = o->warmup_ns;
	cfg->seed = o->seed;
	cfg->max_tokens = o->max_tokens_dist;
	cfg->asked_tokens = o->max_tokens;
	cfg->slo = o->slo;
	cfg->has_slo = o->has_slo;
}

/* --html from the run's own JSON document, so that `brood report` on the
 * --json file draws the same page. */
static int write_html(const char *path, const char *json, size_t json_len)
{
	char err[256];
	int ret = html_write_from_json(path, json, json_len, err, sizeof(err));

	if (ret < 0)
		fprintf(stderr, "brood: cannot write %s: %s\n", path, err);
	return ret;
}

static int write_reports(const struct brood_opts *o, struct engine_result *res)
{
	struct report_summary sum;
	char *json = NULL;
	size_t json_len = 0;
	int ret = 0, r;

	report_summarize(res, o, &sum);
	report_print(stdout, &sum, o);
	fflush(stdout);
	if ((o->json_path || o->html_path) &&
	    report_json_build(&sum, o, res, &json, &json_len) < 0) {
		fprintf(stderr, "brood: out of memory writing the JSON result\n");
		return -ENOMEM;
	}
	if (o->json_path && (r = report_write_file_atomic(o->json_path, json, json_len)) < 0) {
		fprintf(stderr, "brood: cannot write %s: %s\n", o->json_path, strerror(-r));
		ret = r;
	}
	if (o->html_path && (r = write_html(o->html_path, json, json_len)) < 0)
		ret = r;
	free(json);
	if (o->summary_path && (r = report_append_csv(o->summary_path, &sum, o)) < 0) {
		fprintf(stderr, "brood: cannot append to %s: %s\n", o->summary_path, strerror(-r));
		ret = r;
	}
	return ret;
}

/* --metrics-linger: the final figures stay up for one more scrape or so. */
static void linger(const struct brood_opts *o)
{
	uint64_t left_ms = o->metrics_linger_ns / 1000000;

	if (!o->quiet)
		fprintf(stderr, "brood: serving final metrics for %.0f s more (Ctrl-C ends)\n",
			(double)left_ms / 1000);
	while (left_ms && !signalled) {
		struct timespec ts = { .tv_nsec = 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		left_ms = left_ms > 50 ? left_ms - 50 : 0;
	}
}

static int cmd_run(int argc, char **argv)
{
	struct brood_opts o;
	struct engine_config *cfg = NULL;
	struct engine_result res;
	struct engine_tokenizer tk;
	struct tok *tok = NULL;
	struct progress prog = { 0 };
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
	code = cmd_prepare(&o, cfg, &tok, &tk, reqs);
	if (code)
		goto out;
	code = EXIT_SETUP;
	fill_config(&o, cfg);

	memset(&prog, 0, sizeof(prog));
	prog.quiet = o.quiet;
	view_init(&prog.view, stderr, isatty(STDERR_FILENO), o.users, o.run_time_ns,
		  o.max_requests);
	if (o.metrics_port >= 0) {
		int port;

		ret = metrics_start(&prog.metrics, o.metrics_addr, o.metrics_port, o.users, o.model,
				    &port, err, sizeof(err));
		if (ret < 0) {
			fprintf(stderr, "brood: %s\n", err);
			goto out;
		}
		/* Always said, even with -q: a script that asked for port 0 needs it. */
		fprintf(stderr, "brood: metrics on http://%s:%d/metrics\n", o.metrics_addr, port);
	}
	ret = engine_run(cfg, &res, on_progress, &prog, err, sizeof(err));
	if (!o.quiet)
		view_clear(&prog.view);
	if (ret < 0) {
		fprintf(stderr, "brood: %s\n", err);
		goto out;
	}
	code = write_reports(&o, &res) < 0 ? EXIT_SETUP : 0;
	engine_result_close(&res);
	if (prog.metrics && o.metrics_linger_ns)
		linger(&o);
out:
	metrics_stop(prog.metrics);
	for (unsigned i = 0; i < ENGINE_MAX_TARGETS; i++)
		free(reqs[i]);
	if (cfg)
		tls_ctx_free(cfg->tls_ctx);
	free(cfg);
	tok_free(tok);
	opts_close(&o);
	return code;
}

static void usage(FILE *f)
{
	fputs("usage: brood run [options]     drive streaming users against an OpenAI-compatible "
	      "server\n"
	      "       brood run --help        all run options\n"
	      "       brood report RESULT.json --html FILE\n"
	      "                               draw the HTML report of a run or sweep result\n"
	      "       brood compare A.json B.json\n"
	      "                               two run results side by side, with the changes\n"
	      "       brood sweep [options]   one run per level (--concurrency or --qps), to "
	      "saturation\n"
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
	if (!strcmp(argv[1], "report"))
		return html_report_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "compare"))
		return compare_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "sweep"))
		return sweep_main(argc - 1, argv + 1);
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
