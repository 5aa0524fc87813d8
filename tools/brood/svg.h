/* SPDX-License-Identifier: MIT */
/*
 * Charts drawn as inline SVG text: line charts (linear or log x, gaps where
 * a value is missing, an optional marked x such as a saturation point) and
 * horizontal bar charts. No script, no external font: the page that holds
 * them opens anywhere.
 */
#ifndef BROOD_TOOLS_SVG_H
#define BROOD_TOOLS_SVG_H

#include <stdbool.h>
#include <stddef.h>

#include "sbuf.h"

struct svg_series {
	const char *name;
	const double *x, *y; /* n points; a non-finite y leaves a gap */
	size_t n;
	bool dashed;
};

struct svg_chart {
	const char *id; /* element id, unique in the page */
	const char *title;
	const char *xlabel, *ylabel;
	bool logx;  /* log10 x axis (values <= 0 are skipped) */
	bool steps; /* draw as a step function (CDFs) */
	const struct svg_series *series;
	size_t nr_series;
	bool has_mark; /* a vertical marker at mark_x */
	double mark_x;
	const char *mark_label;
	const char *empty_text; /* shown when nothing can be drawn; "no data" if NULL */
};

/* Appends <svg ...>...</svg> for a line chart; an empty chart says "no data". */
void svg_line_chart(struct sbuf *b, const struct svg_chart *c);

/* Appends a horizontal bar chart of n labelled values, bars in color. */
void svg_bar_chart(struct sbuf *b, const char *id, const char *title, const char *const *labels,
		   const double *values, size_t n, const char *color);

/* Appends s with &, <, >, " escaped. */
void html_escape(struct sbuf *b, const char *s, size_t len);

#endif
