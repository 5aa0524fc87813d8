/* SPDX-License-Identifier: MIT */
/*
 * The load model's command line: --slo, ranges, sweep levels, shapes and
 * stages files (CSV and JSON), the flags' combinations and their one-line
 * errors, max_tokens slots in the request bytes, and the sweep's verdict
 * on made-up levels.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "load.h"
#include "opts.h"
#include "report.h"
#include "request.h"
#include "sweep.h"

#define S_NS  1000000000ull
#define MS_NS 1000000ull

static char err[512];

static int parse_mode(bool sweep, struct brood_opts *o, va_list ap)
{
	char *argv[64] = { sweep ? "sweep" : "run" };
	int argc = 1;

	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	memset(err, 0, sizeof(err));
	return sweep ? opts_parse_sweep(argc, argv, o, err, sizeof(err))
		     : opts_parse_run(argc, argv, o, err, sizeof(err));
}

static int parse(struct brood_opts *o, ...)
{
	va_list ap;
	int ret;

	va_start(ap, o);
	ret = parse_mode(false, o, ap);
	va_end(ap);
	return ret;
}

static int parse_sweep(struct brood_opts *o, ...)
{
	va_list ap;
	int ret;

	va_start(ap, o);
	ret = parse_mode(true, o, ap);
	va_end(ap);
	return ret;
}

static void expect_error(int ret, const char *want)
{
	if (ret != -EINVAL || !strstr(err, want))
		fail_msg("ret %d, err '%s', wanted '%s'", ret, err, want);
	assert_null(strchr(err, '\n'));
}

static void test_slo(void **state)
{
	struct engine_slo slo;
	double att;

	(void)state;
	assert_int_equal(
	    load_parse_slo("ttft=500ms,itl=50ms,e2e=20s", &slo, &att, err, sizeof(err)), 0);
	assert_true(slo.ttft_ns == 500 * MS_NS && slo.itl_ns == 50 * MS_NS &&
		    slo.e2e_ns == 20 * S_NS && !slo.itl_max_ns && !slo.tpot_ns);
	assert_true(att == 0.9);
	assert_int_equal(
	    load_parse_slo("itl_max=200ms,tpot=40ms,attainment=0.99", &slo, &att, err, sizeof(err)),
	    0);
	assert_true(slo.itl_max_ns == 200 * MS_NS && slo.tpot_ns == 40 * MS_NS && att == 0.99);
	expect_error(load_parse_slo("ttft", &slo, &att, err, sizeof(err)), "KEY=VALUE");
	expect_error(load_parse_slo("latency=5s", &slo, &att, err, sizeof(err)), "unknown bound");
	expect_error(load_parse_slo("ttft=fast", &slo, &att, err, sizeof(err)), "duration");
	expect_error(load_parse_slo("attainment=1.5", &slo, &att, err, sizeof(err)), "share");
	expect_error(load_parse_slo("attainment=0.9", &slo, &att, err, sizeof(err)),
		     "at least one");
}

static void test_levels(void **state)
{
	double v[LOAD_MAX_LEVELS];
	unsigned n;

	(void)state;
	assert_int_equal(load_parse_levels("--qps", "1:64:x2", false, v, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 7);
	assert_true(v[0] == 1 && v[6] == 64);
	assert_int_equal(
	    load_parse_levels("--concurrency", "8:32:+8", true, v, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_true(v[3] == 32);
	assert_int_equal(load_parse_levels("--qps", "0.5,1,2.5", false, v, &n, err, sizeof(err)),
			 0);
	assert_true(n == 3 && v[0] == 0.5 && v[2] == 2.5);
	expect_error(load_parse_levels("--qps", "4,2", false, v, &n, err, sizeof(err)),
		     "increasing");
	expect_error(load_parse_levels("--concurrency", "1.5,2", true, v, &n, err, sizeof(err)),
		     "whole");
	expect_error(load_parse_levels("--qps", "1:64:x1", false, v, &n, err, sizeof(err)), "x2");
	expect_error(load_parse_levels("--qps", "1:100000:+1", false, v, &n, err, sizeof(err)),
		     "levels");
	expect_error(load_parse_levels("--concurrency", "1:3:x1.1", true, v, &n, err, sizeof(err)),
		     "repeat");
}

static void test_range(void **state)
{
	uint32_t lo, hi;

	(void)state;
	assert_int_equal(
	    load_parse_range("--max-tokens-range", "64:256", 1000, &lo, &hi, err, sizeof(err)), 0);
	assert_true(lo == 64 && hi == 256);
	expect_error(
	    load_parse_range("--max-tokens-range", "256:64", 1000, &lo, &hi, err, sizeof(err)),
	    "LO:HI");
	expect_error(
	    load_parse_range("--max-tokens-range", "0:4", 1000, &lo, &hi, err, sizeof(err)),
	    "LO:HI");
}

static void test_stages_csv(void **state)
{
	static const char csv[] = "# warm, then more\n"
				  "duration,users,ramp\n"
				  "30s,10,0\n"
				  "1min,50,1\n"
				  " 10s , 0 , 0 \n";
	struct sched_stage st[LOAD_MAX_STAGES];
	unsigned n;
	bool qps;

	(void)state;
	assert_int_equal(
	    load_parse_stages("s.csv", csv, strlen(csv), st, &n, &qps, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_false(qps);
	assert_true(st[0].duration_ns == 30 * S_NS && st[0].from == 10 && st[0].to == 10);
	assert_true(st[1].duration_ns == 60 * S_NS && st[1].from == 10 && st[1].to == 50);
	assert_true(st[2].from == 0 && st[2].to == 0);
	assert_int_equal(load_parse_stages("q.csv", "duration,qps\n5s,2.5\n", 20, st, &n, &qps, err,
					   sizeof(err)),
			 0);
	assert_true(qps && n == 1 && st[0].to == 2.5);
	expect_error(
	    load_parse_stages("b.csv", "time,users\n5s,1\n", 17, st, &n, &qps, err, sizeof(err)),
	    "header");
	expect_error(
	    load_parse_stages("b.csv", "duration,users\n5s\n", 17, st, &n, &qps, err, sizeof(err)),
	    "b.csv:2");
	expect_error(
	    load_parse_stages("b.csv", "duration,users\n", 15, st, &n, &qps, err, sizeof(err)),
	    "no stages");
}

static void test_stages_json(void **state)
{
	static const char json[] = "{\"stages\": [\n"
				   "  {\"duration\": \"30s\", \"qps\": 5},\n"
				   "  {\"duration\": 60, \"qps\": 20, \"ramp\": true}\n"
				   "]}\n";
	static const char mixed[] = "[{\"duration\": \"1s\", \"qps\": 5}, "
				    "{\"duration\": \"1s\", \"users\": 5}]";
	struct sched_stage st[LOAD_MAX_STAGES];
	unsigned n;
	bool qps;

	(void)state;
	assert_int_equal(
	    load_parse_stages("s.json", json, strlen(json), st, &n, &qps, err, sizeof(err)), 0);
	assert_true(qps && n == 2);
	assert_true(st[0].duration_ns == 30 * S_NS && st[0].to == 5);
	assert_true(st[1].duration_ns == 60 * S_NS && st[1].from == 5 && st[1].to == 20);
	expect_error(
	    load_parse_stages("m.json", mixed, strlen(mixed), st, &n, &qps, err, sizeof(err)),
	    "not both");
	expect_error(load_parse_stages("x.json", "[{\"duration\": \"1s\"}]", 22, st, &n, &qps, err,
				       sizeof(err)),
		     "stage 1");
	expect_error(load_parse_stages("x.json", "[{\"duration\": \"1s\", \"users\": 1}", 32, st,
				       &n, &qps, err, sizeof(err)),
		     "not a stages list");
	expect_error(
	    load_parse_stages("x.json", "[{\"speed\": 1}]", 14, st, &n, &qps, err, sizeof(err)),
	    "unknown key");
}

static void test_shapes(void **state)
{
	struct brood_opts o;

	(void)state;
	assert_int_equal(parse(&o, "-u", "25", "--shape", "step", "--step-size", "10",
			       "--step-time", "5s", NULL),
			 0);
	assert_int_equal(o.nr_stages, 3);
	assert_true(o.stages[0].to == 10 && o.stages[1].to == 20 && o.stages[2].to == 25);
	assert_true(o.run_time_ns == 15 * S_NS); /* ends after the last step */
	opts_close(&o);
	assert_int_equal(parse(&o, "--qps", "40", "--shape", "ramp", "-t", "20s", NULL), 0);
	assert_int_equal(o.nr_stages, 1);
	assert_true(o.stages[0].from == 0 && o.stages[0].to == 40 &&
		    o.stages[0].duration_ns == 20 * S_NS);
	assert_int_equal(o.users, OPTS_OPEN_USERS);
	opts_close(&o);
	expect_error(parse(&o, "--shape", "ramp", NULL), "--ramp-time");
	expect_error(parse(&o, "--shape", "step", "--step-size", "2", NULL), "--step-time");
	expect_error(parse(&o, "--shape", "sine", NULL), "step or ramp");
	expect_error(parse(&o, "--step-time", "5s", NULL), "need --shape");
}

