/* SPDX-License-Identifier: MIT */
/*
 * Reports: the summary's arithmetic from known histograms and counters, the
 * table, JSON that parses (a small validator below) and holds the keys and
 * numbers, atomic writes that leave no temporary file, CSV header-once.
 */
#include <dirent.h>
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

#include "report.h"

#define MS (1000000ull)

static struct engine_result res;
static struct brood_opts opts;
static char dir[64];

static int setup(void **state)
{
	struct hist *all[] = { &res.h.ttft, &res.h.itl,	 &res.h.tpot,
			       &res.h.e2e,  &res.h.ttfb, &res.h.connect };
	char err[256];
	char *argv[] = { "run", "-H",	      "http://127.0.0.1:8000,http://[::1]:9000/x",
			 "-m",	"m,1",	      "-u",
			 "4",	"-o",	      "100",
			 "-k",	"secret-key", NULL };

	(void)state;
	memset(&res, 0, sizeof(res));
	for (size_t i = 0; i < 6; i++)
		if (hist_init_latency(all[i]))
			return -1;
	/* TTFT 1..100 ms, ITL 10 ms, TPOT 2 ms, E2E 1 s: 100 requests. */
	for (uint64_t i = 1; i <= 100; i++) {
		hist_record(&res.h.ttft, i * MS);
		hist_record(&res.h.tpot, 2 * MS);
		hist_record(&res.h.e2e, 1000 * MS);
	}
	hist_record_n(&res.h.itl, 10 * MS, 9900);
	res.c.requests_ok = 100;
	res.c.requests_failed = 5;
	res.c.errors[ENGINE_ERR_STATUS] = 3;
	res.c.errors[ENGINE_ERR_TIMEOUT] = 2;
	res.c.requests_cancelled = 4;
	res.c.output_tokens = 10000;
	res.c.input_tokens = 51200;
	res.c.usage_requests = 100;
	res.c.chunks = 10000;
	res.elapsed_ns = 10ull * 1000 * MS;
	res.cpu_seconds = 0.5;
	res.shard_cpu_seconds = 0.4;
	res.nr_shards = 2;
	res.nr_users = 4;
	snprintf(res.first_error, sizeof(res.first_error), "HTTP 503 from 127.0.0.1:8000");
	unsetenv("OPENAI_API_KEY");
	if (opts_parse_run(11, argv, &opts, err, sizeof(err)))
		return -1;
	strcpy(dir, "/tmp/brood_report_XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	struct hist *all[] = { &res.h.ttft, &res.h.itl,	 &res.h.tpot,
			       &res.h.e2e,  &res.h.ttfb, &res.h.connect };
	struct dirent *d;
	DIR *dp = opendir(dir);
	char path[512];

	(void)state;
	while (dp && (d = readdir(dp))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		unlink(path);
	}
	if (dp)
		closedir(dp);
	rmdir(dir);
	for (size_t i = 0; i < 6; i++)
		hist_close(all[i]);
	opts_close(&opts);
	return 0;
}

static bool near(double a, double b, double rel)
{
	return fabs(a - b) <= rel * fabs(b) + 1e-12;
}

static void test_summary(void **state)
{
	struct report_summary s;

	(void)state;
	report_summarize(&res, &opts, &s);
	assert_int_equal(s.requests_ok, 100);
	assert_int_equal(s.requests_failed, 5);
	assert_int_equal(s.errors[ENGINE_ERR_STATUS], 3);
	assert_true(near(s.elapsed_s, 10, 1e-12));
	assert_true(near(s.rps, 10, 1e-12));
	assert_true(near(s.output_tokens_per_s, 1000, 1e-12));
	assert_true(near(s.output_tokens_per_s_per_user, 250, 1e-12));
	assert_true(near(s.input_tokens_per_s, 5120, 1e-12));
	assert_true(near(s.output_tokens_per_request, 100, 1e-12));
	assert_string_equal(s.token_method, "usage");
	assert_true(near(s.ttft.mean_ms, 50.5, 1e-12));
	assert_true(near(s.ttft.p50_ms, 50, 1e-3));
	assert_true(near(s.ttft.p90_ms, 90, 1e-3));
	assert_true(near(s.ttft.p95_ms, 95, 1e-3));
	assert_true(near(s.ttft.p99_ms, 99, 1e-3));
	assert_true(near(s.ttft.max_ms, 100, 1e-12));
	assert_true(s.ttft.p99_ms <= s.ttft.max_ms);
	assert_int_equal(s.ttft.count, 100);
	assert_true(near(s.itl.p50_ms, 10, 1e-12)); /* capped at the exact max */
	assert_int_equal(s.itl.count, 9900);
	assert_true(near(s.tpot.mean_ms, 2, 1e-12));
	assert_true(near(s.e2e.max_ms, 1000, 1e-12));
	assert_true(near(s.cpu_seconds, 0.5, 1e-12));
	assert_true(near(s.cpu_ns_per_chunk, 50000, 1e-12));
	assert_int_equal(s.nr_users, 4);
	assert_int_equal(s.prompt_tokens, 512);
	/* The failed requests are a warning with the first error. */
	assert_true(s.nr_warnings >= 1);
	assert_non_null(strstr(s.warnings[0], "5 requests failed; first: HTTP 503"));

	/* Some requests without usage: counted by chunks, with a warning. */
	res.c.usage_requests = 90;
	report_summarize(&res, &opts, &s);
	assert_string_equal(s.token_method, "chunks");
	assert_non_null(strstr(s.warnings[1], "10 of 100 ok requests had no usage"));
	res.c.usage_requests = 100;
}

