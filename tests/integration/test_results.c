/* SPDX-License-Identifier: MIT */
/*
 * What a run leaves behind, end to end against brood-mock: the JSON result
 * is valid against docs/result.schema.json, its histograms decode to the
 * run's exact percentiles and its time series adds up to the totals; the
 * Prometheus endpoint parses as the text format and, scraped after the load
 * (--metrics-linger), agrees with the summary; the CSV gains one row per run
 * under one header; the trace has a line per request; brood report and
 * brood compare read results back and reject what is not one.
 *
 * argv[1] = brood-mock, argv[2] = brood, argv[3] = docs/result.schema.json,
 * argv[4] = validate_schema.py, argv[5] = a sweep result fixture.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_util.h"
#include "hist.h"
#include "json_dom.h"
#include "result.h"

static const char *mock_bin, *brood_bin, *schema_path, *validator, *sweep_path;

/* ---- Prometheus text format ---- */

#define MAX_SAMPLES 256

struct sample {
	char name[96];
	char labels[128];
	double value;
};

struct scrape {
	struct sample s[MAX_SAMPLES];
	int n;
};

/* The family a sample belongs to: histogram samples drop their suffix. */
static void family_of(const char *name, const char *types, char *out, size_t len)
{
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };

	snprintf(out, len, "%s", name);
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(name), k = strlen(suffixes[i]);
		char fam[96], want[128];

		if (n <= k || strcmp(name + n - k, suffixes[i]))
			continue;
		snprintf(fam, sizeof(fam), "%.*s", (int)(n - k), name);
		snprintf(want, sizeof(want), "\n%s histogram\n", fam);
		if (strstr(types, want))
			snprintf(out, len, "%s", fam);
	}
}

static bool isalpha_c(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool valid_name(const char *s)
{
	if (!*s || !(isalpha_c(*s)))
		return false;
	for (; *s; s++)
		if (!(isalpha_c(*s) || (*s >= '0' && *s <= '9') || *s == '_' || *s == ':'))
			return false;
	return true;
}

/*
 * Parses the text exposition format strictly enough to catch what a
 * Prometheus server would reject: # HELP / # TYPE lines, TYPE before the
 * family's samples and at most once, metric names and label syntax,
 * numeric values; histogram buckets cumulative, le increasing, +Inf equal
 * to _count.
 */
static void parse_metrics(char *text, struct scrape *out)
{
	char types[8192] = "\n";
	char *save, *line;

	out->n = 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#') {
			char kw[8], name[96], rest[128];

			assert_true(sscanf(line, "# %7s %95s %127[^\n]", kw, name, rest) == 3);
			assert_true(valid_name(name));
			if (!strcmp(kw, "TYPE")) {
				char entry[256];

				assert_true(!strcmp(rest, "counter") || !strcmp(rest, "gauge") ||
					    !strcmp(rest, "histogram"));
				snprintf(entry, sizeof(entry), "\n%s ", name);
				if (strstr(types, entry))
					fail_msg("TYPE of %s given twice", name);
				for (int i = 0; i < out->n; i++) {
					size_t k = strlen(name);
					const char *sn = out->s[i].name;

					if (!strncmp(sn, name, k) &&
					    (!sn[k] || (!strcmp(rest, "histogram") &&
							(!strcmp(sn + k, "_bucket") ||
							 !strcmp(sn + k, "_sum") ||
							 !strcmp(sn + k, "_count")))))
						fail_msg("TYPE of %s after its samples", name);
				}
				snprintf(types + strlen(types), sizeof(types) - strlen(types),
					 "%s %s\n", name, rest);
			} else {
				assert_string_equal(kw, "HELP");
			}
			continue;
		}
		assert_true(out->n < MAX_SAMPLES);
		struct sample *s = &out->s[out->n++];
		char *brace = strchr(line, '{'), *space, *end;

		if (brace) {
			char *close = strchr(brace, '}');

			assert_non_null(close);
			snprintf(s->name, sizeof(s->name), "%.*s", (int)(brace - line), line);
			snprintf(s->labels, sizeof(s->labels), "%.*s", (int)(close - brace - 1),
				 brace + 1);
			/* name="value"[,name="value"] */
			for (char *l = s->labels; *l;) {
				char *eq = strchr(l, '=');

				assert_non_null(eq);
				assert_true(eq[1] == '"');
				char *q = strchr(eq + 2, '"');

				assert_non_null(q);
				l = q + 1;
				if (*l == ',')
					l++;
			}
			space = close + 1;
		} else {
			space = strchr(line, ' ');
			assert_non_null(space);
			snprintf(s->name, sizeof(s->name), "%.*s", (int)(space - line), line);
			s->labels[0] = '\0';
		}
		assert_true(valid_name(s->name));
		assert_true(*space == ' ');
		s->value = strtod(space + 1, &end);
		assert_true(end != space + 1 && *end == '\0');
		{
			char fam[96], entry[128];

			family_of(s->name, types, fam, sizeof(fam));
			snprintf(entry, sizeof(entry), "\n%s ", fam);
			if (!strstr(types, entry))
				fail_msg("sample %s without a TYPE", s->name);
		}
	}
}