static void test_stages_file_sets_the_loop(void **state)
{
	char path[] = "/tmp/brood-stages-XXXXXX";
	struct brood_opts o;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_true(write(fd, "duration,users\n2s,3\n2s,7\n", 25) == 25);
	close(fd);
	assert_int_equal(parse(&o, "--stages", path, NULL), 0);
	assert_int_equal(o.users, 7); /* the profile's top */
	assert_true(o.qps == 0 && o.run_time_ns == 4 * S_NS);
	opts_close(&o);
	expect_error(parse(&o, "--stages", path, "-u", "5", NULL), "raise -u");
	expect_error(parse(&o, "--stages", path, "--qps", "5", NULL), "drop --qps");
	expect_error(parse(&o, "--stages", path, "--shape", "ramp", "--ramp-time", "1s", NULL),
		     "exclude");
	unlink(path);
	expect_error(parse(&o, "--stages", path, NULL), "cannot open");
}

static void test_open_loop_flags(void **state)
{
	struct brood_opts o;

	(void)state;
	assert_int_equal(parse(&o, "--qps", "12.5", "--qps-distribution", "gamma", "--burstiness",
			       "0.5", "--max-queue", "7", "-u", "64", "--warmup", "3s", NULL),
			 0);
	assert_true(o.qps == 12.5 && o.qps_dist == DIST_ARRIVAL_GAMMA && o.burstiness == 0.5);
	assert_true(o.max_queue == 7 && o.users == 64 && o.warmup_ns == 3 * S_NS);
	opts_close(&o);
	assert_int_equal(parse(&o, "--qps", "1", NULL), 0);
	assert_true(o.qps_dist == DIST_ARRIVAL_POISSON && o.burstiness == 1);
	opts_close(&o);
	expect_error(parse(&o, "--qps", "0", NULL), "above 0");
	expect_error(parse(&o, "--qps", "1e3", NULL), "above 0");
	expect_error(parse(&o, "--qps-distribution", "gamma", NULL), "add --qps");
	expect_error(parse(&o, "--qps", "5", "--burstiness", "2", NULL), "gamma");
	expect_error(parse(&o, "--qps", "5", "--qps-distribution", "zipf", NULL), "constant");
	expect_error(parse(&o, "--qps", "5", "--wait", "1s", NULL), "drop them");
	expect_error(parse(&o, "--concurrency", "1,2", NULL), "brood sweep");
	assert_int_equal(parse(&o, "-u", "4", "--wait", "250ms", "--burst", "2s", NULL), 0);
	assert_true(o.wait_ns == 250 * MS_NS && o.burst_ns == 2 * S_NS);
	opts_close(&o);
}

