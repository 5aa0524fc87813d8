/* SPDX-License-Identifier: MIT */
/*
 * The parts of the JSON result (schema_version 2, docs/result.schema.json)
 * beyond the summary: the environment, the time series and the merged
 * histograms in lossless form, and the way back from JSON to a histogram.
 * Report time only (main thread, after the run).
 */
#ifndef BROOD_TOOLS_RESULT_H
#define BROOD_TOOLS_RESULT_H

#include <stddef.h>

#include "engine.h"
#include "json_dom.h"
#include "sbuf.h"

/* Names of the histograms in "histograms", in engine_hists_list order. */
extern const char *const result_hist_names[ENGINE_NR_HISTS];

/* "  \"environment\": {...},\n": brood version, host, kernel, CPUs. */
void result_json_environment(struct sbuf *b);
/* "  \"series\": {...},\n": columnar per-step arrays. */
void result_json_series(struct sbuf *b, const struct engine_series *se);
/* "  \"histograms\": {...},\n": each with its shape and [index, count] pairs. */
void result_json_histograms(struct sbuf *b, struct engine_hists *h);

/*
 * Rebuilds a histogram from its "histograms" member: hist_init with the
 * stored shape, then the slots and totals. The result equals the run's
 * merged histogram (same percentiles). Returns 0, or -EPROTO / -ENOMEM /
 * -EINVAL (bad shape) with one line in err; *h is released on error.
 */
int result_hist_decode(struct json_val v, struct hist *h, char *err, size_t err_len);

#endif