static double sample(const struct scrape *sc, const char *name, const char *labels)
{
	for (int i = 0; i < sc->n; i++)
		if (!strcmp(sc->s[i].name, name) && !strcmp(sc->s[i].labels, labels ? labels : ""))
			return sc->s[i].value;
	fail_msg("no sample %s{%s}", name, labels ? labels : "");
	return NAN;
}

/* Buckets cumulative, le increasing, +Inf == _count. */
static void check_histogram(const struct scrape *sc, const char *fam)
{
	char bucket[128], count[128];
	double last_le = -1, last = -1, inf = -1;
	int n = 0;

	snprintf(bucket, sizeof(bucket), "%s_bucket", fam);
	snprintf(count, sizeof(count), "%s_count", fam);
	for (int i = 0; i < sc->n; i++) {
		const struct sample *s = &sc->s[i];
		double le;

		if (strcmp(s->name, bucket))
			continue;
		assert_true(!strncmp(s->labels, "le=\"", 4));
		le = strcmp(s->labels, "le=\"+Inf\"") ? strtod(s->labels + 4, NULL) : INFINITY;
		assert_true(le > last_le);
		assert_true(s->value >= last);
		last_le = le;
		last = s->value;
		if (isinf(le))
			inf = s->value;
		n++;
	}
	assert_true(n > 2);
	assert_true(inf >= 0);
	assert_true(inf == sample(sc, count, NULL));
}