static void test_tokens_flags(void **state)
{
	struct brood_opts o;

	(void)state;
	assert_int_equal(parse(&o, "-o", "100", "--max-tokens-distribution", "uniform", NULL), 0);
	assert_true(opts_tokens_vary(&o));
	assert_true(o.max_tokens_dist.lo == 1 && o.max_tokens_dist.hi == 199 &&
		    o.max_tokens_dist.mean == 100);
	opts_close(&o);
	assert_int_equal(parse(&o, "-o", "100", "--max-tokens-distribution", "normal", NULL), 0);
	assert_true(o.max_tokens_dist.stddev == 25);
	opts_close(&o);
	assert_int_equal(parse(&o, "-o", "300", "--max-tokens-cap", "200", NULL), 0);
	assert_false(opts_tokens_vary(&o));
	assert_int_equal(o.max_tokens, 200); /* a constant above the cap is the cap */
	opts_close(&o);
	expect_error(parse(&o, "--max-tokens-range", "1:9", NULL), "distribution");
	expect_error(
	    parse(&o, "--max-tokens-distribution", "uniform", "--max-tokens-stddev", "3", NULL),
	    "normal");
	expect_error(parse(&o, "--max-tokens-distribution", "pareto", NULL), "exponential");
}

static void test_sweep_flags(void **state)
{
	struct brood_opts o;

	(void)state;
	assert_int_equal(parse_sweep(&o, "--concurrency", "1:8:x2", "--level-time", "5s", NULL), 0);
	assert_true(o.sweep && !o.levels_qps && o.nr_levels == 4 && o.users == 8);
	assert_true(o.level_time_ns == 5 * S_NS);
	opts_close(&o);
	assert_int_equal(parse_sweep(&o, "--qps", "2,4,8", NULL), 0);
	assert_true(o.levels_qps && o.nr_levels == 3 && o.qps == 2);
	assert_true(o.level_time_ns == 30 * S_NS);
	opts_close(&o);
	expect_error(parse_sweep(&o, "-u", "4", NULL), "needs levels");
	expect_error(parse_sweep(&o, "--qps", "1,2", "-t", "5s", NULL), "--level-time");
	expect_error(parse(&o, "--level-time", "5s", NULL), "brood sweep");
}

