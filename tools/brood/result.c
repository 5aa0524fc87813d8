/* SPDX-License-Identifier: MIT */
/*
 * JSON result sections beyond the summary, and the histogram decoder.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "result.h"

#ifndef BROOD_VERSION
#define BROOD_VERSION "dev"
#endif

const char *const result_hist_names[ENGINE_NR_HISTS] = {
	"ttft", "itl", "tpot", "e2e", "ttfb", "connect", "tls_handshake", "queue", "warmup_e2e",
};

static void num(struct sbuf *b, double v)
{
	if (isfinite(v))
		sbuf_addf(b, "%.10g", v);
	else
		sbuf_adds(b, "null");
}

static void str(struct sbuf *b, const char *s)
{
	sbuf_add_json_str(b, s, strlen(s));
}

/* The first "model name" of /proc/cpuinfo, or "". */
static void cpu_model(char *out, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	out[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) || !colon)
			continue;
		colon++;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(out, len, "%s", colon);
		break;
	}
	fclose(f);
}

void result_json_environment(struct sbuf *b)
{
	struct utsname u;
	char host[256] = "", model[256];
	cpu_set_t set;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	int allowed = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;

	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	gethostname(host, sizeof(host) - 1);
	cpu_model(model, sizeof(model));
	sbuf_adds(b, "  \"environment\": {\n    \"brood_version\": ");
	str(b, BROOD_VERSION);
	sbuf_adds(b, ",\n    \"hostname\": ");
	str(b, host);
	sbuf_adds(b, ",\n    \"os\": ");
	str(b, u.sysname);
	sbuf_adds(b, ",\n    \"kernel\": ");
	str(b, u.release);
	sbuf_adds(b, ",\n    \"kernel_build\": ");
	str(b, u.version);
	sbuf_adds(b, ",\n    \"machine\": ");
	str(b, u.machine);
	sbuf_adds(b, ",\n    \"cpu_model\": ");
	str(b, model);
	sbuf_addf(b, ",\n    \"cpus_online\": %ld,\n    \"cpus_allowed\": %d\n  },\n", online,
		  allowed);
}

/* One column of the series: "name": [v, ...]. */
#define COLUMN(name, expr, fmt)                                                                    \
	do {                                                                                       \
		sbuf_adds(b, ",\n    \"" name "\": [");                                            \
		for (unsigned i_ = 0; i_ < se->nr; i_++) {                                         \
			const struct engine_point *p = &se->points[i_];                            \
			sbuf_addf(b, i_ ? ", " fmt : fmt, expr);                                   \
		}                                                                                  \
		sbuf_adds(b, "]");                                                                 \
	} while (0)

/* A latency column in ms; null where the window had no values. */
static void lat_column(struct sbuf *b, const struct engine_series *se, const char *name,
		       size_t off_count, size_t off_value)
{
	sbuf_addf(b, ",\n    \"%s\": [", name);
	for (unsigned i = 0; i < se->nr; i++) {
		const char *p = (const char *)&se->points[i];
		uint64_t n, v;

		memcpy(&n, p + off_count, sizeof(n));
		memcpy(&v, p + off_value, sizeof(v));
		sbuf_adds(b, i ? ", " : "");
		if (n)
			num(b, (double)v / 1e6);
		else
			sbuf_adds(b, "null");
	}
	sbuf_adds(b, "]");
}

#define LAT_COLUMN(name, cnt, val)                                                                 \
	lat_column(b, se, name, offsetof(struct engine_point, cnt),                                \
		   offsetof(struct engine_point, val))

void result_json_series(struct sbuf *b, const struct engine_series *se)
{
	sbuf_adds(b, "  \"series\": {\n    \"step_s\": ");
	num(b, se->step_s);
	sbuf_addf(b, ",\n    \"t0_monotonic_ns\": %" PRIu64 ",\n    \"points\": %u", se->t0_ns,
		  se->nr);
	COLUMN("t_s", p->t_s, "%.3f");
	COLUMN("dt_s", p->dt_s, "%.3f");
	COLUMN("started", p->started, "%" PRIu64);
	COLUMN("finished", p->ok + p->failed, "%" PRIu64);
	COLUMN("ok", p->ok, "%" PRIu64);
	COLUMN("failed", p->failed, "%" PRIu64);
	COLUMN("output_tokens", p->output_tokens, "%" PRIu64);
	COLUMN("chunks", p->chunks, "%" PRIu64);
	COLUMN("users", p->users, "%" PRIu64);
	COLUMN("connections", p->connections, "%" PRIu64);
	LAT_COLUMN("ttft_p50_ms", ttft_count, ttft_p50_ns);
	LAT_COLUMN("ttft_p99_ms", ttft_count, ttft_p99_ns);
	LAT_COLUMN("itl_p50_ms", itl_count, itl_p50_ns);
	LAT_COLUMN("itl_p99_ms", itl_count, itl_p99_ns);
	LAT_COLUMN("e2e_p50_ms", e2e_count, e2e_p50_ns);
	LAT_COLUMN("e2e_p99_ms", e2e_count, e2e_p99_ns);
	sbuf_adds(b, ",\n    \"errors\": {");
	for (int e = 0; e < ENGINE_NR_ERR; e++) {
		sbuf_adds(b, e ? ", " : "");
		str(b, engine_err_name((enum engine_err)e));
		sbuf_adds(b, ": [");
		for (unsigned i = 0; i < se->nr; i++)
			sbuf_addf(b, i ? ", %" PRIu64 : "%" PRIu64, se->points[i].errors[e]);
		sbuf_adds(b, "]");
	}
	sbuf_adds(b, "}\n  },\n");
}