static void test_summary_edge_cases(void **state)
{
	struct engine_result empty;
	struct report_summary s;

	(void)state;
	/* Nothing ran: no histograms, no time. No NaN, no division by zero. */
	memset(&empty, 0, sizeof(empty));
	report_summarize(&empty, &opts, &s);
	assert_true(s.rps == 0 && s.output_tokens_per_s == 0 && s.cpu_ns_per_chunk == 0);
	assert_int_equal(s.ttft.count, 0);
	assert_string_equal(s.token_method, "chunks");
	assert_non_null(strstr(s.warnings[0], "no request succeeded"));
	/* Early stop and interruption are reported. */
	res.c.output_tokens = 5000;
	res.interrupted = true;
	report_summarize(&res, &opts, &s);
	res.c.output_tokens = 10000;
	res.interrupted = false;
	{
		bool early = false, intr = false;

		for (unsigned i = 0; i < s.nr_warnings; i++) {
			early |= strstr(s.warnings[i], "50.0 output tokens on average") != NULL;
			intr |= strstr(s.warnings[i], "interrupted") != NULL;
		}
		assert_true(early && intr);
	}
}

static void test_print(void **state)
{
	struct report_summary s;
	char *buf = NULL, failed[128];
	size_t len = 0;
	FILE *f;

	(void)state;
	snprintf(failed, sizeof(failed), "failed 5 (%s 3, %s 2)",
		 engine_err_name(ENGINE_ERR_STATUS), engine_err_name(ENGINE_ERR_TIMEOUT));
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	report_summarize(&res, &opts, &s);
	report_print(f, &s, &opts);
	fclose(f);
	if (!strstr(buf, failed))
		fail_msg("'%s' not in:\n%s", failed, buf);
	for (const char *want = "http://127.0.0.1:8000\0model m,1\0ok 100\0RPS 10.00\0TTFT\0ITL\0"
				"TPOT\0E2E\0output 1000.0 (250.00 per user)\0counted by usage\0"
				"Generator CPU\0"
				"50000 ns per chunk\0warning: 5 requests failed\0";
	     *want; want += strlen(want) + 1)
		if (!strstr(buf, want))
			fail_msg("'%s' not in:\n%s", want, buf);
	assert_null(strstr(buf, "secret-key"));
	free(buf);
}

/* A small strict JSON validator: enough to say the output parses. */
static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *value(const char *p, int depth);

static const char *string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (; *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 4;
			} else if (!*p || !strchr("\"\\/bfnrt", *p)) {
				return NULL;
			}
		}
	}
	return p + 1;
}

static const char *number(const char *p)
{
	char *end;

	if (*p != '-' && (*p < '0' || *p > '9'))
		return NULL;
	strtod(p, &end);
	return end;
}

static const char *container(const char *p, int depth, char close)
{
	p = ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (close == '}') {
			p = string(p);
			if (!p || *(p = ws(p)) != ':')
				return NULL;
			p++;
		}
		p = value(ws(p), depth + 1);
		if (!p)
			return NULL;
		p = ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
		p = ws(p);
	}
}

static const char *value(const char *p, int depth)
{
	if (depth > 32)
		return NULL;
	switch (*p) {
	case '{':
		return container(p, depth, '}');
	case '[':
		return container(p, depth, ']');
	case '"':
		return string(p);
	case 't':
		return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f':
		return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n':
		return strncmp(p, "null", 4) ? NULL : p + 4;
	default:
		return number(p);
	}
}