/* GET /metrics from 127.0.0.1:port; returns the body (malloc'd). */
static char *scrape_http(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap + 1), *body;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	assert_non_null(buf);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	while ((n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	assert_true(!strncmp(buf, "HTTP/1.1 200 OK\r\n", 17));
	assert_non_null(strstr(buf, "Content-Type: text/plain; version=0.0.4"));
	body = strstr(buf, "\r\n\r\n");
	assert_non_null(body);
	memmove(buf, body + 4, strlen(body + 4) + 1);
	return buf;
}

/* ---- JSON result ---- */

static double num(struct json_val root, const char *path)
{
	double v = json_path_num(root, path, NAN);

	if (!isfinite(v))
		fail_msg("no number at %s", path);
	return v;
}

static const char *str_of(struct json_val root, const char *path)
{
	struct json_val v;
	size_t len;
	const char *s = json_path(root, path, &v) ? json_as_str(v, &len) : NULL;

	if (!s)
		fail_msg("no string at %s", path);
	return s;
}

static double column_sum(struct json_val root, const char *path)
{
	struct json_val a, x;
	double sum = 0, v;

	assert_true(json_path(root, path, &a));
	for (size_t i = 0; json_arr_at(a, i, &x); i++) {
		assert_true(json_as_double(x, &v));
		sum += v;
	}
	return sum;
}

/* As report.c prints a percentile: the slot's top, capped at the max, in ms. */
static double pct_ms(const struct hist *h, double p)
{
	uint64_t v = hist_percentile(h, p);

	return (double)(v < h->max ? v : h->max) / 1e6;
}

static bool same(double a, double b)
{
	return fabs(a - b) <= 1e-9 * fmax(1, fabs(a));
}

static void check_histograms(struct json_val root)
{
	static const char *const names[] = { "ttft", "itl", "tpot", "e2e" };
	static const char *const ps[] = { "p50", "p90", "p95", "p99" };
	static const double pv[] = { 50, 90, 95, 99 };

	for (size_t i = 0; i < 4; i++) {
		struct json_val v;
		struct hist h;
		char err[256], path[64];

		snprintf(path, sizeof(path), "histograms.%s", names[i]);
		assert_true(json_path(root, path, &v));
		if (result_hist_decode(v, &h, err, sizeof(err)) < 0)
			fail_msg("%s: %s", path, err);
		snprintf(path, sizeof(path), "summary.%s_ms.count", names[i]);
		assert_true(hist_count(&h) == (uint64_t)num(root, path));
		assert_true(hist_count(&h) > 0);
		for (size_t k = 0; k < 4; k++) {
			snprintf(path, sizeof(path), "summary.%s_ms.%s", names[i], ps[k]);
			if (!same(pct_ms(&h, pv[k]), num(root, path)))
				fail_msg("%s: decoded %.10g, summary %.10g", path,
					 pct_ms(&h, pv[k]), num(root, path));
		}
		snprintf(path, sizeof(path), "summary.%s_ms.mean", names[i]);
		assert_true(same(hist_mean(&h) / 1e6, num(root, path)));
		snprintf(path, sizeof(path), "summary.%s_ms.max", names[i]);
		assert_true(same((double)h.max / 1e6, num(root, path)));
		hist_close(&h);
	}
}

/* Merging two decoded copies doubles every slot and keeps min and max:
 * what "merge two results" relies on. */
static int doubled(size_t index, uint64_t count, void *arg)
{
	const struct hist *a = arg;

	return a->counts[index] == 2 * count ? 0 : -1;
}

static void check_merge(struct json_val root)
{
	struct json_val v;
	struct hist a, b;
	char err[256];

	assert_true(json_path(root, "histograms.ttft", &v));
	assert_int_equal(result_hist_decode(v, &a, err, sizeof(err)), 0);
	assert_int_equal(result_hist_decode(v, &b, err, sizeof(err)), 0);
	assert_int_equal(hist_merge(&a, &b), 0);
	assert_true(hist_count(&a) == 2 * hist_count(&b));
	assert_int_equal(hist_for_each_slot(&b, doubled, &a), 0);
	assert_true(a.min == b.min && a.max == b.max);
	assert_true(same(hist_mean(&a), hist_mean(&b)));
	hist_close(&a);
	hist_close(&b);
}

static void check_series(struct json_val root)
{
	double ok = num(root, "summary.requests_ok"), failed = num(root, "summary.requests_failed");

	assert_true(num(root, "series.points") >= 2);
	assert_true(column_sum(root, "series.ok") == ok);
	assert_true(column_sum(root, "series.failed") == failed);
	assert_true(column_sum(root, "series.finished") == ok + failed);
	assert_true(column_sum(root, "series.output_tokens") == num(root, "tokens.output_total"));
	assert_true(column_sum(root, "series.started") ==
		    ok + failed + num(root, "summary.requests_cancelled"));
}

/* ---- the tests ---- */

static int metrics_port_of(const char *err_path)
{
	long end = now_ms() + 20000;

	while (now_ms() < end) {
		char *e = slurp(err_path);
		const char *p = e ? strstr(e, "metrics on http://127.0.0.1:") : NULL;
		int port = p ? atoi(p + strlen("metrics on http://127.0.0.1:")) : 0;

		free(e);
		if (port > 0)
			return port;
		usleep(20000);
	}
	fail_msg("brood did not say where it serves metrics");
	return -1;
}

static void wait_file(const char *path, int timeout_s)
{
	long end = now_ms() + timeout_s * 1000L;
	struct stat st;

	while (stat(path, &st) < 0) {
		if (now_ms() > end)
			fail_msg("%s did not appear", path);
		usleep(20000);
	}
}

static void test_run_outputs(void **state)
{
	static const char *const mock_args[] = { "--ttft-ms", "20", "--itl-ms", "4", NULL };
	char dir[64], url[64], port_s[32];
	struct mock m;

	(void)state;
	tmpdir_make(dir, sizeof(dir));
	PATH(json, dir, "a.json");
	PATH(html, dir, "a.html");
	PATH(csv, dir, "runs.csv");
	PATH(trace, dir, "trace.jsonl");
	PATH(out, dir, "stdout");
	PATH(err, dir, "stderr");
	assert_int_equal(mock_start(&m, mock_bin, mock_args), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", m.port);
	snprintf(port_s, sizeof(port_s), "0");

	const char *argv[] = { brood_bin,
			       "run",
			       "-H",
			       url,
			       "-u",
			       "6",
			       "-t",
			       "2500ms",
			       "-o",
			       "12",
			       "--json",
			       json,
			       "--html",
			       html,
			       "--summary-file",
			       csv,
			       "--trace",
			       trace,
			       "--metrics-port",
			       port_s,
			       "--metrics-linger",
			       "60s",
			       "-q",
			       NULL };
	pid_t pid = spawn(argv, out, err);

	assert_true(pid > 0);
	int port = metrics_port_of(err);

	/* Scraped while the load runs: it parses, and shows the run going on. */
	{
		struct scrape *sc = calloc(1, sizeof(*sc));
		char *body;

		usleep(1500 * 1000);
		body = scrape_http(port);
		parse_metrics(body, sc);
		free(body);
		free(sc);
	}
	/* The JSON is written (renamed into place) before brood lingers. */
	wait_file(json, 30);

	struct scrape *sc = calloc(1, sizeof(*sc));
	char *body = scrape_http(port);
	char *doc_text;
	struct json_doc *d;
	char jerr[256];

	parse_metrics(body, sc);
	free(body);
	kill(pid, SIGINT); /* ends the linger */
	assert_int_equal(wait_exit(pid, 30), 0);

	assert_int_equal(json_doc_load(json, &d, jerr, sizeof(jerr)), 0);
	struct json_val root = json_doc_root(d);

	/* The endpoint agrees with the final summary. */
	assert_true(sample(sc, "brood_running", NULL) == 0);
	assert_true(sample(sc, "brood_requests_total", "outcome=\"ok\"") ==
		    num(root, "summary.requests_ok"));
	assert_true(sample(sc, "brood_requests_total", "outcome=\"failed\"") ==
		    num(root, "summary.requests_failed"));
	assert_true(sample(sc, "brood_requests_total", "outcome=\"cancelled\"") ==
		    num(root, "summary.requests_cancelled"));
	assert_true(sample(sc, "brood_errors_total", "class=\"timeout\"") ==
		    num(root, "summary.errors.timeout"));
	assert_true(sample(sc, "brood_responses_total", "code=\"2xx\"") ==
		    num(root, "summary.responses.2xx"));
	assert_true(sample(sc, "brood_output_tokens_total", NULL) ==
		    num(root, "tokens.output_total"));
	assert_true(sample(sc, "brood_users", NULL) == 6);
	{
		char info[128];

		snprintf(info, sizeof(info), "version=\"%s\",model=\"brood-mock\"",
			 str_of(root, "version"));
		assert_true(sample(sc, "brood_info", info) == 1);
	}
	assert_true(sample(sc, "brood_ttft_seconds_count", NULL) ==
		    num(root, "summary.ttft_ms.count"));
	assert_true(sample(sc, "brood_itl_seconds_count", NULL) ==
		    num(root, "summary.itl_ms.count"));
	assert_true(sample(sc, "brood_e2e_seconds_count", NULL) ==
		    num(root, "summary.e2e_ms.count"));
	/* The live sum is the exact histogram's sum (both exact integers in ns). */
	assert_true(fabs(sample(sc, "brood_ttft_seconds_sum", NULL) -
			 num(root, "summary.ttft_ms.mean") * num(root, "summary.ttft_ms.count") /
			     1e3) < 1e-6 * sample(sc, "brood_ttft_seconds_sum", NULL));
	check_histogram(sc, "brood_ttft_seconds");
	check_histogram(sc, "brood_itl_seconds");
	check_histogram(sc, "brood_e2e_seconds");
	free(sc);

	/* The JSON: histograms lossless, series adding up, the schema. */
	assert_true(num(root, "schema_version") == 2);
	check_histograms(root);
	check_merge(root);
	check_series(root);
	{
		const char *vargv[] = { "/usr/bin/python3", validator, schema_path, json, NULL };
		PATH(vout, dir, "validate.out");
		PATH(verr, dir, "validate.err");
		int rc = run_cmd(vargv, vout, verr, 60);

		if (rc != 0) {
			char *e = slurp(verr);

			fail_msg("schema validation exited %d: %s", rc, e ? e : "");
		}
	}
	/* The trace: one line per finished request, with the fields. */
	doc_text = slurp(trace);
	assert_non_null(doc_text);
	{
		unsigned lines = 0;

		for (char *p = doc_text; (p = strchr(p, '\n')); p++)
			lines++;
		assert_true(lines == num(root, "summary.requests_ok") +
					 num(root, "summary.requests_failed"));
		for (const char *k =
			 "\"t_start_ns\":\0\"t_send_ns\":\0\"status\":200\0\"error\":null\0"
			 "\"ttft_ns\":\0\"e2e_ns\":\0\"output_tokens\":12\0";
		     *k; k += strlen(k) + 1)
			if (!strstr(doc_text, k))
				fail_msg("trace lacks %s", k);
	}
	free(doc_text);
	json_doc_free(d);

	/* The HTML: whole, self-contained, with the charts. */
	doc_text = slurp(html);
	assert_non_null(doc_text);
	for (const char *k =
		 "id=\"chart-ttft-time\"\0id=\"chart-itl-time\"\0id=\"chart-tokens-time\"\0"
		 "id=\"chart-cdf\"\0id=\"chart-errors\"\0id=\"config\"\0id=\"environment\"\0</"
		 "html>\n\0";
	     *k; k += strlen(k) + 1)
		if (!strstr(doc_text, k))
			fail_msg("HTML lacks %s", k);
	assert_null(strstr(doc_text, "<script"));
	assert_null(strstr(doc_text, "src="));
	assert_null(strstr(doc_text, "href="));
	free(doc_text);

	/* A second run appends one row under the same header. */
	{
		const char *argv2[] = {
			brood_bin,	  "run", "-H", url, "-u", "2", "-n", "10", "-o", "3",
			"--summary-file", csv,	 "-q", NULL
		};
		char *c, *line2, *line3;
		int fields[3] = { 0 };

		assert_int_equal(run_cmd(argv2, out, err, 60), 0);
		c = slurp(csv);
		assert_non_null(c);
		assert_true(!strncmp(c, "finished_utc,", 13));
		assert_null(strstr(c + 1, "finished_utc,"));
		line2 = strchr(c, '\n') + 1;
		line3 = strchr(line2, '\n') + 1;
		assert_non_null(strchr(line3, '\n'));
		assert_true(strchr(line3, '\n')[1] == '\0');
		for (int i = 0; i < 3; i++) {
			const char *l = i == 0 ? c : i == 1 ? line2 : line3;

			for (; *l != '\n'; l++)
				fields[i] += *l == ',';
		}
		assert_int_equal(fields[0], fields[1]);
		assert_int_equal(fields[0], fields[2]);
		free(c);
	}
	assert_int_equal(mock_stop(&m), 0);

	/* brood compare: a result against itself has no change. */
	{
		const char *cargv[] = { brood_bin, "compare", json, json, NULL };
		char *o;

		assert_int_equal(run_cmd(cargv, out, err, 30), 0);
		o = slurp(out);
		assert_non_null(strstr(o, "TTFT p99 ms"));
		assert_non_null(strstr(o, "+0.0%"));
		assert_null(strstr(o, "better"));
		free(o);
	}
	/* brood report redraws the same page from the JSON. */
	{
		PATH(html2, dir, "b.html");
		const char *rargv[] = { brood_bin, "report", json, "--html", html2, NULL };
		char *a, *b;

		assert_int_equal(run_cmd(rargv, out, err, 30), 0);
		a = slurp(html);
		b = slurp(html2);
		assert_string_equal(a, b);
		free(a);
		free(b);
	}
}

static void expect_one_line_error(const char *const *argv, const char *dir, const char *want)
{
	PATH(out, dir, "stdout");
	PATH(err, dir, "stderr");
	char *e;

	assert_int_equal(run_cmd(argv, out, err, 30), 1);
	e = slurp(err);
	assert_non_null(e);
	if (!strstr(e, want))
		fail_msg("'%s' not in: %s", want, e);
	assert_true(strchr(e, '\n') == e + strlen(e) - 1);
	free(e);
}

static void test_bad_inputs(void **state)
{
	char dir[64];
	FILE *f;

	(void)state;
	tmpdir_make(dir, sizeof(dir));
	PATH(garbage, dir, "garbage.json");
	PATH(other, dir, "other.json");
	PATH(html, dir, "x.html");
	f = fopen(garbage, "w");
	fputs("{\"summary\": [1, 2", f);
	fclose(f);
	f = fopen(other, "w");
	fputs("{\"tool\": \"other\", \"summary\": {}}", f);
	fclose(f);

	const char *c1[] = { brood_bin, "compare", garbage, sweep_path, NULL };
	expect_one_line_error(c1, dir, "not valid JSON");
	const char *c2[] = { brood_bin, "compare", "/nonexistent/a.json", sweep_path, NULL };
	expect_one_line_error(c2, dir, "cannot read /nonexistent/a.json");
	const char *c3[] = { brood_bin, "compare", sweep_path, sweep_path, NULL };
	expect_one_line_error(c3, dir, "is a sweep result");
	const char *c4[] = { brood_bin, "compare", other, other, NULL };
	expect_one_line_error(c4, dir, "not a brood result");
	const char *r1[] = { brood_bin, "report", garbage, "--html", html, NULL };
	expect_one_line_error(r1, dir, "not valid JSON");
	assert_int_equal(access(html, F_OK), -1);

	/* The change of a metric, and which way is better. */
	{
		PATH(ra, dir, "ra.json");
		PATH(rb, dir, "rb.json");
		char *o;

		f = fopen(ra, "w");
		fputs("{\"schema_version\": 1, \"tool\": \"brood\", \"summary\": {\"rps\": 100,"
		      " \"ttft_ms\": {\"p99\": 40}}, \"config\": {\"users\": 8}}",
		      f);
		fclose(f);
		f = fopen(rb, "w");
		fputs("{\"schema_version\": 2, \"tool\": \"brood\", \"summary\": {\"rps\": 150,"
		      " \"ttft_ms\": {\"p99\": 50}}, \"config\": {\"users\": 16}}",
		      f);
		fclose(f);
		const char *cargv[] = { brood_bin, "compare", ra, rb, NULL };
		PATH(cout, dir, "compare.out");
		assert_int_equal(run_cmd(cargv, cout, "/dev/null", 30), 0);
		o = slurp(cout);
		assert_non_null(strstr(o, "note: users differs: 8 vs 16"));
		{
			const char *rps = strstr(o, "\nRPS "), *ttft = strstr(o, "\nTTFT p99 ms ");

			assert_non_null(rps);
			assert_non_null(ttft);
			assert_true(strstr(rps, "+50.000    +50.0%  better\n") ==
				    strchr(rps + 1, '\n') - strlen("+50.000    +50.0%  better"));
			assert_true(strstr(ttft, "+10.000    +25.0%  worse\n") ==
				    strchr(ttft + 1, '\n') - strlen("+10.000    +25.0%  worse"));
		}
		free(o);
	}

	/* Absurd numbers still make a page, in bounded time. */
	PATH(weird, dir, "weird.json");
	PATH(out, dir, "stdout");
	PATH(errp, dir, "stderr");
	f = fopen(weird, "w");
	fputs("{\"levels\": [{\"level\": 1e308, \"ttft_ms\": {\"p50\": -1e308}},"
	      " {\"level\": -1e308, \"ttft_ms\": {\"p50\": 1e308}}, {\"level\": \"x\"}],"
	      " \"saturation\": {\"level\": 1e308, \"reason\": \"<b>\"}}",
	      f);
	fclose(f);
	const char *r2[] = { brood_bin, "report", weird, "--html", html, NULL };
	assert_int_equal(run_cmd(r2, out, errp, 30), 0);
	{
		char *h = slurp(html);

		assert_non_null(strstr(h, "&lt;b&gt;"));
		assert_null(strstr(h, "<b>"));
		free(h);
	}
}

/* A sweep result: the curves and the saturation mark. */
static void test_sweep_report(void **state)
{
	char dir[64], *h;

	(void)state;
	tmpdir_make(dir, sizeof(dir));
	PATH(html, dir, "sweep.html");
	PATH(out, dir, "stdout");
	PATH(err, dir, "stderr");
	const char *argv[] = { brood_bin, "report", sweep_path, "--html", html, NULL };

	assert_int_equal(run_cmd(argv, out, err, 30), 0);
	h = slurp(html);
	assert_non_null(h);
	for (const char *k = "id=\"chart-sweep-ttft\"\0id=\"chart-sweep-itl\"\0"
			     "id=\"chart-sweep-throughput\"\0class=\"mark\"\0saturation at 16\0"
			     "Saturation at level 16\0";
	     *k; k += strlen(k) + 1)
		if (!strstr(h, k))
			fail_msg("sweep HTML lacks %s", k);
	free(h);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_run_outputs, mocks_reap),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_sweep_report),
	};

	if (argc < 6) {
		fprintf(stderr, "usage: %s brood-mock brood schema validator sweep.json\n",
			argv[0]);
		return 2;
	}
	mock_bin = argv[1];
	brood_bin = argv[2];
	schema_path = argv[3];
	validator = argv[4];
	sweep_path = argv[5];
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
