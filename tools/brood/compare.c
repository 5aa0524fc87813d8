/* SPDX-License-Identifier: MIT */
/*
 * brood compare. Metrics are read by path from both documents; a metric
 * missing from either shows "-" rather than failing, so results of older
 * schema versions still compare on what they share.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "compare.h"
#include "report.h"

enum better { NEUTRAL, HIGHER, LOWER };

struct metric {
	const char *label;
	const char *path;
	enum better better;
};

static const struct metric metrics[] = {
	{ "requests ok", "summary.requests_ok", NEUTRAL },
	{ "requests failed", "summary.requests_failed", LOWER },
	{ "elapsed s", "summary.elapsed_s", NEUTRAL },
	{ "users", "summary.users", NEUTRAL },
	{ "RPS", "summary.rps", HIGHER },
	{ "output tokens/s", "summary.output_tokens_per_s", HIGHER },
	{ "output tokens/s/user", "summary.output_tokens_per_s_per_user", HIGHER },
	{ "output tokens/request", "tokens.output_per_request", NEUTRAL },
	{ "TTFT mean ms", "summary.ttft_ms.mean", LOWER },
	{ "TTFT p50 ms", "summary.ttft_ms.p50", LOWER },
	{ "TTFT p90 ms", "summary.ttft_ms.p90", LOWER },
	{ "TTFT p99 ms", "summary.ttft_ms.p99", LOWER },
	{ "ITL mean ms", "summary.itl_ms.mean", LOWER },
	{ "ITL p50 ms", "summary.itl_ms.p50", LOWER },
	{ "ITL p99 ms", "summary.itl_ms.p99", LOWER },
	{ "TPOT p50 ms", "summary.tpot_ms.p50", LOWER },
	{ "TPOT p99 ms", "summary.tpot_ms.p99", LOWER },
	{ "E2E p50 ms", "summary.e2e_ms.p50", LOWER },
	{ "E2E p99 ms", "summary.e2e_ms.p99", LOWER },
	{ "generator CPU s", "generator.cpu_seconds", LOWER },
};

/* Differences worth a note: the load, and where and by what it was measured. */
static const char *const config_keys[] = {
	"config.model",		 "config.users",
	"config.max_tokens",	 "config.prompt_tokens",
	"config.chat",		 "config.stream",
	"config.spawn_rate",	 "config.run_time_s",
	"config.shards",	 "version",
	"environment.hostname",	 "environment.kernel",
	"environment.cpu_model", "environment.cpus_allowed",
};

static bool is_run(struct json_val v)
{
	struct json_val s;

	return json_get(v, "summary", &s) && json_type_of(s) == JSON_T_OBJECT;
}

static int check(struct json_val v, const char *name, char *err, size_t err_len)
{
	struct json_val x;
	double ver = json_path_num(v, "schema_version", NAN);
	size_t len;
	const char *tool;

	if (!json_get(v, "tool", &x) || !(tool = json_as_str(x, &len)) || len != 5 ||
	    memcmp(tool, "brood", 5)) {
		snprintf(err, err_len, "%s is not a brood result (no \"tool\": \"brood\")", name);
		return -EPROTO;
	}
	if (json_get(v, "levels", &x)) {
		snprintf(err, err_len,
			 "%s is a sweep result; compare takes two run results (brood run --json)",
			 name);
		return -EPROTO;
	}
	if (!is_run(v) || !isfinite(ver)) {
		snprintf(err, err_len, "%s has no summary or schema_version: not a run result",
			 name);
		return -EPROTO;
	}
	if (ver > REPORT_SCHEMA_VERSION) {
		snprintf(
		    err, err_len,
		    "%s has schema_version %g, newer than this brood reads (%d): upgrade brood",
		    name, ver, REPORT_SCHEMA_VERSION);
		return -EPROTO;
	}
	return 0;
}

/* A config value as text, for the "differs" notes. */
static void value_text(struct json_val root, const char *path, char *buf, size_t len)
{
	struct json_val v;
	const char *s;
	size_t n;
	double d;
	bool bv;

	if (!json_path(root, path, &v))
		snprintf(buf, len, "(absent)");
	else if ((s = json_as_str(v, &n)))
		snprintf(buf, len, "%.*s", (int)n, s);
	else if (json_as_double(v, &d))
		snprintf(buf, len, "%g", d);
	else if (json_as_bool(v, &bv))
		snprintf(buf, len, "%s", bv ? "true" : "false");
	else
		snprintf(buf, len, "null");
}

