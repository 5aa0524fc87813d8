/* SPDX-License-Identifier: MIT */
/*
 * The HTML report, drawn from the JSON result so that `brood run --html`
 * and `brood report` on its --json file make the same page.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "html.h"
#include "report.h"
#include "result.h"
#include "svg.h"

#define CDF_MAX_POINTS 600

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;"
    "max-width:1600px;padding:0 16px;color:#222;background:#f6f7f9}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}"
    ".meta{color:#555;margin:0 0 16px}"
    ".cards{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}"
    ".card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 14px;"
    "min-width:130px}.card b{display:block;font-size:20px}.card span{color:#666;font-size:12px}"
    "table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:4px 10px;"
    "text-align:right}th:first-child,td:first-child{text-align:left}"
    ".charts{display:flex;flex-wrap:wrap;gap:14px}svg.chart{background:#fff;border:1px solid #ddd;"
    "border-radius:6px;max-width:100%;height:auto}"
    ".ct{font-size:14px;font-weight:600;fill:#222}.tx{font-size:11px;fill:#555;text-anchor:middle}"
    ".ty{font-size:11px;fill:#555;text-anchor:end}.xl,.yl{font-size:12px;fill:#333;"
    "text-anchor:middle}.lg{font-size:12px;fill:#333}.mk{font-size:12px;fill:#c00;font-weight:600}"
    ".grid{stroke:#eee}.plot{fill:none;stroke:#bbb}.nodata{font-size:14px;fill:#999;"
    "text-anchor:middle}.warn{color:#8a4b00}.sat{color:#c00;font-weight:600}"
    "footer{color:#777;margin-top:30px;font-size:12px}";

struct page {
	struct sbuf *b;
	struct json_val root;
};

static void esc(struct sbuf *b, const char *s)
{
	html_escape(b, s, strlen(s));
}

static const char *str_at(struct json_val v, const char *path, const char *dflt)
{
	struct json_val x;
	size_t len;
	const char *s;

	if (!json_path(v, path, &x) || !(s = json_as_str(x, &len)))
		return dflt;
	return s; /* simdjson keeps a NUL after each string */
}

struct column {
	double *v;
	size_t n;
};

static int column_each(size_t i, const char *key, size_t key_len, struct json_val v, void *arg)
{
	struct column *c = arg;

	(void)key, (void)key_len;
	if (!json_as_double(v, &c->v[i]))
		c->v[i] = NAN;
	return 0;
}

/* A numeric array at path as doubles (null -> NaN); n = 0 when absent. */
static struct column column(struct json_val root, const char *path)
{
	struct column c = { NULL, 0 };
	struct json_val a;

	if (!json_path(root, path, &a) || json_type_of(a) != JSON_T_ARRAY)
		return c;
	c.n = json_arr_len(a);
	c.v = calloc(c.n ? c.n : 1, sizeof(double));
	if (!c.v) {
		c.n = 0;
		return c;
	}
	json_each(a, column_each, &c);
	return c;
}

static void card(struct sbuf *b, const char *label, const char *fmt, double v)
{
	sbuf_adds(b, "<div class=\"card\"><b>");
	if (isfinite(v))
		sbuf_addf(b, fmt, v);
	else
		sbuf_adds(b, "-");
	sbuf_addf(b, "</b><span>%s</span></div>", label);
}

static void header(struct page *p, const char *title)
{
	struct sbuf *b = p->b;

	sbuf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		     "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
		     "<title>");
	esc(b, title);
	sbuf_addf(b, "</title><style>%s</style></head><body>\n<h1>", css);
	esc(b, title);
	sbuf_adds(b, "</h1>\n");
}

static void environment(struct page *p)
{
	struct sbuf *b = p->b;
	double fin = json_path_num(p->root, "finished_unix_s", NAN);
	char when[40] = "?";

	if (isfinite(fin)) {
		time_t t = (time_t)fin;
		struct tm tm;

		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
	}
	sbuf_adds(b, "<p class=\"meta\">finished ");
	esc(b, when);
	sbuf_adds(b, " &middot; brood ");
	esc(b, str_at(p->root, "version", "?"));
	sbuf_adds(b, " &middot; host ");
	esc(b, str_at(p->root, "environment.hostname", "?"));
	sbuf_adds(b, " &middot; ");
	esc(b, str_at(p->root, "environment.os", ""));
	sbuf_adds(b, " ");
	esc(b, str_at(p->root, "environment.kernel", "?"));
	sbuf_addf(b, " &middot; %g CPUs (", json_path_num(p->root, "environment.cpus_online", NAN));
	esc(b, str_at(p->root, "environment.cpu_model", "?"));
	sbuf_adds(b, ")</p>\n");
}

