/* SPDX-License-Identifier: MIT */
/*
 * brood against brood-mock, end to end on loopback: what brood measures must
 * agree with what the mock was told to do and with the mock's own record of
 * when it sent every event (--truth). Tolerances hold on a busy 2-core
 * machine: they bound error, they do not time anything.
 *
 * argv[1] = brood-mock, argv[2] = brood.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_util.h"

static const char *mock_bin;
static const char *brood_bin;

/* TTFT 50 ms, ITL 10 ms, 20 tokens: brood's TTFT and ITL match, every
 * event brood saw is one the mock sent, received after it was sent. */
static void test_stream_matches_truth(void **state)
{
	(void)state;
	struct fixture f;
	char dir[64];

	tmpdir_make(dir, sizeof(dir));
	PATH(truth, dir, "truth.tsv");
	PATH(trace, dir, "trace.jsonl");
	const char *margs[] = { "--ttft-ms", "50", "--itl-ms", "10", "--truth", truth, NULL };
	fixture_start(&f, mock_bin, margs);

	/* No -m: brood asks /v1/models, which lists one model. */
	const char *argv[] = { brood_bin, "run",     "-H",  f.url,
			       "--chat",  "-u",	     "8",   "-n",
			       "40",	  "-o",	     "20",  "--json",
			       f.json,	  "--trace", trace, "--trace-chunks",
			       "-q",	  NULL };
	assert_int_equal(run_cmd(argv, f.out, f.err, 60), 0);
	assert_int_equal(mock_stop(&f.m), 0);

	char *doc = slurp(f.json);
	assert_non_null(doc);
	assert_int_equal((int)summary_num(doc, "requests_ok", NULL), 40);
	assert_int_equal((int)summary_num(doc, "requests_failed", NULL), 0);
	double ttft_p50 = summary_num(doc, "ttft_ms", "p50");
	double ttft_mean = summary_num(doc, "ttft_ms", "mean");
	double itl_p50 = summary_num(doc, "itl_ms", "p50");
	/* The mock waits 50 ms before the first token: brood can't see it
	 * sooner. The upper bounds only catch a wrong origin (a timer that
	 * starts at connect, or at the run's start): on a machine busy with
	 * other builds, the mock itself may send late, and truth-diff below
	 * is the exact check. */
	assert_true(ttft_p50 >= 49.9 && ttft_p50 < 250.0);
	assert_true(ttft_mean >= 49.9);
	assert_true(itl_p50 >= 5.0 && itl_p50 < 100.0);
	const char *tokens[] = { "tokens", "output_total", NULL };
	assert_int_equal((int)json_num(doc, tokens), 40 * 20);
	free(doc);

	/* Every event brood received matches one the mock sent. */
	const char *diff[] = { brood_bin, "truth-diff", trace, truth, NULL };
	PATH(dout, dir, "diff.out");
	int rc = run_cmd(diff, dout, f.err, 60);
	if (rc != 0) {
		char *d = slurp(dout);
		print_error("truth-diff: %s\n", d ? d : "(no output)");
		free(d);
	}
	assert_int_equal(rc, 0);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A trace of several MiB, past the shards' in-memory buffers (so their
 * writes go through the ring), holds one line per finished request, each
 * request once. */