static void verdict(char *buf, size_t len, enum better better, double a, double b)
{
	if (better == NEUTRAL || a == b || !isfinite(a) || !isfinite(b))
		snprintf(buf, len, "%s", "");
	else
		snprintf(buf, len, "%s", (b > a) == (better == HIGHER) ? "better" : "worse");
}

int compare_print(FILE *f, struct json_val a, struct json_val b, const char *name_a,
		  const char *name_b, char *err, size_t err_len)
{
	int ret = check(a, name_a, err, err_len);

	if (!ret)
		ret = check(b, name_b, err, err_len);
	if (ret)
		return ret;
	fprintf(f, "A: %s\nB: %s\n", name_a, name_b);
	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		char va[128], vb[128];

		value_text(a, config_keys[i], va, sizeof(va));
		value_text(b, config_keys[i], vb, sizeof(vb));
		if (strcmp(va, vb))
			fprintf(f, "note: %s differs: %s vs %s\n",
				strchr(config_keys[i], '.') ? strchr(config_keys[i], '.') + 1
							    : config_keys[i],
				va, vb);
	}
	fprintf(f, "\n%-24s %14s %14s %14s %9s  %s\n", "metric", "A", "B", "change", "change %",
		"");
	for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
		const struct metric *m = &metrics[i];
		double va = json_path_num(a, m->path, NAN), vb = json_path_num(b, m->path, NAN);
		char sa[32] = "-", sb[32] = "-", d[32] = "-", pct[32] = "-", v[16];

		if (isfinite(va))
			snprintf(sa, sizeof(sa), "%.3f", va);
		if (isfinite(vb))
			snprintf(sb, sizeof(sb), "%.3f", vb);
		if (isfinite(va) && isfinite(vb)) {
			snprintf(d, sizeof(d), "%+.3f", vb - va);
			if (va != 0)
				snprintf(pct, sizeof(pct), "%+.1f%%", (vb - va) / fabs(va) * 100);
			else if (vb == 0)
				snprintf(pct, sizeof(pct), "0.0%%");
		}
		verdict(v, sizeof(v), m->better, va, vb);
		fprintf(f, "%-24s %14s %14s %14s %9s  %s\n", m->label, sa, sb, d, pct, v);
	}
	for (int e = 0; e < ENGINE_NR_ERR; e++) {
		char path[64];
		double va, vb;

		snprintf(path, sizeof(path), "summary.errors.%s",
			 engine_err_name((enum engine_err)e));
		va = json_path_num(a, path, 0);
		vb = json_path_num(b, path, 0);
		if (va || vb)
			fprintf(f, "%-24s %14.0f %14.0f %+14.0f %9s  %s\n", path + 15, va, vb,
				vb - va, "",
				vb > va	  ? "worse"
				: vb < va ? "better"
					  : "");
	}
	return 0;
}

int compare_main(int argc, char **argv)
{
	struct json_doc *da = NULL, *db = NULL;
	char err[512];
	int code = 1;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		puts("usage: brood compare A.json B.json\n"
		     "Shows two brood run results side by side with the change of each metric.");
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "brood compare: usage: brood compare A.json B.json\n");
		return 2;
	}
	if (json_doc_load(argv[1], &da, err, sizeof(err)) < 0) {
		fprintf(stderr, "brood compare: cannot read %s: %s\n", argv[1], err);
		goto out;
	}
	if (json_doc_load(argv[2], &db, err, sizeof(err)) < 0) {
		fprintf(stderr, "brood compare: cannot read %s: %s\n", argv[2], err);
		goto out;
	}
	if (compare_print(stdout, json_doc_root(da), json_doc_root(db), argv[1], argv[2], err,
			  sizeof(err)) < 0) {
		fprintf(stderr, "brood compare: %s\n", err);
		goto out;
	}
	code = 0;
out:
	json_doc_free(da);
	json_doc_free(db);
	return code;
}