static void run_config(struct page *p)
{
	struct sbuf *b = p->b;
	struct json_val hosts;

	sbuf_adds(b, "<p class=\"meta\">");
	if (json_path(p->root, "config.hosts", &hosts) && json_arr_len(hosts)) {
		struct json_val h;
		size_t len;
		const char *s;

		if (json_arr_at(hosts, 0, &h) && (s = json_as_str(h, &len)))
			html_escape(b, s, len);
		if (json_arr_len(hosts) > 1)
			sbuf_addf(b, " (+%zu more)", json_arr_len(hosts) - 1);
	}
	sbuf_adds(b, " &middot; model ");
	esc(b, str_at(p->root, "config.model", "?"));
	sbuf_addf(b,
		  " &middot; %g users &middot; prompt ~%g tokens &middot; max_tokens %g "
		  "&middot; %.1f s",
		  json_path_num(p->root, "summary.users", NAN),
		  json_path_num(p->root, "tokens.prompt_tokens", NAN),
		  json_path_num(p->root, "config.max_tokens", NAN),
		  json_path_num(p->root, "summary.elapsed_s", NAN));
	sbuf_adds(b, "</p>\n");
}

static void latency_table(struct page *p)
{
	static const char *const rows[][2] = { { "TTFT", "summary.ttft_ms" },
					       { "ITL", "summary.itl_ms" },
					       { "TPOT", "summary.tpot_ms" },
					       { "E2E", "summary.e2e_ms" } };
	static const char *const cols[] = { "mean", "p50", "p90", "p95", "p99", "max", "count" };
	struct sbuf *b = p->b;

	sbuf_adds(b, "<h2>Latency (ms)</h2><table id=\"latency\"><tr><th></th>");
	for (size_t c = 0; c < 7; c++)
		sbuf_addf(b, "<th>%s</th>", cols[c]);
	sbuf_adds(b, "</tr>");
	for (size_t r = 0; r < 4; r++) {
		struct json_val o;

		sbuf_addf(b, "<tr><td>%s</td>", rows[r][0]);
		for (size_t c = 0; c < 7; c++) {
			double v = json_path(p->root, rows[r][1], &o)
				       ? json_path_num(o, cols[c], NAN)
				       : NAN;

			if (isfinite(v))
				sbuf_addf(b, c == 6 ? "<td>%.0f</td>" : "<td>%.2f</td>", v);
			else
				sbuf_adds(b, "<td>-</td>");
		}
		sbuf_adds(b, "</tr>");
	}
	sbuf_adds(b, "</table>\n");
}

/* A line chart over the run's seconds; empty_text NULL: "no data". */
static void time_chart(struct sbuf *b, const char *id, const char *title, const char *ylabel,
		       const struct svg_series *s, size_t nr, const char *empty_text)
{
	struct svg_chart c = { .id = id,
			       .title = title,
			       .xlabel = "seconds",
			       .ylabel = ylabel,
			       .series = s,
			       .nr_series = nr,
			       .empty_text = empty_text };

	svg_line_chart(b, &c);
}