struct slot_out {
	struct sbuf *b;
	unsigned n;
};

static int slot_out(size_t index, uint64_t count, void *arg)
{
	struct slot_out *o = arg;

	sbuf_addf(o->b, "%s[%zu, %" PRIu64 "]", o->n++ ? ", " : "", index, count);
	return 0;
}

void result_json_histograms(struct sbuf *b, struct engine_hists *h)
{
	struct hist *all[ENGINE_NR_HISTS];

	engine_hists_list(h, all);
	sbuf_adds(b, "  \"histograms\": {\n    \"unit\": \"ns\",\n    \"layout\": "
		     "\"hdr-log-linear\"");
	for (int i = 0; i < ENGINE_NR_HISTS; i++) {
		const struct hist *x = all[i];
		struct slot_out o = { b, 0 };

		if (!x->counts)
			continue;
		sbuf_addf(b,
			  ",\n    \"%s\": {\"lowest\": %" PRIu64 ", \"highest\": %" PRIu64
			  ", \"sig_digits\": %d, \"total\": %" PRIu64 ", \"min\": %" PRIu64
			  ", \"max\": %" PRIu64 ", \"sum\": ",
			  result_hist_names[i], x->lowest, x->highest, x->sig_digits, x->total,
			  x->total ? x->min : 0, x->max);
		sbuf_addf(b, "%.17g", x->sum);
		sbuf_addf(b, ", \"clamped\": %" PRIu64 ",\n      \"counts\": [", x->clamped);
		hist_for_each_slot(x, slot_out, &o);
		sbuf_adds(b, "]}");
	}
	sbuf_adds(b, "\n  },\n");
}

struct slot_in {
	struct hist *h;
};

static int slot_in(size_t i, const char *key, size_t key_len, struct json_val v, void *arg)
{
	struct slot_in *in = arg;
	struct json_val a, c;
	uint64_t index, count;

	(void)i, (void)key, (void)key_len;
	if (json_arr_len(v) != 2 || !json_arr_at(v, 0, &a) || !json_arr_at(v, 1, &c) ||
	    !json_as_u64(a, &index) || !json_as_u64(c, &count))
		return -EPROTO;
	return hist_add_slot(in->h, (size_t)index, count);
}

static bool get_u64(struct json_val v, const char *key, uint64_t *out)
{
	struct json_val x;

	return json_get(v, key, &x) && json_as_u64(x, out);
}

int result_hist_decode(struct json_val v, struct hist *h, char *err, size_t err_len)
{
	uint64_t lowest, highest, digits, total, min, max, clamped;
	struct json_val counts, sum;
	struct slot_in in = { h };
	double sum_ns;
	int ret;

	memset(h, 0, sizeof(*h));
	if (!get_u64(v, "lowest", &lowest) || !get_u64(v, "highest", &highest) ||
	    !get_u64(v, "sig_digits", &digits) || !get_u64(v, "total", &total) ||
	    !get_u64(v, "min", &min) || !get_u64(v, "max", &max) ||
	    !get_u64(v, "clamped", &clamped) || !json_get(v, "sum", &sum) ||
	    !json_as_double(sum, &sum_ns) || !json_get(v, "counts", &counts) ||
	    json_type_of(counts) != JSON_T_ARRAY) {
		snprintf(err, err_len, "histogram lacks a field of its shape or totals");
		return -EPROTO;
	}
	if (digits > 5) {
		snprintf(err, err_len, "histogram has sig_digits %" PRIu64, digits);
		return -EINVAL;
	}
	ret = hist_init(h, lowest, highest, (int)digits);
	if (ret < 0) {
		snprintf(err, err_len, "histogram shape %" PRIu64 "..%" PRIu64 "/%" PRIu64 ": %s",
			 lowest, highest, digits, strerror(-ret));
		return ret;
	}
	ret = json_each(counts, slot_in, &in);
	if (!ret && h->total != total)
		ret = -EPROTO;
	if (ret < 0) {
		snprintf(err, err_len,
			 "histogram counts are not [index, count] pairs of its shape "
			 "adding up to its total");
		hist_close(h);
		return -EPROTO;
	}
	h->min = total ? min : UINT64_MAX;
	h->max = max;
	h->sum = sum_ns;
	h->clamped = clamped;
	return 0;
}
