/* SPDX-License-Identifier: MIT */
/*
 * brood sweep: checks the targets and builds the requests once, then runs
 * the engine once per level (after its warm-up), appends one CSV row per
 * level, and stops at the first saturated level. Ctrl-C stops the level
 * in progress and still writes what was measured.
 *
 *   brood sweep -H http://127.0.0.1:8000 --concurrency 1:64:x2 --level-time 30s
 *   brood sweep -H ... --qps 1:64:x2 --warmup 10s --slo ttft=500ms,itl=50ms
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "engine.h"
#include "html.h"
#include "opts.h"
#include "report.h"
#include "sweep.h"
#include "tls.h"
#include "tokcli.h"

static void print_level(const struct sweep_level *lv, const struct brood_opts *o)
{
	const struct report_summary *s = &lv->sum;

	printf("%s %-8g rps %9.2f  ttft p95 %9.2f ms  e2e p95 %9.2f ms  ok %" PRIu64
	       "  failed %" PRIu64,
	       o->levels_qps ? "qps" : "users", lv->level, s->rps, s->ttft.p95_ms, s->e2e.p95_ms,
	       s->requests_ok, s->requests_failed);
	if (s->open_loop)
		printf("  late %" PRIu64 "  dropped %" PRIu64 "  queue p99 %.2f ms",
		       s->late_requests, s->dropped_requests, s->queue.p99_ms);
	if (s->has_slo)
		printf("  slo %.1f%%  goodput %.2f", 100 * s->slo_attainment, s->goodput_rps);
	printf("%s\n", s->interrupted ? "  (interrupted)" : "");
	fflush(stdout);
}

static void print_verdict(const struct sweep_level *lv, const struct sweep_verdict *v,
			  const struct brood_opts *o)
{
	if (v->saturated >= 0)
		printf("\nsaturation: %s %g (%s)", o->levels_qps ? "qps" : "users",
		       lv[v->saturated].level, v->reason);
	else
		printf("\nsaturation: not reached");
	if (v->last_good >= 0)
		printf("  last good level: %g", lv[v->last_good].level);
	if (o->has_slo) {
		if (v->slo_best >= 0)
			printf("  highest level meeting the SLO (%.0f%%): %g",
			       100 * o->slo_attainment, lv[v->slo_best].level);
		else
			printf("  no level met the SLO (%.0f%%)", 100 * o->slo_attainment);
	}
	printf("\n");
}

int sweep_main(int argc, char **argv)
{
	struct brood_opts o;
	struct engine_config *cfg = NULL;
	struct sweep_level *lv = NULL;
	struct sweep_verdict v = { -1, NULL, -1, -1 };
	struct engine_tokenizer tk;
	struct tok *tok = NULL;
	char *reqs[ENGINE_MAX_TARGETS] = { 0 };
	char err[1024];
	unsigned n = 0;
	int ret, code = EXIT_SETUP;

	ret = opts_parse_sweep(argc, argv, &o, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "brood: %s\n", err);
		return EXIT_USAGE;
	}
	if (o.help) {
		printf("usage: brood sweep (--concurrency LIST | --qps LIST) [--level-time D] "
		       "[--warmup D] [run flags]\n"
		       "Runs each level in turn and stops past saturation; see 'brood run --help' "
		       "for the rest.\n");
		opts_close(&o);
		return 0;
	}
	install_signals();
	cfg = calloc(1, sizeof(*cfg));
	lv = calloc(o.nr_levels, sizeof(*lv));
	if (!cfg || !lv) {
		fprintf(stderr, "brood: out of memory\n");
		goto out;
	}
	code = cmd_prepare(&o, cfg, &tok, &tk, reqs);
	if (code)
		goto out;
	for (unsigned i = 0; i < o.nr_levels && !engine_stop_requested(); i++) {
		struct brood_opts lo = o; /* shares o's owned memory: never closed */
		struct engine_result res;

		lv[i].level = o.levels[i];
		if (o.levels_qps)
			lo.qps = o.levels[i];
		else
			lo.users = (unsigned)o.levels[i];
		lo.run_time_ns = o.level_time_ns;
		fill_config(&lo, cfg);
		ret = engine_run(cfg, &res, NULL, NULL, err, sizeof(err));
		if (ret < 0) {
			fprintf(stderr, "brood: level %g: %s\n", o.levels[i], err);
			code = EXIT_SETUP;
			break;
		}
		report_summarize(&res, &lo, &lv[i].sum);
		engine_result_close(&res);
		n = i + 1;
		print_level(&lv[i], &o);
		if (o.summary_path &&
		    (ret = report_append_csv(o.summary_path, &lv[i].sum, &lo)) < 0) {
			fprintf(stderr, "brood: cannot append to %s: %s\n", o.summary_path,
				strerror(-ret));
			code = EXIT_SETUP;
		}
		sweep_evaluate(lv, n, &o, &v);
		if (v.saturated >= 0)
			break; /* past saturation: more load tells nothing new */
	}
	sweep_evaluate(lv, n, &o, &v);
	print_verdict(lv, &v, &o);
	if (o.json_path || o.html_path) {
		char *json = NULL;
		size_t len = 0;

		ret = sweep_json_build(lv, n, &v, &o, &json, &len);
		if (!ret && o.json_path && (ret = report_write_file_atomic(o.json_path, json, len)))
			fprintf(stderr, "brood: cannot write %s: %s\n", o.json_path,
				strerror(-ret));
		/* The same page `brood report SWEEP.json --html` draws. */
		if (!ret && o.html_path &&
		    (ret = html_write_from_json(o.html_path, json, len, err, sizeof(err))))
			fprintf(stderr, "brood: cannot write %s: %s\n", o.html_path, err);
		if (ret == -ENOMEM)
			fprintf(stderr, "brood: out of memory writing the sweep's results\n");
		if (ret)
			code = EXIT_SETUP;
		free(json);
	}
out:
	for (unsigned i = 0; i < ENGINE_MAX_TARGETS; i++)
		free(reqs[i]);
	if (cfg)
		tls_ctx_free(cfg->tls_ctx); /* made by preflight for https targets */
	free(cfg);
	free(lv);
	tok_free(tok);
	opts_close(&o);
	return code;
}
