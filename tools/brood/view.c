/* SPDX-License-Identifier: MIT */
/*
 * The live view. The dashboard is redrawn in place: the cursor goes back up
 * over the lines drawn last time and each line is cleared as it is written,
 * so a narrower update leaves no debris.
 */
#include <inttypes.h>
#include <string.h>

#include "view.h"

#define BAR_WIDTH 30

void view_init(struct view *v, FILE *out, bool tty, unsigned users, uint64_t run_time_ns,
	       uint64_t max_requests)
{
	memset(v, 0, sizeof(*v));
	v->out = out;
	v->tty = tty;
	v->users = users;
	v->run_time_ns = run_time_ns;
	v->max_requests = max_requests;
	v->next_plain_s = VIEW_PLAIN_EVERY_S;
}

static double per_s(uint64_t n, const struct engine_point *w)
{
	return w && w->dt_s > 0 ? (double)n / w->dt_s : 0;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* "p50 20.4  p99 20.9" or "-" when the window had none. */
static void lat(char *buf, size_t len, uint64_t n, uint64_t p50, uint64_t p99)
{
	if (!n)
		snprintf(buf, len, "p50 %7s  p99 %7s", "-", "-");
	else
		snprintf(buf, len, "p50 %7.1f  p99 %7.1f", ms(p50), ms(p99));
}

static void errors_line(char *buf, size_t len, const struct engine_counters *c)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < ENGINE_NR_ERR && n < len; i++)
		if (c->errors[i])
			n += (size_t)snprintf(buf + n, len - n, "%s%s %" PRIu64, n ? ", " : "",
					      engine_err_name((enum engine_err)i), c->errors[i]);
	if (!buf[0])
		snprintf(buf, len, "none");
}

/* The share of the run done, 0..1, or -1 when the run has no known end. */
static double done_share(const struct view *v, const struct engine_progress *p)
{
	double f = -1;

	if (v->run_time_ns)
		f = (double)p->elapsed_ns / (double)v->run_time_ns;
	else if (v->max_requests)
		f = (double)(p->c.requests_ok + p->c.requests_failed) / (double)v->max_requests;
	return f > 1 ? 1 : f;
}

static void dashboard(struct view *v, const struct engine_progress *p)
{
	const struct engine_point *w = p->window;
	double f = done_share(v, p), secs = (double)p->elapsed_ns / 1e9;
	char ttft[64], itl[64], errs[256], bar[BAR_WIDTH + 1];
	FILE *o = v->out;

	if (v->lines)
		fprintf(o, "\r\033[%uA", v->lines);
	if (f >= 0) {
		int fill = (int)(f * BAR_WIDTH + 0.5);

		for (int i = 0; i < BAR_WIDTH; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[BAR_WIDTH] = '\0';
		if (v->run_time_ns)
			fprintf(o, "\033[Kbrood [%s] %3.0f%%  %.0fs / %.0fs\n", bar, f * 100, secs,
				(double)v->run_time_ns / 1e9);
		else
			fprintf(o,
				"\033[Kbrood [%s] %3.0f%%  %.0fs  %" PRIu64 " / %" PRIu64
				" requests\n",
				bar, f * 100, secs, p->c.requests_ok + p->c.requests_failed,
				v->max_requests);
	} else {
		fprintf(o, "\033[Kbrood  %.0fs (until Ctrl-C)\n", secs);
	}
	fprintf(o,
		"\033[Kusers %" PRIu64 "/%u  connections %" PRIu64 "  RPS %.1f  tokens/s %.0f"
		"  chunks/s %.0f\n",
		p->c.users_spawned, v->users, p->c.connects - p->c.disconnects,
		per_s(w ? w->ok + w->failed : 0, w), per_s(w ? w->output_tokens : 0, w),
		per_s(w ? w->chunks : 0, w));
	lat(ttft, sizeof(ttft), w ? w->ttft_count : 0, w ? w->ttft_p50_ns : 0,
	    w ? w->ttft_p99_ns : 0);
	lat(itl, sizeof(itl), w ? w->itl_count : 0, w ? w->itl_p50_ns : 0, w ? w->itl_p99_ns : 0);
	fprintf(o, "\033[KTTFT ms %s   ITL ms %s   (last second)\n", ttft, itl);
	errors_line(errs, sizeof(errs), &p->c);
	fprintf(o, "\033[Krequests ok %" PRIu64 "  failed %" PRIu64 "  errors: %s\n",
		p->c.requests_ok, p->c.requests_failed, errs);
	v->lines = 4;
	fflush(o);
}

static void plain(struct view *v, const struct engine_progress *p)
{
	const struct engine_point *w = p->window;
	double secs = (double)p->elapsed_ns / 1e9;
	char ttft[64], itl[64];

	if ((uint64_t)secs < v->next_plain_s)
		return;
	v->next_plain_s = (uint64_t)secs + VIEW_PLAIN_EVERY_S;
	lat(ttft, sizeof(ttft), w ? w->ttft_count : 0, w ? w->ttft_p50_ns : 0,
	    w ? w->ttft_p99_ns : 0);
	lat(itl, sizeof(itl), w ? w->itl_count : 0, w ? w->itl_p50_ns : 0, w ? w->itl_p99_ns : 0);
	fprintf(v->out, "[%5.0fs", secs);
	if (v->run_time_ns)
		fprintf(v->out, "/%.0fs", (double)v->run_time_ns / 1e9);
	fprintf(
	    v->out,
	    "] users %" PRIu64 "/%u  rps %.1f  tokens/s %.0f  ttft ms %s  itl ms %s  ok %" PRIu64
	    "  failed %" PRIu64 "\n",
	    p->c.users_spawned, v->users, per_s(w ? w->ok + w->failed : 0, w),
	    per_s(w ? w->output_tokens : 0, w), ttft, itl, p->c.requests_ok, p->c.requests_failed);
	fflush(v->out);
}

void view_update(struct view *v, const struct engine_progress *p)
{
	if (p->final)
		view_clear(v);
	else if (v->tty)
		dashboard(v, p);
	else
		plain(v, p);
}

void view_clear(struct view *v)
{
	if (!v->tty || !v->lines)
		return;
	fprintf(v->out, "\r\033[%uA\033[J", v->lines);
	v->lines = 0;
	fflush(v->out);
}
