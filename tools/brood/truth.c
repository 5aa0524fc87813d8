/* SPDX-License-Identifier: MIT */
/*
 * `brood truth-diff TRACE.jsonl TRUTH.tsv`: brood's own accuracy. Matches
 * every SSE event brood received (a --trace written with --trace-chunks)
 * with the time brood-mock sent it (its --truth file), both on
 * CLOCK_MONOTONIC of this machine, and reports the send-to-receive delay.
 * Only requests present in the trace count: requests cancelled at the end
 * of a run have no trace line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "truth.h"

struct truth_event {
	uint64_t request_id;
	uint32_t index;
	uint64_t send_ns;
};

struct truth_table {
	struct truth_event *ev;
	size_t len, cap;
};

static int cmp_event(const void *a, const void *b)
{
	const struct truth_event *x = a, *y = b;

	if (x->request_id != y->request_id)
		return x->request_id < y->request_id ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int load_truth(const char *path, struct truth_table *t, char *err, size_t err_len)
{
	FILE *f = fopen(path, "r");
	char line[256];

	if (!f) {
		snprintf(err, err_len, "cannot read truth file %s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		struct truth_event e;
		char kind[16];

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%" SCNu64 "\t%" SCNu32 "\t%15s\t%" SCNu64, &e.request_id,
			   &e.index, kind, &e.send_ns) != 4) {
			snprintf(err, err_len, "%s: not a brood-mock truth line: %.60s", path,
				 line);
			fclose(f);
			return -EINVAL;
		}
		if (t->len == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 4096;
			struct truth_event *n = realloc(t->ev, cap * sizeof(*n));
			if (!n) {
				fclose(f);
				snprintf(err, err_len, "out of memory");
				return -ENOMEM;
			}
			t->ev = n;
			t->cap = cap;
		}
		t->ev[t->len++] = e;
	}
	fclose(f);
	qsort(t->ev, t->len, sizeof(*t->ev), cmp_event);
	return 0;
}

static const struct truth_event *find(const struct truth_table *t, uint64_t rid, uint32_t idx)
{
	struct truth_event key = { .request_id = rid, .index = idx };

	return bsearch(&key, t->ev, t->len, sizeof(*t->ev), cmp_event);
}

/* Events of request rid in the truth table. */
static size_t count_request(const struct truth_table *t, uint64_t rid)
{
	const struct truth_event *e = find(t, rid, 0);
	size_t n = 0;

	if (!e)
		return 0;
	while (e + n < t->ev + t->len && e[n].request_id == rid)
		n++;
	return n;
}

/* Parses one of our own trace lines: "request_id":"N" and "event_ns":[...]. */
static int diff_line(const struct truth_table *t, char *line, struct truth_diff *d)
{
	char *rid_s = strstr(line, "\"request_id\":\"");
	char *ev_s = strstr(line, "\"event_ns\":[");
	uint64_t rid;
	uint32_t idx = 0;
	char *p, *end;

	if (!rid_s || !ev_s)
		return -EINVAL;
	rid = strtoull(rid_s + 14, &end, 10);
	if (end == rid_s + 14 || *end != '"') {
		d->requests_unknown++;
		return 0;
	}
	d->requests++;
	p = ev_s + 12;
	while (*p && *p != ']') {
		uint64_t recv_ns = strtoull(p, &end, 10);
		const struct truth_event *e;

		if (end == p)
			return -EINVAL;
		e = find(t, rid, idx);
		if (!e) {
			d->events_unmatched++;
		} else if (recv_ns < e->send_ns) {
			d->events_before_send++;
		} else {
			d->events_matched++;
			hist_record(&d->delay, recv_ns - e->send_ns);
		}
		idx++;
		p = *end == ',' ? end + 1 : end;
	}
	size_t sent = count_request(t, rid);
	if (sent > idx)
		d->events_missing += sent - idx;
	return 0;
}

int truth_diff(const char *trace_path, const char *truth_path, struct truth_diff *d, char *err,
	       size_t err_len)
{
	struct truth_table t = { 0 };
	size_t cap = 1 << 20;
	char *line = NULL;
	FILE *f = NULL;
	int ret;

	memset(d, 0, sizeof(*d));
	ret = hist_init(&d->delay, 1, 3600ull * 1000000000ull, 3);
	if (ret < 0)
		return ret;
	ret = load_truth(truth_path, &t, err, err_len);
	if (ret < 0)
		goto out;
	f = fopen(trace_path, "r");
	if (!f) {
		ret = -errno;
		snprintf(err, err_len, "cannot read trace %s: %s", trace_path, strerror(errno));
		goto out;
	}
	line = malloc(cap);
	if (!line) {
		ret = -ENOMEM;
		goto out;
	}
	while (getline(&line, &cap, f) > 0) {
		if (diff_line(&t, line, d) < 0) {
			snprintf(err, err_len,
				 "%s: a trace line without request_id or event_ns (run brood "
				 "with --trace-chunks)",
				 trace_path);
			ret = -EINVAL;
			goto out;
		}
	}
	d->truth_events = t.len;
out:
	if (f)
		fclose(f);
	free(line);
	free(t.ev);
	return ret;
}

void truth_diff_close(struct truth_diff *d)
{
	hist_close(&d->delay);
}

void truth_diff_print(FILE *f, const struct truth_diff *d)
{
	fprintf(f,
		"requests %" PRIu64 " (non-numeric ids %" PRIu64 ")\n"
		"events matched %" PRIu64 ", unmatched %" PRIu64 ", missing %" PRIu64
		", received before sent %" PRIu64 "\n"
		"send-to-receive delay us: mean %.1f p50 %.1f p90 %.1f p99 %.1f max %.1f\n",
		d->requests, d->requests_unknown, d->events_matched, d->events_unmatched,
		d->events_missing, d->events_before_send, hist_mean(&d->delay) / 1e3,
		(double)hist_percentile(&d->delay, 50) / 1e3,
		(double)hist_percentile(&d->delay, 90) / 1e3,
		(double)hist_percentile(&d->delay, 99) / 1e3, (double)d->delay.max / 1e3);
}

int truth_diff_main(int argc, char **argv)
{
	struct truth_diff d;
	char err[512];
	int ret;

	if (argc != 3) {
		fprintf(stderr, "usage: brood truth-diff TRACE.jsonl TRUTH.tsv\n");
		return 2;
	}
	ret = truth_diff(argv[1], argv[2], &d, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "brood: %s\n", err);
		truth_diff_close(&d);
		return 1;
	}
	truth_diff_print(stdout, &d);
	ret = d.events_unmatched || d.events_missing || d.events_before_send || !d.events_matched;
	truth_diff_close(&d);
	return ret;
}