static void time_charts(struct page *p)
{
	struct sbuf *b = p->b;
	struct column t = column(p->root, "series.t_s"), dt = column(p->root, "series.dt_s");
	struct column tp50 = column(p->root, "series.ttft_p50_ms"),
		      tp99 = column(p->root, "series.ttft_p99_ms"),
		      ip50 = column(p->root, "series.itl_p50_ms"),
		      ip99 = column(p->root, "series.itl_p99_ms"),
		      tok = column(p->root, "series.output_tokens"),
		      st = column(p->root, "series.started"),
		      fin = column(p->root, "series.finished"),
		      fail = column(p->root, "series.failed");
	size_t n = t.n;
	double *tok_s = calloc(n ? n : 1, sizeof(double)),
	       *st_s = calloc(n ? n : 1, sizeof(double)),
	       *fin_s = calloc(n ? n : 1, sizeof(double)),
	       *fail_s = calloc(n ? n : 1, sizeof(double));

	sbuf_adds(b, "<h2>Over time</h2><div class=\"charts\">\n");
	if (tok_s && st_s && fin_s && fail_s && dt.n == n && tok.n == n && st.n == n &&
	    fin.n == n && fail.n == n && tp50.n == n && tp99.n == n && ip50.n == n && ip99.n == n) {
		for (size_t i = 0; i < n; i++) {
			double d = dt.v[i] > 0 ? dt.v[i] : NAN;

			tok_s[i] = tok.v[i] / d;
			st_s[i] = st.v[i] / d;
			fin_s[i] = fin.v[i] / d;
			fail_s[i] = fail.v[i] / d;
		}
	} else {
		n = 0;
	}
	{
		struct svg_series s[] = { { "p50", t.v, tp50.v, n, false },
					  { "p99", t.v, tp99.v, n, true } };

		time_chart(b, "chart-ttft-time", "TTFT percentiles over time", "ms", s, 2, NULL);
	}
	{
		struct svg_series s[] = { { "p50", t.v, ip50.v, n, false },
					  { "p99", t.v, ip99.v, n, true } };

		time_chart(b, "chart-itl-time", "ITL percentiles over time", "ms", s, 2, NULL);
	}
	{
		struct svg_series s[] = { { "output tokens/s", t.v, tok_s, n, false } };

		time_chart(b, "chart-tokens-time", "Output throughput over time", "tokens/s", s, 1,
			   NULL);
	}
	{
		struct svg_series s[] = { { "started/s", t.v, st_s, n, true },
					  { "finished/s", t.v, fin_s, n, false },
					  { "failed/s", t.v, fail_s, n, false } };

		time_chart(b, "chart-rps-time", "Requests over time", "requests/s", s, 3, NULL);
	}
	sbuf_adds(b, "</div>\n");
	free(t.v), free(dt.v), free(tp50.v), free(tp99.v), free(ip50.v), free(ip99.v);
	free(tok.v), free(st.v), free(fin.v), free(fail.v);
	free(tok_s), free(st_s), free(fin_s), free(fail_s);
}

/* CDF points of a histogram: at most CDF_MAX_POINTS, x in ms. */
struct cdf {
	double x[CDF_MAX_POINTS], y[CDF_MAX_POINTS];
	size_t n;
};

struct cdf_walk {
	const struct hist *h;
	struct cdf *out;
	uint64_t seen, step, next;
};

static int cdf_visit(uint64_t value, uint64_t count, void *arg)
{
	struct cdf_walk *w = arg;

	w->seen += count;
	if (w->seen < w->next && w->seen < w->h->total)
		return 0;
	if (w->out->n < CDF_MAX_POINTS) {
		uint64_t v = value < w->h->max ? value : w->h->max;

		w->out->x[w->out->n] = (double)v / 1e6;
		w->out->y[w->out->n] = (double)w->seen / (double)w->h->total;
		w->out->n++;
	}
	while (w->next <= w->seen)
		w->next += w->step;
	return 0;
}

static void cdf_of(struct page *p, const char *name, struct cdf *out)
{
	struct json_val v;
	struct hist h;
	char err[128];

	out->n = 0;
	if (!json_path(p->root, "histograms", &v) || !json_get(v, name, &v) ||
	    result_hist_decode(v, &h, err, sizeof(err)) < 0)
		return;
	if (h.total) {
		struct cdf_walk w = { &h, out, 0, 0, 0 };

		w.step = h.total / (CDF_MAX_POINTS - 2);
		if (!w.step)
			w.step = 1;
		w.next = w.step;
		/* The first point at the minimum, at fraction 0. */
		out->x[0] = (double)h.min / 1e6;
		out->y[0] = 0;
		out->n = 1;
		hist_for_each(&h, cdf_visit, &w);
	}
	hist_close(&h);
}

static void cdf_chart(struct page *p)
{
	struct cdf *c = calloc(3, sizeof(*c));

	if (!c)
		return;
	cdf_of(p, "ttft", &c[0]);
	cdf_of(p, "itl", &c[1]);
	cdf_of(p, "e2e", &c[2]);
	struct svg_series s[] = { { "TTFT", c[0].x, c[0].y, c[0].n, false },
				  { "ITL", c[1].x, c[1].y, c[1].n, false },
				  { "E2E", c[2].x, c[2].y, c[2].n, false } };
	struct svg_chart ch = { "chart-cdf",
				"Latency CDFs (whole run, exact histograms)",
				"ms (log scale)",
				"fraction of values",
				true,
				true,
				s,
				3,
				false,
				0,
				NULL,
				NULL };

	sbuf_adds(p->b, "<h2>Latency distribution</h2><div class=\"charts\">\n");
	svg_line_chart(p->b, &ch);
	sbuf_adds(p->b, "</div>\n");
	free(c);
}