static void test_trace_every_request_once(void **state)
{
	(void)state;
	enum { N = 3000 };
	struct fixture f;
	char *ids[N + 1];
	size_t nr_ids = 0;

	const char *margs[] = { "--ttft-ms", "0", "--itl-ms", "0", NULL };
	fixture_start(&f, mock_bin, margs);
	PATH(trace, f.dir, "trace.jsonl");
	const char *argv[] = { brood_bin, "run",    "-H",   f.url,     "-m",   "brood-mock",
			       "--chat",  "-u",	    "32",   "-n",      "3000", "-o",
			       "64",	  "--json", f.json, "--trace", trace,  "--trace-chunks",
			       "-q",	  NULL };
	assert_int_equal(run_cmd(argv, f.out, f.err, 120), 0);
	mock_stop(&f.m);

	char *doc = slurp(f.json);
	assert_non_null(doc);
	assert_int_equal((int)(summary_num(doc, "requests_ok", NULL) +
			       summary_num(doc, "requests_failed", NULL)),
			 N);
	free(doc);
	char *t = slurp(trace);
	assert_non_null(t);
	assert_true(strlen(t) > (3u << 20)); /* > 1 MiB a shard */
	for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
		char *id = strstr(line, "\"request_id\":\"");
		assert_non_null(id);
		assert_true(nr_ids < N + 1);
		ids[nr_ids++] = id + 14;
		*strchr(id + 14, '"') = '\0';
	}
	assert_int_equal(nr_ids, N);
	qsort(ids, nr_ids, sizeof(ids[0]), cmp_str);
	for (size_t i = 1; i < nr_ids; i++)
		assert_string_not_equal(ids[i - 1], ids[i]);
	free(t);
}

/* Non-streamed completions: tokens come from usage. */
static void test_no_stream_completions(void **state)
{
	(void)state;
	struct fixture f;

	const char *margs[] = { "--ttft-ms", "5", "--itl-ms", "1", NULL };
	fixture_start(&f, mock_bin, margs);
	const char *argv[] = { brood_bin,     "run",	"-H",	f.url, "-m", "brood-mock",
			       "--no-stream", "-u",	"4",	"-n",  "12", "-o",
			       "7",	      "--json", f.json, "-q",  NULL };
	assert_int_equal(run_cmd(argv, f.out, f.err, 60), 0);
	mock_stop(&f.m);

	char *doc = slurp(f.json);
	assert_non_null(doc);
	assert_int_equal((int)summary_num(doc, "requests_ok", NULL), 12);
	const char *tokens[] = { "tokens", "output_total", NULL };
	assert_int_equal((int)json_num(doc, tokens), 12 * 7);
	free(doc);
}

/* A model the server does not serve: every request fails as an HTTP status
 * error, the run still ends normally and reports it. */
static void test_wrong_model_is_measured(void **state)
{
	(void)state;
	struct fixture f;

	fixture_start(&f, mock_bin, NULL);
	const char *argv[] = { brood_bin,	"run",	"-H", f.url, "-m",
			       "no-such-model", "-u",	"2",  "-n",  "6",
			       "--json",	f.json, "-q", NULL };
	assert_int_equal(run_cmd(argv, f.out, f.err, 60), 0);
	mock_stop(&f.m);

	char *doc = slurp(f.json);
	assert_non_null(doc);
	assert_int_equal((int)summary_num(doc, "requests_ok", NULL), 0);
	assert_int_equal((int)summary_num(doc, "requests_failed", NULL), 6);
	assert_int_equal((int)summary_num(doc, "errors", "http_status"), 6);
	assert_int_equal((int)summary_num(doc, "responses", "4xx"), 6);
	assert_int_equal((int)summary_num(doc, "responses", "2xx"), 0);
	free(doc);
}

/* Requests in a truth file (lines of event 0). */
static int truth_requests(const char *path)
{
	char *t = slurp(path);
	int n = 0;

	assert_non_null(t);
	for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n"))
		if (line[0] != '#' && strstr(line, "\t0\t"))
			n++;
	free(t);
	return n;
}

