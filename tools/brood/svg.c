/* SPDX-License-Identifier: MIT */
/*
 * SVG charts. Coordinates are written with one decimal; ticks fall on
 * 1-2-5 steps (linear) or powers of ten (log).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "svg.h"

#define W	  760
#define H	  300
#define M_LEFT	  64
#define M_RIGHT	  16
#define M_TOP	  34
#define M_BOTTOM  44
#define PLOT_W	  (W - M_LEFT - M_RIGHT)
#define PLOT_H	  (H - M_TOP - M_BOTTOM)
#define MAX_TICKS 40 /* per axis: a bound even for absurd (huge, infinite) ranges */

static const char *const palette[] = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
				       "#9467bd", "#8c564b", "#e377c2", "#17becf" };
#define NR_COLORS (sizeof(palette) / sizeof(palette[0]))

void html_escape(struct sbuf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		switch (s[i]) {
		case '&':
			sbuf_adds(b, "&amp;");
			break;
		case '<':
			sbuf_adds(b, "&lt;");
			break;
		case '>':
			sbuf_adds(b, "&gt;");
			break;
		case '"':
			sbuf_adds(b, "&quot;");
			break;
		default:
			sbuf_add(b, &s[i], 1);
		}
	}
}

static void esc(struct sbuf *b, const char *s)
{
	html_escape(b, s, strlen(s));
}