struct bars {
	const char *names[16];
	char name_buf[16][40];
	double values[16];
	size_t n;
};

static int bar_each(size_t i, const char *key, size_t key_len, struct json_val v, void *arg)
{
	struct bars *bs = arg;

	(void)i;
	if (bs->n == 16 || !key)
		return 0;
	snprintf(bs->name_buf[bs->n], sizeof(bs->name_buf[0]), "%.*s", (int)key_len, key);
	bs->names[bs->n] = bs->name_buf[bs->n];
	if (!json_as_double(v, &bs->values[bs->n]))
		bs->values[bs->n] = 0;
	bs->n++;
	return 0;
}

/* Failed requests per second over time, one line per class that had any. */
static void errors_over_time(struct page *p)
{
	struct column t = column(p->root, "series.t_s"), dt = column(p->root, "series.dt_s");
	struct column cls[ENGINE_NR_ERR];
	struct svg_series s[ENGINE_NR_ERR];
	size_t nr = 0;

	for (int e = 0; e < ENGINE_NR_ERR; e++) {
		char path[64];
		double sum = 0;

		snprintf(path, sizeof(path), "series.errors.%s",
			 engine_err_name((enum engine_err)e));
		cls[e] = column(p->root, path);
		if (cls[e].n != t.n || dt.n != t.n)
			continue;
		for (size_t i = 0; i < t.n; i++) {
			sum += cls[e].v[i];
			cls[e].v[i] = dt.v[i] > 0 ? cls[e].v[i] / dt.v[i] : NAN;
		}
		if (sum > 0)
			s[nr++] = (struct svg_series){ engine_err_name((enum engine_err)e), t.v,
						       cls[e].v, t.n, false };
	}
	time_chart(p->b, "chart-errors-time", "Failed requests over time, by class", "failed/s", s,
		   nr, "no failed requests");
	for (int e = 0; e < ENGINE_NR_ERR; e++)
		free(cls[e].v);
	free(t.v);
	free(dt.v);
}

static void error_charts(struct page *p)
{
	struct sbuf *b = p->b;
	struct bars errs = { 0 }, resp = { 0 };
	struct json_val v;
	double failed = json_path_num(p->root, "summary.requests_failed", 0);

	if (json_path(p->root, "summary.errors", &v))
		json_each(v, bar_each, &errs);
	if (json_path(p->root, "summary.responses", &v))
		json_each(v, bar_each, &resp);
	sbuf_addf(b, "<h2>Errors</h2><p>%.0f failed of %.0f finished requests", failed,
		  failed + json_path_num(p->root, "summary.requests_ok", 0));
	if (failed > 0) {
		sbuf_adds(b, "; first: <code>");
		esc(b, str_at(p->root, "summary.first_error", ""));
		sbuf_adds(b, "</code>");
	}
	sbuf_adds(b, "</p><div class=\"charts\">\n");
	errors_over_time(p);
	svg_bar_chart(b, "chart-errors", "Failed requests by error class", errs.names, errs.values,
		      errs.n, "#d62728");
	svg_bar_chart(b, "chart-responses", "HTTP responses by status class", resp.names,
		      resp.values, resp.n, "#4c78a8");
	sbuf_adds(b, "</div>\n");
}

static int warn_each(size_t i, const char *key, size_t key_len, struct json_val v, void *arg)
{
	struct sbuf *b = arg;
	size_t len;
	const char *s = json_as_str(v, &len);

	(void)i, (void)key, (void)key_len;
	if (s) {
		sbuf_adds(b, "<li>");
		html_escape(b, s, len);
		sbuf_adds(b, "</li>");
	}
	return 0;
}

/* One member as text: strings escaped, numbers and booleans as written,
 * arrays of those comma-separated. */
static void value_html(struct sbuf *b, struct json_val v);

static int array_item(size_t i, const char *key, size_t key_len, struct json_val v, void *arg)
{
	struct sbuf *b = arg;

	(void)key, (void)key_len;
	if (i)
		sbuf_adds(b, ", ");
	value_html(b, v);
	return 0;
}