/* Users are spread over the -H targets: two mocks share the requests. */
static void test_users_spread_over_targets(void **state)
{
	(void)state;
	struct fixture f;
	struct mock m2;
	char dir[64], hosts[160];

	tmpdir_make(dir, sizeof(dir));
	PATH(truth1, dir, "truth1.tsv");
	PATH(truth2, dir, "truth2.tsv");
	/* Requests slow enough (about 25 ms) that one target's users can't
	 * take the whole shared budget while the other's are still connecting. */
	const char *margs1[] = { "--ttft-ms", "20", "--itl-ms", "1", "--truth", truth1, NULL };
	const char *margs2[] = { "--ttft-ms", "20", "--itl-ms", "1", "--truth", truth2, NULL };
	fixture_start(&f, mock_bin, margs1);
	assert_int_equal(mock_start(&m2, mock_bin, margs2), 0);
	snprintf(hosts, sizeof(hosts), "%s,http://127.0.0.1:%d", f.url, m2.port);
	const char *argv[] = { brood_bin, "run", "-H", hosts, "-m",	"brood-mock", "-u", "4",
			       "-n",	  "40",	 "-o", "4",   "--json", f.json,	      "-q", NULL };
	assert_int_equal(run_cmd(argv, f.out, f.err, 60), 0);
	assert_int_equal(mock_stop(&f.m), 0);
	assert_int_equal(mock_stop(&m2), 0);

	char *doc = slurp(f.json);
	assert_non_null(doc);
	assert_int_equal((int)summary_num(doc, "requests_ok", NULL), 40);
	free(doc);
	int n1 = truth_requests(truth1), n2 = truth_requests(truth2);
	assert_int_equal(n1 + n2, 40);
	/* Two users each, sharing one budget of 40: about 10 each; a target
	 * that got no users would get no requests. */
	assert_true(n1 >= 4 && n2 >= 4);
}

/* More users per shard than one ring's descriptor table holds: one line
 * naming the fix, before any load. */
static void test_too_many_users_per_shard(void **state)
{
	(void)state;
	struct fixture f;

	fixture_start(&f, mock_bin, NULL);
	const char *argv[] = { brood_bin, "run",      "-H", f.url, "-m", "brood-mock", "-u",
			       "1000000", "--shards", "1",  "-n",  "1",	 NULL };
	int rc = run_cmd(argv, f.out, f.err, 60);
	mock_stop(&f.m);
	assert_int_equal(rc, 1);
	char *e = slurp(f.err);
	assert_non_null(e);
	assert_non_null(strstr(e, "use --shards"));
	assert_ptr_equal(strchr(e, '\n'), e + strlen(e) - 1);
	free(e);
}

/* 17,000 users on one shard, all connected at once: more than 16,384 per
 * ring (whose CQ must then be clamped to the kernel's maximum) and in one
 * process, whatever RLIMIT_NOFILE's soft limit says. */
static void test_many_users_one_shard(void **state)
{
	(void)state;
	struct rlimit rl;
	struct fixture f;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_max < 17000 + 64)
		skip(); /* one ring's table is capped by the hard limit */
	const char *margs[] = {
		"--ttft-ms", "2000", "--itl-ms", "0", "--max-conns", "18000", NULL
	};
	fixture_start(&f, mock_bin, margs);
	const char *argv[] = { brood_bin, "run",   "-H", f.url,	  "-m",	      "brood-mock",
			       "-u",	  "17000", "-r", "10000", "-n",	      "17000",
			       "-o",	  "1",	   "-p", "8",	  "--shards", "1",
			       "--json",  f.json,  "-q", NULL };
	assert_int_equal(run_cmd(argv, f.out, f.err, 120), 0);
	mock_stop(&f.m);

	char *doc = slurp(f.json);
	assert_non_null(doc);
	assert_int_equal((int)summary_num(doc, "requests_ok", NULL), 17000);
	const char *open_at_end[] = { "generator", "connections_open", NULL };
	assert_int_equal((int)json_num(doc, open_at_end), 17000);
	free(doc);
}