static bool json_valid(const char *s)
{
	const char *end = value(ws(s), 0);

	return end && !*ws(end);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int count_entries(void)
{
	DIR *dp = opendir(dir);
	struct dirent *d;
	int n = 0;

	while ((d = readdir(dp)))
		n += d->d_name[0] != '.';
	closedir(dp);
	return n;
}

static void test_validator(void **state)
{
	(void)state;
	assert_true(json_valid("{\"a\": [1, -2.5e3, true, null, \"x\\u00e9\"], \"b\": {}}"));
	assert_false(json_valid("{\"a\": 1,}"));
	assert_false(json_valid("{\"a\": nan}"));
	assert_false(json_valid("{\"a\": \"x\ny\"}"));
	assert_false(json_valid("{\"a\": 1} x"));
}

static void test_json(void **state)
{
	struct report_summary s;
	char path[128], *json, errors[256];

	(void)state;
	report_summarize(&res, &opts, &s);
	snprintf(path, sizeof(path), "%s/r.json", dir);
	assert_int_equal(report_write_json(path, &s, &opts, &res), 0);
	json = slurp(path);
	assert_non_null(json);
	assert_true(json_valid(json));
	snprintf(errors, sizeof(errors), "\"errors\": {\"%s\": 0, \"%s\": 3, \"%s\": 0, \"%s\": 2,",
		 engine_err_name(ENGINE_ERR_CONNECT), engine_err_name(ENGINE_ERR_STATUS),
		 engine_err_name(ENGINE_ERR_PROTOCOL), engine_err_name(ENGINE_ERR_TIMEOUT));
	if (!strstr(json, errors))
		fail_msg("'%s' not in:\n%s", errors, json);
	for (const char *want =
		 "\"schema_version\": 2,\0"
		 "\"requests_ok\": 100,\0"
		 "\"requests_failed\": 5,\0"
		 "\"rps\": 10,\0"
		 "\"output_tokens_per_s\": 1000,\0"
		 "\"input_tokens_per_s\": 5120,\0"
		 "\"ttft_ms\": {\"count\": 100, \"mean\": 50.5, \"p50\": \0"
		 "\"itl_ms\": {\0\"tpot_ms\": {\"count\": 100, \"mean\": 2,\0"
		 "\"e2e_ms\": {\0\"max\": 1000}\0"
		 "\"method\": \"usage\"\0\"output_total\": 10000,\0"
		 "\"cpu_seconds\": 0.5,\0\"chunks\": 10000,\0"
		 "\"cpu_ns_per_chunk\": 50000,\0"
		 "\"hosts\": [\"http://127.0.0.1:8000\", \"http://[::1]:9000/x\"]\0"
		 "\"model\": \"m,1\"\0\"api_key_set\": true\0\"max_tokens\": 100,\0"
		 "\"timeout_s\": 600,\0\"users\": 4,\0\"seed\": 0\0"
		 "\"warnings\": [\0\"first_error\": \"HTTP 503 from 127.0.0.1:8000\"\0";
	     *want; want += strlen(want) + 1)
		if (!strstr(json, want))
			fail_msg("'%s' not in:\n%s", want, json);
	assert_null(strstr(json, "secret-key"));
	free(json);
	/* Rewrite in place; no temporary file is left next to it. */
	assert_int_equal(report_write_json(path, &s, &opts, &res), 0);
	assert_int_equal(count_entries(), 1);
	unlink(path);
	/* An empty result (no histograms) still makes valid JSON. */
	{
		struct engine_result empty;
		struct report_summary es;

		memset(&empty, 0, sizeof(empty));
		report_summarize(&empty, &opts, &es);
		assert_int_equal(report_write_json(path, &es, &opts, &empty), 0);
		json = slurp(path);
		assert_true(json_valid(json));
		free(json);
		unlink(path);
	}
	/* A directory that does not exist: an error, nothing written. */
	snprintf(path, sizeof(path), "%s/missing/r.json", dir);
	assert_int_equal(report_write_json(path, &s, &opts, &res), -ENOENT);
	assert_int_equal(count_entries(), 0);
}

/* --tokenizer: method, usage cross-check and ring loss in JSON, table and warnings. */
static void test_tokenized(void **state)
{
	struct engine_result r = res;
	struct brood_opts o = opts;
	struct report_summary s;
	char path[128], *json, *text;
	size_t text_len;
	FILE *f;

	(void)state;
	o.tokenizer = "cl100k_base";
	o.tokenizer_kind = "tiktoken";
	r.tokenized = true;
	r.nr_tok_threads = 1;
	r.tok_cpu_seconds = 0.25;
	r.tok.requests = 98;
	r.tok.output_tokens = 9800;
	r.c.output_tokens = 9800;
	r.tok.usage_requests = 98;
	r.tok.usage_mismatch_requests = 4;
	r.tok.usage_mismatch_abs_sum = 10;
	r.tok.usage_mismatch_max = 5;
	r.c.tok_ring_drops = 3;
	r.c.tok_lost = 2;
	report_summarize(&r, &o, &s);
	assert_string_equal(s.token_method, "tokenizer");
	assert_false(s.tok_complete);
	assert_int_equal(s.tok_lost, 2);
	assert_true(near(s.usage_mismatch_mean, 2.5, 1e-9));
	snprintf(path, sizeof(path), "%s/t.json", dir);
	assert_int_equal(report_write_json(path, &s, &o, &r), 0);
	json = slurp(path);
	assert_non_null(json);
	assert_true(json_valid(json));
	for (const char *want =
		 "\"method\": \"tokenizer\"\0\"output_total\": 9800,\0"
		 "\"tokenizer\": \"cl100k_base\"\0\"tokenizer_kind\": \"tiktoken\"\0"
		 "\"timed_requests\": 98,\0\"usage_checked_requests\": 98,\0"
		 "\"usage_mismatch_requests\": 4,\0\"usage_mismatch_mean_abs\": 2.5,\0"
		 "\"usage_mismatch_max_abs\": 5,\0\"ring_drops\": 3,\0"
		 "\"lost_requests\": 2,\0\"complete\": false\0"
		 "token timing incomplete\0usage.completion_tokens differs\0";
	     *want; want += strlen(want) + 1)
		if (!strstr(json, want))
			fail_msg("'%s' not in:\n%s", want, json);
	free(json);
	unlink(path);
	f = open_memstream(&text, &text_len);
	report_print(f, &s, &o);
	fclose(f);
	assert_non_null(strstr(text, "counted by tokenizer"));
	assert_non_null(strstr(text, "Tokenizer      cl100k_base (tiktoken)"));
	assert_null(strstr(text, "counted as content chunks"));
	free(text);
	/* Without a tokenizer the same keys say so. */
	report_summarize(&res, &opts, &s);
	assert_int_equal(report_write_json(path, &s, &opts, &res), 0);
	json = slurp(path);
	assert_non_null(strstr(json, "\"tokenizer\": null"));
	assert_non_null(strstr(json, "\"ring_drops\": 0,"));
	assert_non_null(strstr(json, "\"complete\": true"));
	free(json);
	unlink(path);
}

/* Fields in one CSV line, counting quoted commas as text. */
static int csv_fields(const char *line, size_t len)
{
	bool quoted = false;
	int n = 1;

	for (size_t i = 0; i < len; i++) {
		if (line[i] == '"')
			quoted = !quoted;
		else if (line[i] == ',' && !quoted)
			n++;
	}
	return n;
}

static void test_csv(void **state)
{
	struct report_summary s;
	char path[128], *csv, *line, cols[128];
	int lines = 0, header_fields = 0;

	(void)state;
	report_summarize(&res, &opts, &s);
	snprintf(path, sizeof(path), "%s/sum.csv", dir);
	assert_int_equal(report_append_csv(path, &s, &opts), 0);
	assert_int_equal(report_append_csv(path, &s, &opts), 0);
	csv = slurp(path);
	assert_non_null(csv);
	assert_int_equal(strncmp(csv, "finished_utc,hosts,model,api,stream,users,", 42), 0);
	snprintf(cols, sizeof(cols), ",err_%s,err_%s,", engine_err_name(ENGINE_ERR_CONNECT),
		 engine_err_name(ENGINE_ERR_STATUS));
	assert_non_null(strstr(csv, cols));
	assert_non_null(strstr(csv, ",ttft_ms_mean,ttft_ms_p50,"));
	assert_non_null(strstr(csv, ",\"m,1\",completions,1,4,"));
	assert_non_null(strstr(csv, "http://127.0.0.1:8000 http://[::1]:9000/x"));
	for (line = csv; *line; lines++) {
		size_t len = strcspn(line, "\n");
		int fields = csv_fields(line, len);

		if (!lines)
			header_fields = fields;
		else
			assert_int_equal(fields, header_fields);
		assert_int_equal(line[len], '\n'); /* every row complete */
		line += len + 1;
	}
	assert_int_equal(lines, 3); /* one header, two rows */
	assert_null(strstr(csv + 1, "finished_utc"));
	free(csv);

	/* An existing empty file gets the header too. */
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(report_append_csv(path, &s, &opts), 0);
	csv = slurp(path);
	assert_int_equal(strncmp(csv, "finished_utc,", 13), 0);
	free(csv);
	unlink(path);

	snprintf(path, sizeof(path), "%s/missing/sum.csv", dir);
	assert_int_equal(report_append_csv(path, &s, &opts), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_summary),	  cmocka_unit_test(test_summary_edge_cases),
		cmocka_unit_test(test_print),	  cmocka_unit_test(test_validator),
		cmocka_unit_test(test_json),	  cmocka_unit_test(test_csv),
		cmocka_unit_test(test_tokenized),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