static void value_html(struct sbuf *b, struct json_val v)
{
	const char *s;
	size_t len;
	double d;
	bool t;

	switch (json_type_of(v)) {
	case JSON_T_STRING:
		s = json_as_str(v, &len);
		html_escape(b, s, len);
		break;
	case JSON_T_NUMBER:
		if (json_as_double(v, &d))
			sbuf_addf(b, "%g", d);
		break;
	case JSON_T_BOOL:
		sbuf_adds(b, json_as_bool(v, &t) && t ? "true" : "false");
		break;
	case JSON_T_ARRAY:
		json_each(v, array_item, b);
		break;
	case JSON_T_OBJECT:
		sbuf_adds(b, "{...}");
		break;
	default:
		sbuf_adds(b, "-");
	}
}

static int config_row(size_t i, const char *key, size_t key_len, struct json_val v, void *arg)
{
	struct sbuf *b = arg;

	(void)i;
	sbuf_adds(b, "<tr><td>");
	html_escape(b, key, key_len);
	sbuf_adds(b, "</td><td>");
	value_html(b, v);
	sbuf_adds(b, "</td></tr>");
	return 0;
}

/* Everything needed to rerun it: the configuration and the environment. */
static void config_tables(struct page *p)
{
	static const char *const sections[][2] = { { "config", "Configuration" },
						   { "environment", "Environment" } };
	struct sbuf *b = p->b;

	sbuf_adds(b, "<h2>Run</h2><div class=\"cards\">");
	for (size_t i = 0; i < 2; i++) {
		struct json_val v;

		if (!json_get(p->root, sections[i][0], &v) || json_type_of(v) != JSON_T_OBJECT)
			continue;
		sbuf_addf(b, "<table id=\"%s\"><tr><th colspan=\"2\">%s</th></tr>", sections[i][0],
			  sections[i][1]);
		json_each(v, config_row, b);
		sbuf_adds(b, "</table>");
	}
	sbuf_adds(b, "</div>\n");
}

static void render_run(struct page *p)
{
	struct sbuf *b = p->b;
	struct json_val w;

	header(p, "brood run report");
	run_config(p);
	environment(p);
	sbuf_adds(b, "<div class=\"cards\">");
	card(b, "requests ok", "%.0f", json_path_num(p->root, "summary.requests_ok", NAN));
	card(b, "failed", "%.0f", json_path_num(p->root, "summary.requests_failed", NAN));
	card(b, "requests/s", "%.2f", json_path_num(p->root, "summary.rps", NAN));
	card(b, "output tokens/s", "%.1f",
	     json_path_num(p->root, "summary.output_tokens_per_s", NAN));
	card(b, "TTFT p50 ms", "%.2f", json_path_num(p->root, "summary.ttft_ms.p50", NAN));
	card(b, "TTFT p99 ms", "%.2f", json_path_num(p->root, "summary.ttft_ms.p99", NAN));
	card(b, "ITL p50 ms", "%.2f", json_path_num(p->root, "summary.itl_ms.p50", NAN));
	card(b, "ITL p99 ms", "%.2f", json_path_num(p->root, "summary.itl_ms.p99", NAN));
	sbuf_adds(b, "</div>\n");
	if (json_path(p->root, "warnings", &w) && json_arr_len(w)) {
		sbuf_adds(b, "<ul class=\"warn\">");
		json_each(w, warn_each, b);
		sbuf_adds(b, "</ul>\n");
	}
	latency_table(p);
	time_charts(p);
	cdf_chart(p);
	error_charts(p);
	config_tables(p);
}

/* ---- sweeps ---- */

struct sweep {
	size_t n;
	double *level, *ttft50, *ttft95, *ttft99, *itl50, *itl99, *tok_s, *rps, *fail_pct;
};

static double level_of(struct json_val l, size_t i)
{
	static const char *const keys[] = { "level", "concurrency", "qps", "rate", "users" };

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		double v = json_path_num(l, keys[k], NAN);

		if (isfinite(v))
			return v;
	}
	return json_path_num(l, "summary.users", (double)(i + 1));
}

