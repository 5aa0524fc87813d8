/* SPDX-License-Identifier: MIT */
/*
 * The HTML report: one self-contained file (inline CSS and SVG, no script,
 * no font or image to fetch) drawn from a brood JSON result. A run result
 * gives TTFT/ITL percentiles and throughput over time, latency CDFs from the
 * lossless histograms and the error breakdown; a sweep result (`levels`,
 * `saturation`) gives the TTFT/ITL/throughput-versus-level curves with the
 * saturation point marked. Report time only.
 */
#ifndef BROOD_TOOLS_HTML_H
#define BROOD_TOOLS_HTML_H

#include <stddef.h>

#include "json_dom.h"
#include "sbuf.h"

/* Appends the page for the document root. Returns 0, or -EPROTO with one
 * line in err when it is neither a run nor a sweep result. */
int html_render(struct sbuf *b, struct json_val root, char *err, size_t err_len);

/* Parses json, renders, writes path atomically. Returns 0 or -errno (err set). */
int html_write_from_json(const char *path, const char *json, size_t len, char *err, size_t err_len);

/* `brood report RESULT.json --html FILE`. Returns the exit status. */
int html_report_main(int argc, char **argv);

#endif