static void test_token_slots(void **state)
{
	struct brood_opts o;
	char *req;
	size_t len;
	uint32_t off[2];
	unsigned nr;

	(void)state;
	assert_int_equal(parse(&o, "-m", "m", "-o", "50", "--prompt-text",
			       "say \"max_tokens\": 9 and \"min_tokens\":",
			       "--max-tokens-distribution", "exponential", "--min-tokens", NULL),
			 0);
	assert_int_equal(request_build(&o, &o.urls[0], &req, &len), 0);
	assert_int_equal(request_token_slots(req, len, off, &nr), 0);
	assert_int_equal(nr, 2);
	assert_true(off[0] < off[1]);
	assert_memory_equal(req + off[0] - 13, "\"max_tokens\":     50", 20);
	assert_memory_equal(req + off[1] - 13, "\"min_tokens\":     50", 20);
	assert_non_null(strstr(req, "Content-Length: "));
	free(req);
	opts_close(&o);
	/* Constant: plain numbers, as before. */
	assert_int_equal(parse(&o, "-m", "m", "-o", "50", "--min-tokens", NULL), 0);
	assert_int_equal(request_build_body(&o, &req, &len), 0);
	assert_non_null(strstr(req, "\"max_tokens\":50,"));
	assert_non_null(strstr(req, "\"min_tokens\":50}"));
	free(req);
	opts_close(&o);
}

static void level(struct sweep_level *lv, double l, double rps, double ttft_p95, uint64_t ok,
		  uint64_t failed, double slo)
{
	memset(lv, 0, sizeof(*lv));
	lv->level = l;
	lv->sum.rps = rps;
	lv->sum.ttft.count = ok;
	lv->sum.ttft.p95_ms = ttft_p95;
	lv->sum.requests_ok = ok;
	lv->sum.requests_failed = failed;
	lv->sum.slo_attainment = slo;
}

static void test_sweep_verdict(void **state)
{
	struct sweep_level lv[5];
	struct sweep_verdict v;
	struct brood_opts o;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.has_slo = true;
	o.slo_attainment = 0.9;
	/* TTFT p95 more than doubles at 8. */
	level(&lv[0], 1, 10, 100, 100, 0, 1);
	level(&lv[1], 2, 20, 110, 200, 0, 1);
	level(&lv[2], 4, 39, 150, 400, 0, 0.95);
	level(&lv[3], 8, 60, 201, 600, 0, 0.5);
	sweep_evaluate(lv, 4, &o, &v);
	assert_int_equal(v.saturated, 3);
	assert_string_equal(v.reason, "ttft");
	assert_int_equal(v.last_good, 2);
	assert_int_equal(v.slo_best, 2);
	/* Throughput gains less than a quarter of the load's growth. */
	level(&lv[3], 8, 43, 180, 430, 0, 0.5);
	sweep_evaluate(lv, 4, &o, &v);
	assert_string_equal(v.reason, "throughput");
	/* ... but a quarter is enough. */
	level(&lv[3], 8, 49, 180, 490, 0, 0.5);
	sweep_evaluate(lv, 4, &o, &v);
	assert_int_equal(v.saturated, -1);
	assert_int_equal(v.last_good, 3);
	/* More than 1% failed. */
	level(&lv[1], 2, 20, 110, 198, 3, 1);
	sweep_evaluate(lv, 4, &o, &v);
	assert_int_equal(v.saturated, 1);
	assert_string_equal(v.reason, "failures");
	assert_int_equal(v.last_good, 0);
	/* Open loop: dropped requests count as failures. */
	level(&lv[1], 2, 20, 110, 200, 0, 1);
	lv[1].sum.dropped_requests = 5;
	sweep_evaluate(lv, 2, &o, &v);
	assert_string_equal(v.reason, "failures");
	/* No level met the SLO. */
	o.slo_attainment = 1.01;
	sweep_evaluate(lv, 1, &o, &v);
	assert_int_equal(v.slo_best, -1);
	assert_int_equal(v.saturated, -1);
}