static int sweep_each(size_t i, const char *key, size_t key_len, struct json_val l, void *arg)
{
	struct sweep *s = arg;
	struct json_val sum = l;
	double ok, failed;

	(void)key, (void)key_len;
	json_get(l, "summary", &sum); /* a whole result per level, or just its summary */
	s->level[i] = level_of(l, i);
	s->ttft50[i] = json_path_num(sum, "ttft_ms.p50", NAN);
	s->ttft95[i] = json_path_num(sum, "ttft_ms.p95", NAN);
	s->ttft99[i] = json_path_num(sum, "ttft_ms.p99", NAN);
	s->itl50[i] = json_path_num(sum, "itl_ms.p50", NAN);
	s->itl99[i] = json_path_num(sum, "itl_ms.p99", NAN);
	s->tok_s[i] = json_path_num(sum, "output_tokens_per_s", NAN);
	s->rps[i] = json_path_num(sum, "rps", NAN);
	ok = json_path_num(sum, "requests_ok", 0);
	failed = json_path_num(sum, "requests_failed", 0);
	s->fail_pct[i] = ok + failed > 0 ? 100 * failed / (ok + failed) : 0;
	return 0;
}

static void sweep_chart(struct sbuf *b, const char *id, const char *title, const char *ylabel,
			const struct svg_series *sr, size_t n, bool logx, double sat,
			const char *mark)
{
	struct svg_chart c = {
		.id = id,
		.title = title,
		.xlabel = logx ? "level (log scale)" : "level",
		.ylabel = ylabel,
		.logx = logx,
		.series = sr,
		.nr_series = n,
		.has_mark = isfinite(sat),
		.mark_x = sat,
		.mark_label = mark,
	};

	svg_line_chart(b, &c);
}

static void render_sweep(struct page *p, struct json_val levels)
{
	struct sbuf *b = p->b;
	struct sweep s;
	double *cols[9], sat = json_path_num(p->root, "saturation.level", NAN);
	const char *reason = str_at(p->root, "saturation.reason", NULL);
	char mark[96];
	bool ok = true, logx = false;

	memset(&s, 0, sizeof(s));
	s.n = json_arr_len(levels);
	for (size_t i = 0; i < 9; i++)
		ok &= (cols[i] = calloc(s.n ? s.n : 1, sizeof(double))) != NULL;
	s.level = cols[0], s.ttft50 = cols[1], s.ttft95 = cols[2], s.ttft99 = cols[3];
	s.itl50 = cols[4], s.itl99 = cols[5], s.tok_s = cols[6], s.rps = cols[7];
	s.fail_pct = cols[8];
	if (!ok)
		s.n = 0;
	else
		json_each(levels, sweep_each, &s);
	snprintf(mark, sizeof(mark), "saturation at %g", sat);
	/* Levels that grow by factors (1, 2, 4, ... or 1:64:x2) read best on a log axis. */
	{
		double lo = INFINITY, hi = 0;

		for (size_t i = 0; i < s.n; i++) {
			lo = fmin(lo, s.level[i]);
			hi = fmax(hi, s.level[i]);
		}
		logx = s.n > 2 && lo > 0 && hi / lo >= 8;
	}

	header(p, "brood sweep report");
	environment(p);
	sbuf_adds(b, "<p>");
	if (isfinite(sat)) {
		sbuf_addf(b, "<span class=\"sat\" id=\"saturation\">Saturation at level %g</span>",
			  sat);
		if (reason) {
			sbuf_adds(b, ": ");
			esc(b, reason);
		}
	} else {
		sbuf_adds(b, "<span id=\"saturation\">No saturation found within the levels run");
		if (reason) {
			sbuf_adds(b, " (");
			esc(b, reason);
			sbuf_adds(b, ")");
		}
		sbuf_adds(b, "</span>");
	}
	sbuf_adds(b, "</p>\n<div class=\"charts\">\n");
	{
		struct svg_series sr[] = { { "p50", s.level, s.ttft50, s.n, false },
					   { "p95", s.level, s.ttft95, s.n, false },
					   { "p99", s.level, s.ttft99, s.n, true } };
		sweep_chart(b, "chart-sweep-ttft", "TTFT vs level", "ms", sr, 3, logx, sat, mark);
	}
	{
		struct svg_series sr[] = { { "p50", s.level, s.itl50, s.n, false },
					   { "p99", s.level, s.itl99, s.n, true } };
		sweep_chart(b, "chart-sweep-itl", "ITL vs level", "ms", sr, 2, logx, sat, mark);
	}
	{
		struct svg_series sr[] = { { "output tokens/s", s.level, s.tok_s, s.n, false } };
		sweep_chart(b, "chart-sweep-throughput", "Throughput vs level", "tokens/s", sr, 1,
			    logx, sat, mark);
	}
	{
		struct svg_series sr[] = { { "requests/s", s.level, s.rps, s.n, false },
					   { "failed %", s.level, s.fail_pct, s.n, true } };
		sweep_chart(b, "chart-sweep-rps", "Requests/s and failures vs level", "", sr, 2,
			    logx, sat, mark);
	}
	sbuf_adds(b, "</div>\n<h2>Levels</h2><table id=\"levels\"><tr><th>level</th>"
		     "<th>TTFT p50</th><th>TTFT p95</th><th>TTFT p99</th><th>ITL p50</th>"
		     "<th>ITL p99</th><th>tokens/s</th><th>RPS</th><th>failed %</th></tr>");
	for (size_t i = 0; i < s.n; i++) {
		sbuf_addf(b, "<tr%s><td>%g</td>", s.level[i] == sat ? " class=\"sat\"" : "",
			  s.level[i]);
		for (size_t k = 1; k < 9; k++)
			sbuf_addf(b, isfinite(cols[k][i]) ? "<td>%.2f</td>" : "<td>-</td>",
				  cols[k][i]);
		sbuf_adds(b, "</tr>");
	}
	sbuf_adds(b, "</table>\n");
	for (size_t i = 0; i < 9; i++)
		free(cols[i]);
}

