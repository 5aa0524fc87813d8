/* SPDX-License-Identifier: MIT */
/*
 * brood against brood-mock --fault: one test per fault kind. brood must
 * finish, put every faulted request in the class the fault maps to, and
 * its counts must equal what the mock logged it injected (--fault-log).
 * Timeouts are set well below the injected delays (2 s against 5 s), so a
 * busy machine does not blur the mapping; requests that are not faulted
 * take ~60 ms.
 *
 * argv[1] = brood-mock, argv[2] = brood.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_util.h"

static const char *mock_bin, *brood_bin;

#define NR_REQUESTS 40

struct outcome {
	char *report; /* brood's --json */
	char *log;    /* the mock's --fault-log */
	char *out;    /* brood's stdout */
	char *err;    /* brood's stderr */
	int status;   /* brood's exit status */
};

/*
 * Starts a mock with --fault spec, runs brood (-u 4 -n NR_REQUESTS plus
 * the extra flags, NULL-terminated) against it, stops the mock and reads
 * both sides' JSON.
 */
static void run_fault(struct outcome *o, const char *spec, const char *nreq, int sigint_ms, ...)
{
	char dir[64], log[128], json[128], out[128], err[128], url[64];
	const char *margs[] = { "--fault",   spec,	  "--fault-seed", "7",	      "--fault-log",
				log,	     "--ttft-ms", "20",		  "--itl-ms", "5",
				"--threads", "1",	  "--max-conns",  "1000",     NULL };
	const char *argv[48] = { brood_bin, "run",    "-H", url,  "-m",	    "brood-mock",
				 "--chat",  "-u",     "4",  "-o", "8",	    "-t",
				 "60s",	    "--json", json, "-q", "--seed", "1" };
	int n = 18;
	struct mock m;
	va_list ap;

	tmpdir_make(dir, sizeof(dir));
	snprintf(log, sizeof(log), "%s/faults.json", dir);
	snprintf(json, sizeof(json), "%s/report.json", dir);
	snprintf(out, sizeof(out), "%s/stdout", dir);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	assert_int_equal(mock_start(&m, mock_bin, margs), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", m.port);
	if (nreq) {
		argv[n++] = "-n";
		argv[n++] = nreq;
	}
	va_start(ap, sigint_ms);
	for (const char *a; (a = va_arg(ap, const char *)) && n < 46;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	o->status = sigint_ms ? run_cmd_sigint(argv, out, err, sigint_ms, 120)
			      : run_cmd(argv, out, err, 120);
	assert_int_equal(mock_stop(&m), 0);
	o->report = slurp(json);
	o->log = slurp(log);
	o->out = slurp(out);
	o->err = slurp(err);
	if (o->status != 0 || !o->report)
		fail_msg("brood exited %d:\n%s", o->status, o->err ? o->err : "");
	assert_non_null(o->log);
}

static void outcome_free(struct outcome *o)
{
	free(o->report);
	free(o->log);
	free(o->out);
	free(o->err);
}

static long injected(const struct outcome *o, const char *kind)
{
	const char *path[] = { "faults", kind, NULL };

	return (long)json_num(o->log, path);
}

static long summary(const struct outcome *o, const char *key)
{
	const char *path[] = { "summary", key, NULL };

	return (long)json_num(o->report, path);
}

static long error_count(const struct outcome *o, const char *class)
{
	const char *path[] = { "summary", "errors", class, NULL };

	return (long)json_num(o->report, path);
}

static long status_count(const struct outcome *o, const char *code)
{
	const char *path[] = { "summary", "http_status_codes", code, NULL };

	return (long)json_num(o->report, path);
}

/* Every request is accounted for, and the report says so. */
static void assert_accounted(const struct outcome *o)
{
	assert_int_equal(summary(o, "requests_started"), summary(o, "requests_ok") +
							     summary(o, "requests_failed") +
							     summary(o, "requests_cancelled"));
	assert_non_null(strstr(o->report, "\"accounted\": true"));
}

/*
 * The common case: NR_REQUESTS requests, some faulted with kind; exactly
 * those fail, in class, and the rest succeed.
 */
static void expect_mapped(const char *spec, const char *kind, const char *class, ...)
{
	const char *extra[8] = { NULL };
	struct outcome o;
	va_list ap;
	int n = 0;

	va_start(ap, class);
	for (const char *a; (a = va_arg(ap, const char *)) && n < 7;)
		extra[n++] = a;
	va_end(ap);
	run_fault(&o, spec, "40", 0, extra[0], extra[1], extra[2], extra[3], NULL);
	long got = injected(&o, kind);

	assert_true(got > 0); /* seed 7 at rate 0.3 hits some of 40 */
	assert_int_equal(error_count(&o, class), got);
	assert_int_equal(summary(&o, "requests_failed"), got);
	assert_int_equal(summary(&o, "requests_ok"), NR_REQUESTS - got);
	assert_int_equal(summary(&o, "requests_started"), NR_REQUESTS);
	assert_accounted(&o);
	/* A sample of what went wrong is kept for the class. */
	char key[64];
	snprintf(key, sizeof(key), "\"error_samples\": {\n      \"%s\": [\"%s (", class, class);
	if (!strstr(o.report, key))
		fail_msg("no sample '%s' in\n%s", key, o.report);
	outcome_free(&o);
}

static void test_reset(void **state)
{
	(void)state;
	expect_mapped("reset=0.3", "reset", "reset", NULL);
}

static void test_stall_is_idle_timeout(void **state)
{
	(void)state;
	expect_mapped("stall=0.3:5s", "stall", "idle_timeout", "--idle-timeout", "2s", NULL);
}

static void test_slow_first_byte_is_first_byte_timeout(void **state)
{
	(void)state;
	expect_mapped("slow-first-byte=0.3:5s", "slow-first-byte", "first_byte_timeout",
		      "--first-byte-timeout", "2s", NULL);
}

static void test_slow_first_token_is_first_token_timeout(void **state)
{
	(void)state;
	expect_mapped("slow-first-token=0.3:5s", "slow-first-token", "first_token_timeout",
		      "--first-token-timeout", "2s", NULL);
}

static void test_no_answer_is_timeout(void **state)
{
	(void)state;
	expect_mapped("no-answer=0.3", "no-answer", "timeout", "--timeout", "2s", NULL);
}

static void test_bad_sse_is_protocol(void **state)
{
	(void)state;
	expect_mapped("bad-sse=0.3", "bad-sse", "protocol", NULL);
}

static void test_bad_json_is_protocol(void **state)
{
	(void)state;
	expect_mapped("bad-json=0.3", "bad-json", "protocol", NULL);
}

static void test_truncated_chunked_is_protocol(void **state)
{
	(void)state;
	expect_mapped("truncated-chunked=0.3", "truncated-chunked", "protocol", NULL);
}

static void test_huge_headers_is_protocol(void **state)
{
	(void)state;
	expect_mapped("huge-headers=0.3", "huge-headers", "protocol", NULL);
}

/* 429, 500 and 503 land in http_status and, by code, in http_status_codes. */
static void expect_status(const char *spec, const char *code)
{
	struct outcome o;

	run_fault(&o, spec, "40", 0, NULL);
	long got = injected(&o, code);

	assert_true(got > 0);
	assert_int_equal(error_count(&o, "http_status"), got);
	assert_int_equal(status_count(&o, code), got);
	assert_int_equal(summary(&o, "requests_ok"), NR_REQUESTS - got);
	assert_int_equal(summary(&o, "retries"), 0); /* off by default */
	assert_accounted(&o);
	outcome_free(&o);
}

static void test_429(void **state)
{
	(void)state;
	expect_status("429=0.3:0", "429");
}

static void test_500(void **state)
{
	(void)state;
	expect_status("500=0.3", "500");
}

static void test_503(void **state)
{
	(void)state;
	expect_status("503=0.3", "503");
}

/* Connection: close is no failure: brood reconnects, and counts the closes. */
static void test_close(void **state)
{
	(void)state;
	struct outcome o;

	run_fault(&o, "close=0.3", "40", 0, NULL);
	long got = injected(&o, "close");
	const char *connects[] = { "generator", "connects", NULL };

	assert_true(got > 0);
	assert_int_equal(summary(&o, "requests_ok"), NR_REQUESTS);
	assert_int_equal(summary(&o, "server_closes"), got);
	/* 4 users' first connections, then one more per close but the last few. */
	assert_true(json_num(o.report, connects) >= 4 + got - 4);
	assert_true(json_num(o.report, connects) <= 4 + got);
	outcome_free(&o);
}

/* Without the timeouts, the slow server is measured, not failed. */
static void test_stall_without_idle_timeout_succeeds(void **state)
{
	(void)state;
	struct outcome o;

	run_fault(&o, "stall=0.2:1s", "12", 0, NULL);
	assert_true(injected(&o, "stall") > 0);
	assert_int_equal(summary(&o, "requests_ok"), 12);
	const char *itl_max[] = { "summary", "itl_ms", "max", NULL };
	assert_true(json_num(o.report, itl_max) >= 1000); /* the stall is in ITL */
	outcome_free(&o);
}

/* Over brood's 16 KiB head limit, whatever --max-event-bytes says. */
static void test_huge_headers_named(void **state)
{
	(void)state;
	struct outcome o;

	run_fault(&o, "huge-headers=0.3", "20", 0, "--max-event-bytes", "65536", NULL);
	assert_true(injected(&o, "huge-headers") > 0);
	assert_int_equal(error_count(&o, "protocol"), injected(&o, "huge-headers"));
	assert_non_null(strstr(o.report, "response head larger than 16384 bytes"));
	outcome_free(&o);
}

/*
 * --retries: a 429 is tried again after its Retry-After; every 429 the
 * mock sent is either a retry or the final failure of a request that ran
 * out of retries.
 */
static void test_retries_honour_retry_after(void **state)
{
	(void)state;
	struct outcome o;

	run_fault(&o, "429=0.3:1", "40", 0, "--retries", "3", NULL);
	long got = injected(&o, "429");
	long retries = summary(&o, "retries");
	long failed = summary(&o, "requests_failed");
	const char *elapsed[] = { "summary", "elapsed_s", NULL };

	assert_true(retries > 0);
	assert_int_equal(retries + failed, got);
	assert_int_equal(summary(&o, "requests_started"), NR_REQUESTS);
	assert_int_equal(summary(&o, "requests_ok") + failed, NR_REQUESTS);
	/* Retry-After: 1 was waited for (a lower bound: safe on a busy machine). */
	assert_true(json_num(o.report, elapsed) >= 1.0);
	assert_accounted(&o);
	outcome_free(&o);
}

/*
 * Every kind at once: the classes add up to the faults that map to them,
 * and every request is accounted for.
 */
static void test_mixed(void **state)
{
	(void)state;
	struct outcome o;

	run_fault(&o,
		  "reset=0.05,stall=0.05:5s,slow-first-byte=0.05:5s,slow-first-token=0.05:5s,"
		  "429=0.05:0,500=0.05,503=0.05,bad-sse=0.05,bad-json=0.05,truncated-chunked=0.05,"
		  "huge-headers=0.05,no-answer=0.05,close=0.05",
		  "120", 0, "--idle-timeout", "2s", "--first-byte-timeout", "2s",
		  "--first-token-timeout", "2s", NULL);
	assert_accounted(&o);
	assert_int_equal(summary(&o, "requests_started"), 120);
	assert_int_equal(error_count(&o, "reset"), injected(&o, "reset"));
	assert_int_equal(error_count(&o, "idle_timeout"), injected(&o, "stall"));
	assert_int_equal(error_count(&o, "first_byte_timeout"),
			 injected(&o, "slow-first-byte") + injected(&o, "no-answer"));
	assert_int_equal(error_count(&o, "first_token_timeout"), injected(&o, "slow-first-token"));
	assert_int_equal(error_count(&o, "http_status"),
			 injected(&o, "429") + injected(&o, "500") + injected(&o, "503"));
	assert_int_equal(error_count(&o, "protocol"),
			 injected(&o, "bad-sse") + injected(&o, "bad-json") +
			     injected(&o, "truncated-chunked") + injected(&o, "huge-headers"));
	outcome_free(&o);
}

/*
 * SIGINT: with --grace, the requests in flight finish; with --grace 0 they
 * are cancelled at once. Either way every request is accounted for and the
 * report is written. Each request streams 300 tokens 5 ms apart (~1.5 s).
 */
static void test_sigint_grace(void **state)
{
	(void)state;
	struct outcome o;

	run_fault(&o, "close=0", NULL, 700, "-o", "300", "--grace", "20s", NULL);
	assert_non_null(strstr(o.report, "\"interrupted\": true"));
	assert_int_equal(summary(&o, "requests_cancelled"), 0);
	assert_true(summary(&o, "requests_ok") >= 4);
	assert_accounted(&o);
	outcome_free(&o);

	run_fault(&o, "close=0", NULL, 700, "-o", "300", "--grace", "0", NULL);
	assert_non_null(strstr(o.report, "\"interrupted\": true"));
	assert_int_equal(summary(&o, "requests_cancelled"), 4); /* one per user */
	assert_accounted(&o);
	outcome_free(&o);
}

/* --source-ips binds each connection first (io_uring bind): a local
 * address works, one that is not local fails the connects by name. */
static void test_source_ips(void **state)
{
	(void)state;
	struct outcome o;

	run_fault(&o, "close=0.5", "20", 0, "--source-ips", "127.0.0.2,127.0.0.3", NULL);
	assert_int_equal(summary(&o, "requests_ok"), 20);
	outcome_free(&o);

	run_fault(&o, "close=0", "4", 0, "--source-ips", "192.0.2.1", NULL);
	assert_int_equal(summary(&o, "requests_failed"), 4);
	assert_int_equal(error_count(&o, "connect"), 4);
	assert_non_null(strstr(o.report, "bind to 192.0.2.1"));
	outcome_free(&o);
}

/*
 * A listener whose accept queue is full: brood's pre-flight connect takes
 * the one place (it is never accepted), and every later SYN is dropped, so
 * each connect hangs until --connect-timeout.
 */
static void test_connect_timeout(void **state)
{
	(void)state;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	char dir[64], json[128], out[128], err[128], url[64];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 0), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	tmpdir_make(dir, sizeof(dir));
	snprintf(json, sizeof(json), "%s/report.json", dir);
	snprintf(out, sizeof(out), "%s/stdout", dir);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	const char *argv[] = { brood_bin, "run",    "-H", url, "-m", "m",
			       "-u",	  "1",	    "-n", "2", "-q", "--connect-timeout",
			       "300ms",	  "--json", json, NULL };
	assert_int_equal(run_cmd(argv, out, err, 60), 0);
	close(fd);
	struct outcome o = { .report = slurp(json) };

	assert_non_null(o.report);
	assert_int_equal(error_count(&o, "connect_timeout"), 2);
	assert_int_equal(summary(&o, "requests_failed"), 2);
	assert_accounted(&o);
	free(o.report);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_reset, mocks_reap),
		cmocka_unit_test_teardown(test_stall_is_idle_timeout, mocks_reap),
		cmocka_unit_test_teardown(test_slow_first_byte_is_first_byte_timeout, mocks_reap),
		cmocka_unit_test_teardown(test_slow_first_token_is_first_token_timeout, mocks_reap),
		cmocka_unit_test_teardown(test_no_answer_is_timeout, mocks_reap),
		cmocka_unit_test_teardown(test_bad_sse_is_protocol, mocks_reap),
		cmocka_unit_test_teardown(test_bad_json_is_protocol, mocks_reap),
		cmocka_unit_test_teardown(test_truncated_chunked_is_protocol, mocks_reap),
		cmocka_unit_test_teardown(test_huge_headers_is_protocol, mocks_reap),
		cmocka_unit_test_teardown(test_429, mocks_reap),
		cmocka_unit_test_teardown(test_500, mocks_reap),
		cmocka_unit_test_teardown(test_503, mocks_reap),
		cmocka_unit_test_teardown(test_close, mocks_reap),
		cmocka_unit_test_teardown(test_stall_without_idle_timeout_succeeds, mocks_reap),
		cmocka_unit_test_teardown(test_huge_headers_named, mocks_reap),
		cmocka_unit_test_teardown(test_retries_honour_retry_after, mocks_reap),
		cmocka_unit_test_teardown(test_mixed, mocks_reap),
		cmocka_unit_test_teardown(test_sigint_grace, mocks_reap),
		cmocka_unit_test_teardown(test_source_ips, mocks_reap),
		cmocka_unit_test(test_connect_timeout),
	};

	if (argc < 3) {
		fprintf(stderr, "usage: %s BROOD-MOCK BROOD\n", argv[0]);
		return 2;
	}
	mock_bin = argv[1];
	brood_bin = argv[2];
	if (argc > 3)
		cmocka_set_test_filter(argv[3]); /* e.g. "test_mixed" or "*timeout*" */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