/* Nothing listens: one clear line, a non-zero exit, no load. */
static void test_unreachable_host(void **state)
{
	(void)state;
	char dir[64];

	tmpdir_make(dir, sizeof(dir));
	PATH(out, dir, "stdout");
	PATH(err, dir, "stderr");
	const char *argv[] = { brood_bin, "run", "-H", "http://127.0.0.1:1", "-m", "x",
			       "-n",	  "1",	 NULL };
	int rc = run_cmd(argv, out, err, 30);
	assert_true(rc > 0 && rc < 128);
	char *e = slurp(err);
	assert_non_null(e);
	assert_non_null(strstr(e, "cannot connect to http://127.0.0.1:1"));
	assert_ptr_equal(strchr(e, '\n'), e + strlen(e) - 1); /* one line */
	free(e);
}

/* Ctrl-C in the middle of a long run: brood stops promptly and still
 * writes its results. */
static void test_sigint_keeps_results(void **state)
{
	(void)state;
	struct fixture f;

	const char *margs[] = { "--ttft-ms", "20", "--itl-ms", "5", NULL };
	fixture_start(&f, mock_bin, margs);
	PATH(csv, f.dir, "out.csv");
	const char *argv[] = { brood_bin,
			       "run",
			       "-H",
			       f.url,
			       "-u",
			       "16",
			       "-t",
			       "120s",
			       "-o",
			       "10",
			       "--json",
			       f.json,
			       "--summary-file",
			       csv,
			       "-q",
			       NULL };
	assert_int_equal(run_cmd_sigint(argv, f.out, f.err, 2500, 30), 0);
	mock_stop(&f.m);

	char *doc = slurp(f.json);
	assert_non_null(doc);
	assert_true(summary_num(doc, "requests_ok", NULL) > 0);
	free(doc);
	char *c = slurp(csv);
	assert_non_null(c);
	assert_non_null(strchr(c, '\n'));
	free(c);
}

/* The server dies mid-run: brood classifies the failures and finishes. */
static void test_server_dies(void **state)
{
	(void)state;
	struct fixture f;

	const char *margs[] = { "--ttft-ms", "10", "--itl-ms", "50", NULL };
	fixture_start(&f, mock_bin, margs);
	const char *argv[] = { brood_bin, "run", "-H", f.url, "-m",	"brood-mock", "-u", "8",
			       "-t",	  "3s",	 "-o", "100", "--json", f.json,	      "-q", NULL };
	pid_t pid = fork();
	if (pid == 0) {
		usleep(1000 * 1000);
		kill(f.m.pid, SIGKILL);
		_exit(0);
	}
	assert_int_equal(run_cmd(argv, f.out, f.err, 60), 0);
	waitpid(pid, NULL, 0);
	mock_stop(&f.m); /* reaps the killed mock */

	char *doc = slurp(f.json);
	assert_non_null(doc);
	double failed = summary_num(doc, "requests_failed", NULL);
	double reset = summary_num(doc, "errors", "reset");
	double conn = summary_num(doc, "errors", "connect");
	assert_true(failed >= 8);
	assert_true(reset >= 1);
	assert_true(reset + conn <= failed);
	free(doc);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_stream_matches_truth, mocks_reap),
		cmocka_unit_test_teardown(test_trace_every_request_once, mocks_reap),
		cmocka_unit_test_teardown(test_no_stream_completions, mocks_reap),
		cmocka_unit_test_teardown(test_wrong_model_is_measured, mocks_reap),
		cmocka_unit_test_teardown(test_users_spread_over_targets, mocks_reap),
		cmocka_unit_test_teardown(test_too_many_users_per_shard, mocks_reap),
		cmocka_unit_test_teardown(test_many_users_one_shard, mocks_reap),
		cmocka_unit_test_teardown(test_unreachable_host, mocks_reap),
		cmocka_unit_test_teardown(test_sigint_keeps_results, mocks_reap),
		cmocka_unit_test_teardown(test_server_dies, mocks_reap),
	};

	if (argc < 3) {
		fprintf(stderr, "usage: %s BROOD_MOCK BROOD\n", argv[0]);
		return 2;
	}
	mock_bin = argv[1];
	brood_bin = argv[2];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
