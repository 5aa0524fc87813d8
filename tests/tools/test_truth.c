/* SPDX-License-Identifier: MIT */
/*
 * truth_diff: brood's receive times against brood-mock's send times. The
 * accuracy figures in bench/RESULTS.md and the end-to-end test rest on it,
 * so each way a trace can disagree with the truth must show in its counts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "truth.h"

static char dir[64];
static char trace_path[128], truth_path[128];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/brood-truth-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(trace_path, sizeof(trace_path), "%s/trace.jsonl", dir);
	snprintf(truth_path, sizeof(truth_path), "%s/truth.tsv", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(trace_path);
	unlink(truth_path);
	rmdir(dir);
	return 0;
}

static const char truth_two_requests[] = "# request_id event_index kind send_ns\n"
					 "7\t0\trole\t1000\n"
					 "9\t0\trole\t5000\n"
					 "7\t1\tcontent\t2000\n"
					 "7\t2\tdone\t3000\n"
					 "9\t1\tcontent\t6000\n";

static void diff(struct truth_diff *d)
{
	char err[256];

	assert_int_equal(truth_diff(trace_path, truth_path, d, err, sizeof(err)), 0);
}

static void test_all_matched(void **state)
{
	(void)state;
	struct truth_diff d;

	write_file(truth_path, truth_two_requests);
	write_file(trace_path, "{\"request_id\":\"7\",\"event_ns\":[1100,2300,3050]}\n"
			       "{\"request_id\":\"9\",\"event_ns\":[5010,6020]}\n");
	diff(&d);
	assert_int_equal(d.truth_events, 5);
	assert_int_equal(d.requests, 2);
	assert_int_equal(d.events_matched, 5);
	assert_int_equal(d.events_unmatched + d.events_missing + d.events_before_send, 0);
	assert_int_equal(d.delay.min, 10);
	assert_int_equal(d.delay.max, 300);
	truth_diff_close(&d);
}

/* An event the server never sent, one brood never saw, one seen "before"
 * it was sent: each is counted, none is matched. */
static void test_disagreements_counted(void **state)
{
	(void)state;
	struct truth_diff d;

	write_file(truth_path, truth_two_requests);
	write_file(trace_path, "{\"request_id\":\"7\",\"event_ns\":[1100,2300,3050,4000]}\n"
			       "{\"request_id\":\"9\",\"event_ns\":[4000]}\n"
			       "{\"request_id\":\"\",\"event_ns\":[]}\n");
	diff(&d);
	assert_int_equal(d.requests, 2);
	assert_int_equal(d.requests_unknown, 1);
	assert_int_equal(d.events_matched, 3);
	assert_int_equal(d.events_unmatched, 1);   /* 7's fourth event */
	assert_int_equal(d.events_missing, 1);	   /* 9's content event */
	assert_int_equal(d.events_before_send, 1); /* 9's role at 4000 < 5000 */
	truth_diff_close(&d);
}

static void test_bad_inputs(void **state)
{
	(void)state;
	struct truth_diff d;
	char err[256];

	write_file(truth_path, "7 0 role\n");
	write_file(trace_path, "{}\n");
	assert_int_equal(truth_diff(trace_path, truth_path, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a brood-mock truth line"));
	truth_diff_close(&d);

	write_file(truth_path, truth_two_requests);
	assert_int_equal(truth_diff(trace_path, truth_path, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--trace-chunks"));
	truth_diff_close(&d);

	assert_int_equal(truth_diff(trace_path, "/nonexistent/truth", &d, err, sizeof(err)),
			 -ENOENT);
	truth_diff_close(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_all_matched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disagreements_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