static char *slurp_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 16);

	assert_non_null(f);
	assert_non_null(buf);
	assert_true(fread(buf, 1, (1 << 16) - 1, f) > 0);
	fclose(f);
	return buf;
}

/* The open loop's fields: rates over the measured window, attainment over
 * ok + failed + dropped, the keys the issue names. */
static void test_report_fields(void **state)
{
	struct engine_result res;
	struct hist *h[ENGINE_NR_HISTS];
	struct report_summary s;
	struct brood_opts o;
	char path[] = "/tmp/brood-report-XXXXXX";
	char *doc;
	int fd;

	(void)state;
	memset(&res, 0, sizeof(res));
	engine_hists_list(&res.h, h);
	for (int i = 0; i < ENGINE_NR_HISTS; i++)
		assert_int_equal(hist_init_latency(h[i]), 0);
	for (uint64_t i = 1; i <= 90; i++) {
		hist_record(&res.h.e2e, 100 * MS_NS);
		hist_record(&res.h.queue, i * MS_NS / 10);
	}
	hist_record(&res.h.warmup_e2e, 300 * MS_NS);
	res.c.requests_ok = 90;
	res.c.requests_failed = 5;
	res.c.dropped_requests = 5;
	res.c.late_requests = 7;
	res.c.slo_ok = 60;
	res.c.warmup_ok = 3;
	res.c.output_tokens = 90 * 16;
	res.c.tokens_asked = 90 * 16;
	res.c.usage_requests = 90;
	res.elapsed_ns = 12 * S_NS;
	res.measured_ns = 10 * S_NS;
	res.nr_users = 1000;
	assert_int_equal(
	    parse(&o, "--qps", "10", "--warmup", "2s", "--slo", "ttft=1s", "-o", "16", NULL), 0);
	report_summarize(&res, &o, &s);
	assert_true(fabs(s.rps - 9) < 1e-9);
	assert_true(fabs(s.slo_attainment - 0.6) < 1e-9);
	assert_true(fabs(s.goodput_rps - 6) < 1e-9);
	assert_true(s.queue.count == 90 && fabs(s.queue.max_ms - 9) < 0.01);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(report_write_json(path, &s, &o, &res), 0);
	doc = slurp_file(path);
	assert_non_null(strstr(doc, "\"mode\": \"open\""));
	assert_non_null(strstr(doc, "\"queue_ms\": {\"count\": 90"));
	assert_non_null(strstr(doc, "\"late_requests\": 7,"));
	assert_non_null(strstr(doc, "\"dropped_requests\": 5,"));
	assert_non_null(strstr(doc, "\"slo_attainment\": 0.6,"));
	assert_non_null(strstr(doc, "\"goodput_rps\": 6,"));
	assert_non_null(strstr(doc, "\"warmup\": {\"requests_ok\": 3,"));
	assert_non_null(strstr(doc, "never sent")); /* the dropped warning */
	free(doc);
	opts_close(&o);

	/* Closed loop without --slo: no attainment keys. */
	assert_int_equal(parse(&o, "-u", "2", NULL), 0);
	report_summarize(&res, &o, &s);
	assert_true(fabs(s.rps - 90 / 12.0) < 1e-9); /* no warm-up: the whole run */
	assert_int_equal(report_write_json(path, &s, &o, &res), 0);
	doc = slurp_file(path);
	assert_null(strstr(doc, "slo_attainment"));
	assert_non_null(strstr(doc, "\"mode\": \"closed\""));
	free(doc);
	unlink(path);
	opts_close(&o);
	for (int i = 0; i < ENGINE_NR_HISTS; i++)
		hist_close(h[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slo),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_stages_csv),
		cmocka_unit_test(test_stages_json),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_stages_file_sets_the_loop),
		cmocka_unit_test(test_open_loop_flags),
		cmocka_unit_test(test_tokens_flags),
		cmocka_unit_test(test_sweep_flags),
		cmocka_unit_test(test_token_slots),
		cmocka_unit_test(test_sweep_verdict),
		cmocka_unit_test(test_report_fields),
	};

	unsetenv("OPENAI_API_KEY");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