int html_render(struct sbuf *b, struct json_val root, char *err, size_t err_len)
{
	struct page p = { b, root };
	struct json_val levels, summary;

	if (json_get(root, "levels", &levels) && json_type_of(levels) == JSON_T_ARRAY) {
		render_sweep(&p, levels);
	} else if (json_get(root, "summary", &summary) && json_type_of(summary) == JSON_T_OBJECT) {
		render_run(&p);
	} else {
		snprintf(err, err_len,
			 "not a brood result: it has neither \"summary\" (a run) nor \"levels\" "
			 "(a sweep)");
		return -EPROTO;
	}
	sbuf_addf(b,
		  "<footer>Drawn by brood from a schema_version %g result; no script, no "
		  "external resources.</footer>\n</body></html>\n",
		  json_path_num(root, "schema_version", NAN));
	return b->err;
}

static int render_write(const char *path, struct json_doc *d, char *err, size_t err_len)
{
	struct sbuf b = { 0 };
	int ret = html_render(&b, json_doc_root(d), err, err_len);

	if (!ret && b.err)
		ret = b.err;
	if (ret == -ENOMEM)
		snprintf(err, err_len, "out of memory");
	if (!ret) {
		ret = report_write_file_atomic(path, b.p, b.len);
		if (ret < 0)
			snprintf(err, err_len, "%s", strerror(-ret));
	}
	sbuf_free(&b);
	return ret;
}

int html_write_from_json(const char *path, const char *json, size_t len, char *err, size_t err_len)
{
	struct json_doc *d;
	int ret = json_doc_parse(json, len, &d, err, err_len);

	if (ret < 0)
		return ret;
	ret = render_write(path, d, err, err_len);
	json_doc_free(d);
	return ret;
}

int html_report_main(int argc, char **argv)
{
	const char *in = NULL, *out = NULL;
	struct json_doc *d;
	char err[512];
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--html") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			puts("usage: brood report RESULT.json --html FILE\n"
			     "Draws the HTML report of a brood run or sweep JSON result.");
			return 0;
		} else if (argv[i][0] != '-' && !in)
			in = argv[i];
		else {
			fprintf(stderr,
				"brood report: unexpected '%s'; usage: brood report "
				"RESULT.json --html FILE\n",
				argv[i]);
			return 2;
		}
	}
	if (!in || !out) {
		fprintf(stderr, "brood report: usage: brood report RESULT.json --html FILE\n");
		return 2;
	}
	ret = json_doc_load(in, &d, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "brood report: cannot read %s: %s\n", in, err);
		return 1;
	}
	ret = render_write(out, d, err, sizeof(err));
	json_doc_free(d);
	if (ret < 0) {
		fprintf(stderr, "brood report: %s: %s\n", ret == -EPROTO ? in : out, err);
		return 1;
	}
	return 0;
}
