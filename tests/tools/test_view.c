/* SPDX-License-Identifier: MIT */
/*
 * The live view (dashboard redrawn in place on a terminal, plain lines
 * every 10 s otherwise) and the Prometheus text of a known state.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "view.h"

#define S  (1000000000ull)
#define MS (1000000ull)

static struct live_hist lh[LIVE_NR_HISTS];

static void progress_at(struct engine_progress *p, struct engine_point *w, uint64_t secs)
{
	memset(p, 0, sizeof(*p));
	memset(w, 0, sizeof(*w));
	p->elapsed_ns = secs * S;
	p->c.users_spawned = 8;
	p->c.connects = 8;
	p->c.requests_ok = 100 * secs;
	p->c.requests_failed = 3;
	p->c.errors[ENGINE_ERR_TIMEOUT] = 3;
	p->h = lh;
	p->window = w;
	w->dt_s = 1;
	w->ok = 100;
	w->output_tokens = 2000;
	w->ttft_count = 100;
	w->ttft_p50_ns = 20 * MS;
	w->ttft_p99_ns = 31 * MS;
	w->itl_count = 1900;
	w->itl_p50_ns = 5 * MS;
	w->itl_p99_ns = 7 * MS;
}

static char *render(bool tty, uint64_t run_time_ns, const uint64_t *secs, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct view v;

	view_init(&v, f, tty, 8, run_time_ns, 0);
	for (size_t i = 0; i < n; i++) {
		struct engine_progress p;
		struct engine_point w;

		progress_at(&p, &w, secs[i]);
		view_update(&v, &p);
	}
	view_clear(&v);
	fclose(f);
	return buf;
}

static void test_dashboard(void **state)
{
	static const uint64_t secs[] = { 1, 30 };
	char *out = render(true, 60 * S, secs, 2);

	(void)state;
	/* The second frame goes back up over the first; the end clears it. */
	assert_non_null(strstr(out, "\033[4A"));
	assert_non_null(strstr(out, "\033[J"));
	assert_non_null(strstr(out, "[###############...............]  50%  30s / 60s"));
	assert_non_null(strstr(out, "users 8/8  connections 8  RPS 100.0  tokens/s 2000"));
	assert_non_null(strstr(out, "TTFT ms p50    20.0  p99    31.0"));
	assert_non_null(strstr(out, "ITL ms p50     5.0  p99     7.0"));
	assert_non_null(strstr(out, "errors: timeout 3"));
	free(out);
}

static void test_plain(void **state)
{
	static const uint64_t secs[] = { 1, 2, 9, 10, 11, 20 };
	char *out = render(false, 0, secs, 6);
	int lines = 0;

	(void)state;
	for (char *p = out; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, 2); /* at 10 s and 20 s */
	assert_null(strchr(out, '\033'));
	assert_non_null(strstr(out, "[   10s] users 8/8  rps 100.0  tokens/s 2000  ttft ms p50"));
	free(out);
}

static void test_metrics_text(void **state)
{
	struct metrics_state *st = calloc(1, sizeof(*st));
	struct sbuf b = { 0 };
	char want[128];

	(void)state;
	st->c.requests_ok = 7;
	st->c.requests_failed = 2;
	st->c.errors[ENGINE_ERR_RESET] = 2;
	st->users = 4;
	snprintf(st->model, sizeof(st->model), "m\"x\\y");
	for (int i = 0; i < 7; i++)
		live_record(&st->h[LIVE_TTFT], (uint64_t)(i + 1) * 10 * MS);
	metrics_format(&b, st);
	assert_int_equal(b.err, 0);
	assert_non_null(strstr(b.p, "# TYPE brood_requests_total counter\n"));
	assert_non_null(strstr(b.p, "brood_requests_total{outcome=\"ok\"} 7\n"));
	assert_non_null(strstr(b.p, "brood_errors_total{class=\"reset\"} 2\n"));
	assert_non_null(strstr(b.p, "brood_users_target 4\n"));
	assert_non_null(strstr(b.p, ",model=\"m\\\"x\\\\y\"} 1\n"));
	assert_non_null(strstr(b.p, "brood_running 0\n"));
	assert_non_null(strstr(b.p, "# TYPE brood_ttft_seconds histogram\n"));
	assert_non_null(strstr(b.p, "brood_ttft_seconds_bucket{le=\"+Inf\"} 7\n"));
	assert_non_null(strstr(b.p, "brood_ttft_seconds_count 7\n"));
	assert_non_null(strstr(b.p, "brood_ttft_seconds_sum 0.28\n"));
	/* 10..50 ms are under the edge nearest 50 ms; 60, 70 are not. */
	snprintf(want, sizeof(want), "brood_ttft_seconds_bucket{le=\"%.9g\"} 5\n",
		 (double)live_bucket_upper_ns(live_bucket_of(50 * MS)) / 1e9);
	assert_non_null(strstr(b.p, want));
	sbuf_free(&b);
	free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dashboard),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_metrics_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
