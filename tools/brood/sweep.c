/* SPDX-License-Identifier: MIT */
/*
 * The sweep's verdict and JSON: see sweep.h.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "result.h"
#include "sbuf.h"
#include "sweep.h"

#ifndef BROOD_VERSION
#define BROOD_VERSION "dev"
#endif

static double p95_ttft(const struct report_summary *s)
{
	return s->ttft.count ? s->ttft.p95_ms : s->e2e.p95_ms;
}

/* Which rule, if any, level i breaks. */
static const char *saturates(const struct sweep_level *lv, unsigned i)
{
	const struct report_summary *s = &lv[i].sum;
	double bad = (double)(s->requests_failed + s->dropped_requests);
	double all = (double)(s->requests_ok + s->requests_failed + s->dropped_requests);

	if (all > 0 && bad / all > SWEEP_FAIL_SHARE)
		return "failures";
	if (!s->requests_ok)
		return "failures";
	if (i && p95_ttft(&lv[0].sum) > 0 && p95_ttft(s) > SWEEP_TTFT_RATIO * p95_ttft(&lv[0].sum))
		return "ttft";
	if (i) {
		double load_growth = lv[i].level / lv[i - 1].level - 1;
		double need = lv[i - 1].sum.rps * (1 + SWEEP_GROWTH_SHARE * load_growth);

		if (s->rps < need)
			return "throughput";
	}
	return NULL;
}

void sweep_evaluate(const struct sweep_level *lv, unsigned n, const struct brood_opts *o,
		    struct sweep_verdict *v)
{
	v->saturated = -1;
	v->reason = NULL;
	v->last_good = n ? (int)n - 1 : -1;
	v->slo_best = -1;
	for (unsigned i = 0; i < n; i++) {
		const char *why = saturates(lv, i);

		if (o->has_slo && lv[i].sum.slo_attainment >= o->slo_attainment)
			v->slo_best = (int)i;
		if (why) {
			v->saturated = (int)i;
			v->reason = why;
			v->last_good = (int)i - 1;
			break;
		}
	}
}

static void level_or_null(struct sbuf *b, const struct sweep_level *lv, int i)
{
	if (i < 0)
		sbuf_adds(b, "null");
	else
		sbuf_addf(b, "%.10g", lv[i].level);
}

int sweep_json_build(const struct sweep_level *lv, unsigned n, const struct sweep_verdict *v,
		     const struct brood_opts *o, char **out, size_t *out_len)
{
	struct sbuf b = { 0 };

	sbuf_addf(&b,
		  "{\n  \"schema_version\": %d,\n  \"tool\": \"brood\",\n  \"version\": \"%s\",\n"
		  "  \"kind\": \"sweep\",\n  \"finished_unix_s\": %" PRId64 ",\n"
		  "  \"level_kind\": \"%s\",\n  \"levels\": [\n",
		  REPORT_SCHEMA_VERSION, BROOD_VERSION, (int64_t)time(NULL),
		  o->levels_qps ? "qps" : "concurrency");
	/* ... "levels": [ opened above; the environment goes after them. */
	for (unsigned i = 0; i < n; i++) {
		sbuf_adds(&b, "{\n");
		report_json_summary(&b, &lv[i].sum);
		sbuf_addf(&b, "  \"level\": %.10g\n}%s\n", lv[i].level, i + 1 < n ? "," : "");
	}
	sbuf_adds(&b, "  ],\n");
	result_json_environment(&b);
	sbuf_adds(&b, "  \"saturation\": {\"level\": ");
	level_or_null(&b, lv, v->saturated);
	sbuf_adds(&b, ", \"reason\": ");
	if (v->reason)
		sbuf_addf(&b, "\"%s\"", v->reason);
	else
		sbuf_adds(&b, "null");
	sbuf_adds(&b, ", \"last_good_level\": ");
	level_or_null(&b, lv, v->last_good);
	sbuf_adds(&b, "},\n  \"slo\": ");
	if (o->has_slo) {
		sbuf_adds(&b, "{\"highest_level_met\": ");
		level_or_null(&b, lv, v->slo_best);
		sbuf_addf(&b, ", \"attainment_target\": %.10g},\n", o->slo_attainment);
	} else {
		sbuf_adds(&b, "null,\n");
	}
	report_json_config(&b, o);
	sbuf_adds(&b, "}\n");
	return sbuf_take(&b, out, out_len);
}