/* A tick step of 1, 2 or 5 times a power of ten giving about n ticks. */
static double nice_step(double span, int n)
{
	double raw = span / n, mag = pow(10, floor(log10(raw))), f = raw / mag;

	return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

/* A short label: 0.5, 12, 1.2k, 3M. */
static void fmt_num(char *buf, size_t len, double v)
{
	double a = fabs(v);

	if (a >= 1e6)
		snprintf(buf, len, "%gM", v / 1e6);
	else if (a >= 1e4)
		snprintf(buf, len, "%gk", v / 1e3);
	else
		snprintf(buf, len, "%g", v);
}

struct axis {
	double lo, hi;
	bool log;
};

static double map(const struct axis *a, double v, double px0, double px_len)
{
	double f;

	if (a->log)
		f = (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
	else
		f = (v - a->lo) / (a->hi - a->lo);
	return px0 + f * px_len;
}

static bool usable(const struct axis *a, double v)
{
	return isfinite(v) && (!a->log || v > 0);
}

static void frame(struct sbuf *b, const char *id, const char *title)
{
	sbuf_addf(b,
		  "<svg class=\"chart\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" "
		  "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\">"
		  "<title>",
		  id, W, H, W, H);
	esc(b, title);
	sbuf_addf(b,
		  "</title><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
		  "<text x=\"%d\" y=\"20\" class=\"ct\">",
		  W, H, M_LEFT);
	esc(b, title);
	sbuf_adds(b, "</text>");
}

static void x_ticks(struct sbuf *b, const struct axis *x)
{
	char lab[32];

	if (x->log) {
		int decades = 0;

		for (double d = pow(10, floor(log10(x->lo)));
		     d <= x->hi * 1.0001 && decades++ < MAX_TICKS; d *= 10)
			for (int k = 1; k <= 5; k += (k == 1 ? 1 : 3)) {
				double v = d * k;
				double px;

				if (v < x->lo * 0.9999 || v > x->hi * 1.0001)
					continue;
				px = map(x, v, M_LEFT, PLOT_W);
				fmt_num(lab, sizeof(lab), v);
				sbuf_addf(b,
					  "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
					  "class=\"grid\"/><text x=\"%.1f\" y=\"%d\" "
					  "class=\"tx\">%s</text>",
					  px, M_TOP, px, M_TOP + PLOT_H, px, M_TOP + PLOT_H + 16,
					  lab);
			}
		return;
	}
	double step = nice_step(x->hi - x->lo, 8);

	int n = 0;

	for (double v = ceil(x->lo / step) * step; v <= x->hi + step * 1e-9 && n++ < MAX_TICKS;
	     v += step) {
		double px = map(x, v, M_LEFT, PLOT_W);

		fmt_num(lab, sizeof(lab), fabs(v) < step * 1e-9 ? 0 : v);
		sbuf_addf(b,
			  "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"grid\"/>"
			  "<text x=\"%.1f\" y=\"%d\" class=\"tx\">%s</text>",
			  px, M_TOP, px, M_TOP + PLOT_H, px, M_TOP + PLOT_H + 16, lab);
	}
}

static void y_ticks(struct sbuf *b, const struct axis *y)
{
	double step = nice_step(y->hi - y->lo, 5);
	char lab[32];

	int n = 0;

	for (double v = ceil(y->lo / step) * step; v <= y->hi + step * 1e-9 && n++ < MAX_TICKS;
	     v += step) {
		double py = map(y, v, M_TOP + PLOT_H, -PLOT_H);

		fmt_num(lab, sizeof(lab), fabs(v) < step * 1e-9 ? 0 : v);
		sbuf_addf(b,
			  "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
			  "<text x=\"%d\" y=\"%.1f\" class=\"ty\">%s</text>",
			  M_LEFT, py, M_LEFT + PLOT_W, py, M_LEFT - 6, py + 4, lab);
	}
}

static void labels(struct sbuf *b, const char *xlabel, const char *ylabel)
{
	sbuf_addf(b, "<text x=\"%d\" y=\"%d\" class=\"xl\">", M_LEFT + PLOT_W / 2, H - 6);
	esc(b, xlabel);
	sbuf_addf(b, "</text><text transform=\"translate(14,%d) rotate(-90)\" class=\"yl\">",
		  M_TOP + PLOT_H / 2);
	esc(b, ylabel);
	sbuf_adds(b, "</text>");
}

static void legend(struct sbuf *b, const struct svg_chart *c)
{
	double x = W - M_RIGHT;

	for (size_t i = c->nr_series; i-- > 0;) {
		const char *name = c->series[i].name;

		x -= 30 + 7.5 * (double)strlen(name);
		sbuf_addf(b,
			  "<line x1=\"%.1f\" y1=\"16\" x2=\"%.1f\" y2=\"16\" stroke=\"%s\" "
			  "stroke-width=\"3\"%s/><text x=\"%.1f\" y=\"20\" class=\"lg\">",
			  x, x + 14, palette[i % NR_COLORS],
			  c->series[i].dashed ? " stroke-dasharray=\"5 3\"" : "", x + 18);
		esc(b, name);
		sbuf_adds(b, "</text>");
	}
}

static bool bounds(const struct svg_chart *c, struct axis *x, struct axis *y)
{
	bool any = false;

	x->lo = y->lo = INFINITY;
	x->hi = y->hi = -INFINITY;
	x->log = c->logx;
	y->log = false;
	for (size_t i = 0; i < c->nr_series; i++)
		for (size_t k = 0; k < c->series[i].n; k++) {
			double xv = c->series[i].x[k], yv = c->series[i].y[k];

			if (!usable(x, xv) || !isfinite(yv))
				continue;
			any = true;
			x->lo = fmin(x->lo, xv);
			x->hi = fmax(x->hi, xv);
			y->lo = fmin(y->lo, yv);
			y->hi = fmax(y->hi, yv);
		}
	if (!any)
		return false;
	if (c->has_mark && usable(x, c->mark_x)) {
		x->lo = fmin(x->lo, c->mark_x);
		x->hi = fmax(x->hi, c->mark_x);
	}
	y->lo = fmin(y->lo, 0);
	if (y->hi <= y->lo)
		y->hi = y->lo + 1;
	y->hi += (y->hi - y->lo) * 0.05;
	if (x->log) {
		/* A little room either side, not whole decades. */
		x->lo /= 1.15;
		x->hi *= 1.15;
	} else if (x->lo > 0 && x->lo < x->hi) {
		x->lo = 0; /* time and levels read best from zero */
	} else if (x->hi <= x->lo) {
		x->lo -= 0.5;
		x->hi += 0.5;
	}
	return true;
}

static void path(struct sbuf *b, const struct svg_chart *c, size_t i, const struct axis *x,
		 const struct axis *y)
{
	const struct svg_series *s = &c->series[i];
	bool pen = false;
	double last_py = 0;

	sbuf_addf(b, "<path class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s d=\"",
		  palette[i % NR_COLORS], s->dashed ? " stroke-dasharray=\"5 3\"" : "");
	for (size_t k = 0; k < s->n; k++) {
		double px, py;

		if (!usable(x, s->x[k]) || !isfinite(s->y[k])) {
			pen = false;
			continue;
		}
		px = map(x, s->x[k], M_LEFT, PLOT_W);
		py = map(y, s->y[k], M_TOP + PLOT_H, -PLOT_H);
		if (pen && c->steps)
			sbuf_addf(b, "L%.1f %.1f", px, last_py);
		sbuf_addf(b, "%s%.1f %.1f", pen ? "L" : "M", px, py);
		pen = true;
		last_py = py;
	}
	sbuf_adds(b, "\"/>");
	/* Few points: mark each, so single points show too. */
	if (s->n <= 40 && !c->steps)
		for (size_t k = 0; k < s->n; k++)
			if (usable(x, s->x[k]) && isfinite(s->y[k]))
				sbuf_addf(b,
					  "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>",
					  map(x, s->x[k], M_LEFT, PLOT_W),
					  map(y, s->y[k], M_TOP + PLOT_H, -PLOT_H),
					  palette[i % NR_COLORS]);
}

void svg_line_chart(struct sbuf *b, const struct svg_chart *c)
{
	struct axis x, y;

	frame(b, c->id, c->title);
	if (!bounds(c, &x, &y)) {
		sbuf_addf(b, "<text x=\"%d\" y=\"%d\" class=\"nodata\">", W / 2, H / 2);
		esc(b, c->empty_text ? c->empty_text : "no data");
		sbuf_adds(b, "</text></svg>\n");
		return;
	}
	x_ticks(b, &x);
	y_ticks(b, &y);
	sbuf_addf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"plot\"/>", M_LEFT,
		  M_TOP, PLOT_W, PLOT_H);
	for (size_t i = 0; i < c->nr_series; i++)
		path(b, c, i, &x, &y);
	if (c->has_mark && usable(&x, c->mark_x)) {
		double px = map(&x, c->mark_x, M_LEFT, PLOT_W);

		sbuf_addf(b,
			  "<g class=\"mark\"><line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
			  "stroke=\"#c00\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>"
			  "<text x=\"%.1f\" y=\"%d\" class=\"mk\">",
			  px, M_TOP, px, M_TOP + PLOT_H, px + 4, M_TOP + 14);
		esc(b, c->mark_label ? c->mark_label : "");
		sbuf_adds(b, "</text></g>");
	}
	legend(b, c);
	labels(b, c->xlabel, c->ylabel);
	sbuf_adds(b, "</svg>\n");
}

void svg_bar_chart(struct sbuf *b, const char *id, const char *title, const char *const *names,
		   const double *values, size_t n, const char *color)
{
	double max = 0;
	int row = n ? (H - M_TOP - 10) / (int)n : 0;
	const int left = 150, width = W - left - 90;

	if (row > 28)
		row = 28;
	for (size_t i = 0; i < n; i++)
		max = fmax(max, values[i]);
	frame(b, id, title);
	for (size_t i = 0; i < n; i++) {
		double w = max > 0 ? values[i] / max * width : 0;
		int y = M_TOP + (int)i * row;
		char lab[32];

		fmt_num(lab, sizeof(lab), values[i]);
		sbuf_addf(b, "<text x=\"%d\" y=\"%d\" class=\"ty\">", left - 8, y + row / 2 + 4);
		esc(b, names[i]);
		sbuf_addf(b,
			  "</text><rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%.1f\" "
			  "height=\"%d\" fill=\"%s\"/><text x=\"%.1f\" y=\"%d\" class=\"lg\">%s"
			  "</text>",
			  left, y + 3, w, row - 6, color, left + w + 6, y + row / 2 + 4, lab);
	}
	sbuf_adds(b, "</svg>\n");
}
