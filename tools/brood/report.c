/* SPDX-License-Identifier: MIT */
/*
 * The end of a run: one summary, three renderings (table, JSON, CSV row).
 * Results already measured must not be lost, so the JSON goes through a
 * temporary file and rename, and a CSV row is written whole or not at all.
 */
#define _GNU_SOURCE /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "report.h"
#include "request.h"
#include "result.h"
#include "sbuf.h"

#ifndef BROOD_VERSION
#define BROOD_VERSION "dev"
#endif

#define NS_PER_MS	 1e6
#define NS_PER_S	 1e9
#define EARLY_STOP_RATIO 0.9 /* fewer output tokens than this share of -o: warn */

static double per(double num, double den)
{
	return den > 0 ? num / den : 0;
}

static void latency(const struct hist *h, struct report_latency *l)
{
	static const double ps[] = { 50, 90, 95, 99 };
	double *out[] = { &l->p50_ms, &l->p90_ms, &l->p95_ms, &l->p99_ms };

	memset(l, 0, sizeof(*l));
	l->count = h->counts ? hist_count(h) : 0;
	if (!l->count)
		return;
	l->mean_ms = hist_mean(h) / NS_PER_MS;
	l->max_ms = (double)h->max / NS_PER_MS;
	for (size_t i = 0; i < 4; i++) {
		uint64_t v = hist_percentile(h, ps[i]);

		/* The slot's top can pass the exact max; the max is the better bound. */
		*out[i] = (double)(v < h->max ? v : h->max) / NS_PER_MS;
	}
}

static void warn(struct report_summary *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(struct report_summary *s, const char *fmt, ...)
{
	va_list ap;

	if (s->nr_warnings == REPORT_MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(s->warnings[s->nr_warnings++], REPORT_WARNING_MAX, fmt, ap);
	va_end(ap);
}

static uint64_t clamped(const struct engine_hists *h)
{
	const struct hist *all[] = { &h->ttft,		&h->itl,   &h->tpot,
				     &h->e2e,		&h->ttfb,  &h->connect,
				     &h->tls_handshake, &h->queue, &h->warmup_e2e };
	uint64_t n = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		n += all[i]->counts ? all[i]->clamped : 0;
	return n;
}

static void add_warnings(struct report_summary *s, const struct engine_result *res,
			 const struct brood_opts *o)
{
	if (!s->requests_ok)
		warn(s, "no request succeeded");
	if (s->requests_failed)
		warn(s, "%" PRIu64 " requests failed; first: %s", s->requests_failed,
		     s->first_error[0] ? s->first_error : "(no sample)");
	if (s->tokenized && !s->tok_complete)
		warn(s,
		     "token timing incomplete: %" PRIu64 " of %" PRIu64
		     " ok requests not timed per token (%" PRIu64 " ring drops, %" PRIu64
		     " over --tokenizer-max-bytes)",
		     s->tok_lost, s->requests_ok, s->ring_drops, res->tok.overflow_requests);
	if (s->tokenized && s->usage_mismatch)
		warn(s,
		     "usage.completion_tokens differs from --tokenizer's count in %" PRIu64
		     " of %" PRIu64 " requests (mean %.1f, max %" PRIu64
		     " tokens): is it the server's tokenizer?",
		     s->usage_mismatch, s->usage_checked, s->usage_mismatch_mean,
		     s->usage_mismatch_max);
	if (!s->tokenized && s->requests_ok && res->c.usage_requests < s->requests_ok)
		warn(s,
		     "output tokens counted as content chunks: %" PRIu64 " of %" PRIu64
		     " ok requests had no usage (one chunk may hold several tokens)",
		     s->requests_ok - res->c.usage_requests, s->requests_ok);
	if (s->requests_ok &&
	    s->output_tokens_per_request < EARLY_STOP_RATIO * s->max_tokens_per_request)
		warn(s,
		     "requests made %.1f output tokens on average for %.1f asked (max_tokens): the "
		     "server stopped early (is ignore_eos supported? try --min-tokens)",
		     s->output_tokens_per_request, s->max_tokens_per_request);
	if (s->short_outputs)
		warn(s,
		     "%" PRIu64 " of %" PRIu64 " ok requests returned fewer tokens than their "
		     "max_tokens (usage.completion_tokens): the server stopped early",
		     s->short_outputs, s->requests_ok);
	if (s->dropped_requests)
		warn(s,
		     "%" PRIu64 " due requests were never sent (queue of --max-queue %u full, or "
		     "still queued at the end): raise -u or lower --qps",
		     s->dropped_requests, o->max_queue);
	if (s->open_loop && s->late_requests)
		warn(s,
		     "%" PRIu64 " requests found all %u connections busy and waited (queue_ms); "
		     "their latency counts the wait",
		     s->late_requests, s->nr_users);
	if (s->interrupted)
		warn(s, "interrupted: results cover the first %.1f s", s->elapsed_s);
	if (!s->accounted)
		warn(s,
		     "requests do not add up: %" PRIu64 " started, %" PRIu64 " ok + %" PRIu64
		     " failed + %" PRIu64 " cancelled (a bug: please report it)",
		     s->requests_started, s->requests_ok, s->requests_failed,
		     s->requests_cancelled);
	if (clamped(&res->h))
		warn(s,
		     "%" PRIu64 " latencies above the histogram's range were recorded at its top",
		     clamped(&res->h));
	if (res->c.trace_dropped)
		warn(s, "the trace lost %" PRIu64 " lines (its writer fell behind)",
		     res->c.trace_dropped);
}

void report_summarize(const struct engine_result *res, const struct brood_opts *o,
		      struct report_summary *s)
{
	const struct engine_counters *c = &res->c;

	memset(s, 0, sizeof(*s));
	s->requests_started = c->requests_started;
	s->requests_ok = c->requests_ok;
	s->requests_failed = c->requests_failed;
	s->requests_cancelled = c->requests_cancelled;
	s->accounted =
	    c->requests_started == c->requests_ok + c->requests_failed + c->requests_cancelled;
	memcpy(s->errors, c->errors, sizeof(s->errors));
	s->retries = c->retries;
	s->server_closes = c->server_closes;
	for (unsigned code = 1; code <= ENGINE_NR_CODES; code++) {
		unsigned at = code % ENGINE_NR_CODES; /* [0], 600 and above, last */

		if (c->http_codes[at] && s->nr_http_codes < REPORT_MAX_CODES) {
			s->http_codes[s->nr_http_codes].code = at;
			s->http_codes[s->nr_http_codes++].n = c->http_codes[at];
		}
	}
	memcpy(s->samples, res->samples, sizeof(s->samples));
	memcpy(s->nr_samples, res->nr_samples, sizeof(s->nr_samples));
	s->elapsed_s = (double)res->elapsed_ns / NS_PER_S;
	/* Rates count the requests measured after the warm-up, over its window. */
	s->measured_s = o->warmup_ns ? (double)res->measured_ns / NS_PER_S : s->elapsed_s;
	s->nr_users = res->nr_users ? res->nr_users : o->users;
	s->nr_shards = res->nr_shards;
	s->rps = per((double)c->requests_ok, s->measured_s);
	s->output_tokens = c->output_tokens;
	s->input_tokens = c->input_tokens;
	s->output_tokens_per_s = per((double)c->output_tokens, s->measured_s);
	s->output_tokens_per_s_per_user = per(s->output_tokens_per_s, s->nr_users);
	s->input_tokens_per_s = per((double)c->input_tokens, s->measured_s);
	s->open_loop = o->qps > 0;
	s->offered_qps = o->qps;
	latency(&res->h.queue, &s->queue);
	latency(&res->h.warmup_e2e, &s->warmup_e2e);
	s->late_requests = c->late_requests;
	s->dropped_requests = c->dropped_requests;
	s->warmup_ok = c->warmup_ok;
	s->warmup_failed = c->warmup_failed;
	s->has_slo = o->has_slo;
	s->slo_ok = c->slo_ok;
	/* Failed and dropped requests missed the SLO too. */
	s->slo_attainment = per(
	    (double)c->slo_ok, (double)(c->requests_ok + c->requests_failed + c->dropped_requests));
	s->goodput_rps = per((double)c->slo_ok, s->measured_s);
	s->short_outputs = c->short_outputs;
	s->max_tokens_per_request = c->requests_ok && c->tokens_asked
					? (double)c->tokens_asked / (double)c->requests_ok
					: o->max_tokens;
	s->output_tokens_per_request = per((double)c->output_tokens, (double)c->requests_ok);
	s->prompt_tokens = request_prompt_tokens(o);
	s->token_method =
	    c->requests_ok && c->usage_requests >= c->requests_ok ? "usage" : "chunks";
	if (res->tokenized) {
		const struct engine_tokens *t = &res->tok;

		s->token_method = "tokenizer";
		s->tokenized = true;
		s->tok_threads = res->nr_tok_threads;
		s->tok_cpu_seconds = res->tok_cpu_seconds;
		s->tok_requests = t->requests;
		s->usage_checked = t->usage_requests;
		s->usage_mismatch = t->usage_mismatch_requests;
		s->usage_mismatch_mean =
		    per((double)t->usage_mismatch_abs_sum, (double)t->usage_mismatch_requests);
		s->usage_mismatch_max = t->usage_mismatch_max;
		s->ring_drops = c->tok_ring_drops;
		s->tok_lost = c->requests_ok > t->requests ? c->requests_ok - t->requests : 0;
		s->tok_complete = s->tok_lost == 0 && !c->tok_ring_drops;
	}
	latency(&res->h.ttft, &s->ttft);
	latency(&res->h.itl, &s->itl);
	latency(&res->h.tpot, &s->tpot);
	latency(&res->h.e2e, &s->e2e);
	latency(&res->h.connect, &s->connect);
	latency(&res->h.tls_handshake, &s->tls_handshake);
	s->tls_handshakes = c->tls_handshakes;
	s->tls_resumed = c->tls_resumed;
	s->cpu_seconds = res->cpu_seconds;
	s->shard_cpu_seconds = res->shard_cpu_seconds;
	s->chunks = c->chunks;
	s->cpu_ns_per_chunk = per(res->cpu_seconds * NS_PER_S, (double)c->chunks);
	s->bytes_in = c->bytes_in;
	s->bytes_out = c->bytes_out;
	s->connects = c->connects;
	memcpy(s->responses, c->status, sizeof(s->responses));
	s->users_spawned = c->users_spawned;
	s->connections_open = c->connects - c->disconnects;
	s->events = c->events;
	s->cqes = c->cqes;
	s->loop_waits = c->loop_waits;
	s->recv_nobufs = c->recv_nobufs;
	s->interrupted = res->interrupted;
	s->finished_unix_s = (int64_t)time(NULL);
	snprintf(s->first_error, sizeof(s->first_error), "%s", res->first_error);
	add_warnings(s, res, o);
}

static void print_latency(FILE *f, const char *name, const struct report_latency *l)
{
	if (!l->count) {
		fprintf(f, "%-6s %10s %10s %10s %10s %10s %10s %10s\n", name, "-", "-", "-", "-",
			"-", "-", "0");
		return;
	}
	fprintf(f, "%-6s %10.2f %10.2f %10.2f %10.2f %10.2f %10.2f %10" PRIu64 "\n", name,
		l->mean_ms, l->p50_ms, l->p90_ms, l->p95_ms, l->p99_ms, l->max_ms, l->count);
}

static void print_errors(FILE *f, const struct report_summary *s)
{
	const char *sep = " (";

	for (int i = 0; i < ENGINE_NR_ERR; i++) {
		if (!s->errors[i])
			continue;
		fprintf(f, "%s%s %" PRIu64, sep, engine_err_name((enum engine_err)i), s->errors[i]);
		sep = ", ";
	}
	if (sep[0] == ',')
		fputc(')', f);
}

static void print_summary(FILE *f, const struct report_summary *s, const struct brood_opts *o)
{
	char url[URL_STR_MAX];

	url_format(&o->urls[0], url, sizeof(url));
	fprintf(f,
		"\n%s%s  model %s  %s%s  users %u (connected at the end %" PRIu64
		")  shards %u  %.1f s%s\n",
		url, o->nr_urls > 1 ? " (+more)" : "", o->model[0] ? o->model : "(server default)",
		o->chat ? "chat" : "completions", o->stream ? " stream" : "", s->nr_users,
		s->connections_open, s->nr_shards, s->elapsed_s,
		s->interrupted ? " (interrupted)" : "");
	fprintf(f, "%-14s ok %" PRIu64 "  failed %" PRIu64, "Requests", s->requests_ok,
		s->requests_failed);
	print_errors(f, s);
	fprintf(f, "  cancelled %" PRIu64 "  (started %" PRIu64 ")  RPS %.2f\n",
		s->requests_cancelled, s->requests_started, s->rps);
	if (s->nr_http_codes) {
		fprintf(f, "%-14s", "HTTP errors");
		for (unsigned i = 0; i < s->nr_http_codes; i++) {
			if (s->http_codes[i].code)
				fprintf(f, " %u x%" PRIu64, s->http_codes[i].code,
					s->http_codes[i].n);
			else
				fprintf(f, " other x%" PRIu64, s->http_codes[i].n);
		}
		fputc('\n', f);
	}
	if (s->retries)
		fprintf(f, "%-14s %" PRIu64 " (extra attempts, not counted as requests)\n",
			"Retries", s->retries);
	for (int i = 0, first = 1; i < ENGINE_NR_ERR; i++) {
		if (!s->nr_samples[i])
			continue;
		fprintf(f, "%-14s %s\n", first ? "Samples" : "", s->samples[i][0]);
		first = 0;
	}
	fputc('\n', f);

	fprintf(f, "%-6s %10s %10s %10s %10s %10s %10s %10s\n", "ms", "mean", "p50", "p90", "p95",
		"p99", "max", "count");
	print_latency(f, "TTFT", &s->ttft);
	print_latency(f, "ITL", &s->itl);
	print_latency(f, "TPOT", &s->tpot);
	print_latency(f, "E2E", &s->e2e);
	/* Opening connections is timed apart: TTFT starts at the send. */
	print_latency(f, "Conn", &s->connect);
	if (s->tls_handshakes)
		print_latency(f, "TLS", &s->tls_handshake);
	if (s->open_loop)
		print_latency(f, "QUEUE", &s->queue);

	fprintf(f,
		"\n%-14s output %" PRIu64 " (%.1f per request, counted by %s)  input %" PRIu64
		" (prompt %s%u)\n",
		"Tokens", s->output_tokens, s->output_tokens_per_request, s->token_method,
		s->input_tokens, o->prompt_tokens_counted ? "" : "~", s->prompt_tokens);
	fprintf(f, "%-14s output %.1f (%.2f per user)  input %.1f\n", "Tokens/s",
		s->output_tokens_per_s, s->output_tokens_per_s_per_user, s->input_tokens_per_s);
	fprintf(f,
		"%-14s %.2f s (shards %.2f s)  %.0f ns per chunk (%" PRIu64
		" chunks)  %.1f completions per wake\n",
		"Generator CPU", s->cpu_seconds, s->shard_cpu_seconds, s->cpu_ns_per_chunk,
		s->chunks, per((double)s->cqes, (double)s->loop_waits));
	if (s->tokenized)
		fprintf(f,
			"%-14s %s (%s)  threads %u, %.2f s CPU  timed %" PRIu64 " of %" PRIu64
			" requests  usage differs in %" PRIu64 " of %" PRIu64
			"  ring drops %" PRIu64 "\n",
			"Tokenizer", o->tokenizer, o->tokenizer_kind ? o->tokenizer_kind : "?",
			s->tok_threads, s->tok_cpu_seconds, s->tok_requests, s->requests_ok,
			s->usage_mismatch, s->usage_checked, s->ring_drops);
	if (s->tls_handshakes)
		fprintf(f, "%-14s handshakes %" PRIu64 " (resumed %" PRIu64 ")\n", "TLS",
			s->tls_handshakes, s->tls_resumed);
	if (s->open_loop)
		fprintf(f,
			"%-14s offered %.2f rps (%s)  achieved %.2f  late %" PRIu64
			"  dropped %" PRIu64 "  (latencies from the intended send time)\n",
			"Open loop", s->offered_qps, dist_arrival_name(o->qps_dist), s->rps,
			s->late_requests, s->dropped_requests);
	if (o->warmup_ns)
		fprintf(f,
			"%-14s %.1f s: ok %" PRIu64 "  failed %" PRIu64
			"  e2e p50 %.2f ms (left out of the figures above)\n",
			"Warm-up", (double)o->warmup_ns / NS_PER_S, s->warmup_ok, s->warmup_failed,
			s->warmup_e2e.p50_ms);
	if (s->has_slo)
		fprintf(f,
			"%-14s attainment %.1f%% (%" PRIu64
			" requests met every bound)  goodput %.2f rps\n",
			"SLO", 100 * s->slo_attainment, s->slo_ok, s->goodput_rps);
	for (unsigned i = 0; i < s->nr_warnings; i++)
		fprintf(f, "warning: %s\n", s->warnings[i]);
}

/* JSON numbers: NaN and infinities are not JSON; write null. */
static void json_num(struct sbuf *b, double v)
{
	if (isfinite(v))
		sbuf_addf(b, "%.10g", v);
	else
		sbuf_adds(b, "null");
}

static void json_str_or_null(struct sbuf *b, const char *s)
{
	if (s)
		sbuf_add_json_str(b, s, strlen(s));
	else
		sbuf_adds(b, "null");
}

static void json_latency(struct sbuf *b, const char *name, const struct report_latency *l,
			 const char *tail)
{
	sbuf_addf(b, "    \"%s\": {\"count\": %" PRIu64 ", \"mean\": ", name, l->count);
	json_num(b, l->mean_ms);
	sbuf_adds(b, ", \"p50\": ");
	json_num(b, l->p50_ms);
	sbuf_adds(b, ", \"p90\": ");
	json_num(b, l->p90_ms);
	sbuf_adds(b, ", \"p95\": ");
	json_num(b, l->p95_ms);
	sbuf_adds(b, ", \"p99\": ");
	json_num(b, l->p99_ms);
	sbuf_adds(b, ", \"max\": ");
	json_num(b, l->max_ms);
	sbuf_addf(b, "}%s\n", tail);
}

/* "key": ms or null (no bound); key is written after a quote. */
static void json_num_ms(struct sbuf *b, const char *key, uint64_t ns)
{
	sbuf_addf(b, "%s%s\": ", key[0] == ',' ? "" : "\"", key);
	if (ns)
		json_num(b, (double)ns / NS_PER_MS);
	else
		sbuf_adds(b, "null");
}

/* "    "key": number,\n" */
static void json_kv_num(struct sbuf *b, const char *key, double v, bool last)
{
	sbuf_addf(b, "    \"%s\": ", key);
	json_num(b, v);
	sbuf_adds(b, last ? "\n" : ",\n");
}

static void json_summary(struct sbuf *b, const struct report_summary *s)
{
	sbuf_adds(b, "  \"summary\": {\n");
	sbuf_addf(b, "    \"requests_started\": %" PRIu64 ",\n", s->requests_started);
	sbuf_addf(b, "    \"accounted\": %s,\n", s->accounted ? "true" : "false");
	sbuf_addf(b, "    \"retries\": %" PRIu64 ",\n", s->retries);
	sbuf_addf(b, "    \"server_closes\": %" PRIu64 ",\n", s->server_closes);
	sbuf_addf(b, "    \"requests_ok\": %" PRIu64 ",\n", s->requests_ok);
	sbuf_addf(b, "    \"requests_failed\": %" PRIu64 ",\n", s->requests_failed);
	sbuf_addf(b, "    \"requests_cancelled\": %" PRIu64 ",\n", s->requests_cancelled);
	sbuf_adds(b, "    \"errors\": {");
	for (int i = 0; i < ENGINE_NR_ERR; i++) {
		const char *name = engine_err_name((enum engine_err)i);

		sbuf_adds(b, i ? ", " : "");
		sbuf_add_json_str(b, name, strlen(name));
		sbuf_addf(b, ": %" PRIu64, s->errors[i]);
	}
	sbuf_adds(b, "},\n    \"http_status_codes\": {");
	for (unsigned i = 0; i < s->nr_http_codes; i++) {
		if (s->http_codes[i].code)
			sbuf_addf(b, "%s\"%u\": %" PRIu64, i ? ", " : "", s->http_codes[i].code,
				  s->http_codes[i].n);
		else
			sbuf_addf(b, "%s\"other\": %" PRIu64, i ? ", " : "", s->http_codes[i].n);
	}
	sbuf_adds(b, "},\n    \"error_samples\": {");
	for (int i = 0, first = 1; i < ENGINE_NR_ERR; i++) {
		const char *name = engine_err_name((enum engine_err)i);

		if (!s->nr_samples[i])
			continue;
		sbuf_adds(b, first ? "\n      " : ",\n      ");
		first = 0;
		sbuf_add_json_str(b, name, strlen(name));
		sbuf_adds(b, ": [");
		for (unsigned k = 0; k < s->nr_samples[i]; k++) {
			sbuf_adds(b, k ? ", " : "");
			sbuf_add_json_str(b, s->samples[i][k], strlen(s->samples[i][k]));
		}
		sbuf_adds(b, "]");
	}
	sbuf_adds(b, "},\n    \"responses\": {");
	for (int i = 2; i < 6; i++)
		sbuf_addf(b, "\"%dxx\": %" PRIu64 ", ", i, s->responses[i]);
	sbuf_addf(b, "\"other\": %" PRIu64 "},\n", s->responses[0]);
	json_kv_num(b, "elapsed_s", s->elapsed_s, false);
	sbuf_addf(b, "    \"users\": %u,\n", s->nr_users);
	json_kv_num(b, "rps", s->rps, false);
	json_kv_num(b, "output_tokens_per_s", s->output_tokens_per_s, false);
	json_kv_num(b, "output_tokens_per_s_per_user", s->output_tokens_per_s_per_user, false);
	json_kv_num(b, "input_tokens_per_s", s->input_tokens_per_s, false);
	json_latency(b, "ttft_ms", &s->ttft, ",");
	json_latency(b, "itl_ms", &s->itl, ",");
	json_latency(b, "tpot_ms", &s->tpot, ",");
	json_latency(b, "e2e_ms", &s->e2e, ",");
	json_latency(b, "connect_ms", &s->connect, ",");
	json_latency(b, "tls_handshake_ms", &s->tls_handshake, ",");
	sbuf_addf(b, "    \"mode\": \"%s\",\n", s->open_loop ? "open" : "closed");
	json_kv_num(b, "offered_qps", s->offered_qps, false);
	json_latency(b, "queue_ms", &s->queue, ",");
	sbuf_addf(b, "    \"late_requests\": %" PRIu64 ",\n", s->late_requests);
	sbuf_addf(b, "    \"dropped_requests\": %" PRIu64 ",\n", s->dropped_requests);
	json_kv_num(b, "measured_s", s->measured_s, false);
	sbuf_addf(b,
		  "    \"warmup\": {\"requests_ok\": %" PRIu64 ", \"requests_failed\": %" PRIu64
		  ", \"e2e_ms\": {\"count\": %" PRIu64 ", \"mean\": ",
		  s->warmup_ok, s->warmup_failed, s->warmup_e2e.count);
	json_num(b, s->warmup_e2e.mean_ms);
	sbuf_adds(b, ", \"p50\": ");
	json_num(b, s->warmup_e2e.p50_ms);
	sbuf_adds(b, ", \"p99\": ");
	json_num(b, s->warmup_e2e.p99_ms);
	sbuf_adds(b, ", \"max\": ");
	json_num(b, s->warmup_e2e.max_ms);
	sbuf_adds(b, "}},\n");
	if (s->has_slo) {
		json_kv_num(b, "slo_attainment", s->slo_attainment, false);
		json_kv_num(b, "goodput_rps", s->goodput_rps, false);
		sbuf_addf(b, "    \"slo_ok\": %" PRIu64 ",\n", s->slo_ok);
	}
	sbuf_addf(b, "    \"short_outputs\": %" PRIu64 ",\n", s->short_outputs);
	json_kv_num(b, "max_tokens_per_request", s->max_tokens_per_request, false);
	sbuf_addf(b, "    \"interrupted\": %s,\n", s->interrupted ? "true" : "false");
	sbuf_adds(b, "    \"first_error\": ");
	sbuf_add_json_str(b, s->first_error, strlen(s->first_error));
	sbuf_adds(b, "\n  },\n");
}

static void json_tokens_generator(struct sbuf *b, const struct report_summary *s,
				  const struct brood_opts *o)
{
	sbuf_adds(b, "  \"tokens\": {\n    \"method\": ");
	json_str_or_null(b, s->token_method);
	sbuf_addf(b, ",\n    \"output_total\": %" PRIu64 ",\n", s->output_tokens);
	sbuf_addf(b, "    \"input_total\": %" PRIu64 ",\n", s->input_tokens);
	json_kv_num(b, "output_per_request", s->output_tokens_per_request, false);
	sbuf_addf(b, "    \"prompt_tokens\": %u,\n", s->prompt_tokens);
	sbuf_adds(b, "    \"tokenizer\": ");
	json_str_or_null(b, s->tokenized ? o->tokenizer : NULL);
	sbuf_adds(b, ",\n    \"tokenizer_kind\": ");
	json_str_or_null(b, s->tokenized ? o->tokenizer_kind : NULL);
	sbuf_addf(b, ",\n    \"tokenizer_threads\": %u,\n", s->tok_threads);
	json_kv_num(b, "tokenizer_cpu_seconds", s->tok_cpu_seconds, false);
	sbuf_addf(b, "    \"timed_requests\": %" PRIu64 ",\n", s->tok_requests);
	sbuf_addf(b, "    \"usage_checked_requests\": %" PRIu64 ",\n", s->usage_checked);
	sbuf_addf(b, "    \"usage_mismatch_requests\": %" PRIu64 ",\n", s->usage_mismatch);
	json_kv_num(b, "usage_mismatch_mean_abs", s->usage_mismatch_mean, false);
	sbuf_addf(b, "    \"usage_mismatch_max_abs\": %" PRIu64 ",\n", s->usage_mismatch_max);
	sbuf_addf(b, "    \"ring_drops\": %" PRIu64 ",\n", s->ring_drops);
	sbuf_addf(b, "    \"lost_requests\": %" PRIu64 ",\n", s->tok_lost);
	sbuf_addf(b, "    \"complete\": %s\n  },\n",
		  !s->tokenized || s->tok_complete ? "true" : "false");

	sbuf_adds(b, "  \"generator\": {\n");
	json_kv_num(b, "cpu_seconds", s->cpu_seconds, false);
	json_kv_num(b, "shard_cpu_seconds", s->shard_cpu_seconds, false);
	sbuf_addf(b, "    \"chunks\": %" PRIu64 ",\n", s->chunks);
	json_kv_num(b, "cpu_ns_per_chunk", s->cpu_ns_per_chunk, false);
	sbuf_addf(b, "    \"shards\": %u,\n", s->nr_shards);
	sbuf_addf(b, "    \"bytes_in\": %" PRIu64 ",\n", s->bytes_in);
	sbuf_addf(b, "    \"bytes_out\": %" PRIu64 ",\n", s->bytes_out);
	sbuf_addf(b, "    \"connects\": %" PRIu64 ",\n", s->connects);
	sbuf_addf(b, "    \"users_spawned\": %" PRIu64 ",\n", s->users_spawned);
	sbuf_addf(b, "    \"connections_open\": %" PRIu64 ",\n", s->connections_open);
	sbuf_addf(b, "    \"events\": %" PRIu64 ",\n", s->events);
	sbuf_addf(b, "    \"cqes\": %" PRIu64 ",\n", s->cqes);
	sbuf_addf(b, "    \"loop_waits\": %" PRIu64 ",\n", s->loop_waits);
	sbuf_addf(b, "    \"recv_nobufs\": %" PRIu64 "\n  },\n", s->recv_nobufs);

	sbuf_adds(b, "  \"warnings\": [");
	for (unsigned i = 0; i < s->nr_warnings; i++) {
		sbuf_adds(b, i ? ",\n    " : "\n    ");
		sbuf_add_json_str(b, s->warnings[i], strlen(s->warnings[i]));
	}
	sbuf_adds(b, s->nr_warnings ? "\n  ],\n" : "],\n");
}

static void json_dur(struct sbuf *b, const char *key, uint64_t ns)
{
	json_kv_num(b, key, (double)ns / NS_PER_S, false);
}

/* The load model's settings. */
static void json_config_load(struct sbuf *b, const struct brood_opts *o)
{
	static const char *const shapes[] = { "none", "step", "ramp" };
	const struct dist_tokens *d = &o->max_tokens_dist;
	const struct engine_slo *slo = &o->slo;

	json_kv_num(b, "qps", o->qps, false);
	sbuf_addf(b, "    \"qps_distribution\": \"%s\",\n", dist_arrival_name(o->qps_dist));
	json_kv_num(b, "burstiness", o->burstiness, false);
	sbuf_addf(b, "    \"max_queue\": %u,\n", o->max_queue);
	json_dur(b, "wait_s", o->wait_ns);
	json_dur(b, "burst_s", o->burst_ns);
	json_dur(b, "warmup_s", o->warmup_ns);
	sbuf_addf(b, "    \"shape\": \"%s\",\n    \"stages_file\": ", shapes[o->shape]);
	json_str_or_null(b, o->stages_path);
	sbuf_adds(b, ",\n    \"stages\": [");
	for (unsigned i = 0; i < o->nr_stages; i++) {
		const struct sched_stage *st = &o->stages[i];

		sbuf_adds(b, i ? ", {\"duration_s\": " : "{\"duration_s\": ");
		json_num(b, (double)st->duration_ns / NS_PER_S);
		sbuf_adds(b, ", \"from\": ");
		json_num(b, st->from);
		sbuf_adds(b, ", \"to\": ");
		json_num(b, st->to);
		sbuf_adds(b, "}");
	}
	sbuf_addf(b,
		  "],\n    \"max_tokens_distribution\": {\"kind\": \"%s\", \"mean\": %u, "
		  "\"lo\": %u, \"hi\": %u, \"cap\": %u, \"stddev\": ",
		  dist_tokens_name(d->kind), d->mean, d->lo, d->hi, d->cap);
	json_num(b, d->stddev);
	sbuf_addf(b, "},\n    \"min_tokens\": %s,\n", o->min_tokens ? "true" : "false");
	if (o->has_slo) {
		sbuf_adds(b, "    \"slo\": {");
		json_num_ms(b, "ttft_ms", slo->ttft_ns);
		json_num_ms(b, ", \"itl_ms", slo->itl_ns);
		json_num_ms(b, ", \"itl_max_ms", slo->itl_max_ns);
		json_num_ms(b, ", \"tpot_ms", slo->tpot_ns);
		json_num_ms(b, ", \"e2e_ms", slo->e2e_ns);
		sbuf_adds(b, ", \"attainment\": ");
		json_num(b, o->slo_attainment);
		sbuf_adds(b, "},\n");
	} else {
		sbuf_adds(b, "    \"slo\": null,\n");
	}
}

static void json_config(struct sbuf *b, const struct brood_opts *o)
{
	sbuf_adds(b, "  \"config\": {\n    \"hosts\": [");
	for (unsigned i = 0; i < o->nr_urls; i++) {
		char url[URL_STR_MAX];

		url_format(&o->urls[i], url, sizeof(url));
		sbuf_adds(b, i ? ", " : "");
		sbuf_add_json_str(b, url, strlen(url));
	}
	sbuf_adds(b, "],\n    \"model\": ");
	sbuf_add_json_str(b, o->model, strlen(o->model));
	sbuf_addf(b, ",\n    \"chat\": %s,\n    \"stream\": %s,\n", o->chat ? "true" : "false",
		  o->stream ? "true" : "false");
	sbuf_addf(b, "    \"users\": %u,\n", o->users);
	json_kv_num(b, "spawn_rate", o->spawn_rate, false);
	json_kv_num(b, "run_time_s", (double)o->run_time_ns / NS_PER_S, false);
	sbuf_addf(b, "    \"requests\": %" PRIu64 ",\n", o->max_requests);
	sbuf_addf(b, "    \"prompt_tokens\": %u,\n", o->prompt_tokens);
	sbuf_addf(b, "    \"prompt_text_bytes\": %zu,\n    \"prompt_file\": ", o->prompt_text_len);
	json_str_or_null(b, o->prompt_file);
	sbuf_addf(b, ",\n    \"max_tokens\": %u,\n", o->max_tokens);
	sbuf_addf(b, "    \"api_key_set\": %s,\n", o->api_key ? "true" : "false");
	sbuf_addf(b, "    \"shards\": %u,\n    \"json\": ", o->nr_shards);
	json_str_or_null(b, o->json_path);
	sbuf_adds(b, ",\n    \"summary_file\": ");
	json_str_or_null(b, o->summary_path);
	sbuf_adds(b, ",\n");
	json_kv_num(b, "timeout_s", (double)o->timeout_ns / NS_PER_S, false);
	json_kv_num(b, "connect_timeout_s", (double)o->connect_timeout_ns / NS_PER_S, false);
	json_kv_num(b, "first_byte_timeout_s", (double)o->first_byte_timeout_ns / NS_PER_S, false);
	json_kv_num(b, "first_token_timeout_s", (double)o->first_token_timeout_ns / NS_PER_S,
		    false);
	json_kv_num(b, "idle_timeout_s", (double)o->idle_timeout_ns / NS_PER_S, false);
	json_kv_num(b, "grace_s", (double)o->grace_ns / NS_PER_S, false);
	sbuf_addf(b, "    \"retries\": %u,\n", o->retries);
	sbuf_addf(b, "    \"source_ips\": %u,\n", o->nr_sources);
	sbuf_adds(b, "    \"trace\": ");
	json_str_or_null(b, o->trace_path);
	sbuf_addf(b, ",\n    \"trace_chunks\": %s,\n", o->trace_chunks ? "true" : "false");
	sbuf_addf(b, "    \"max_event_bytes\": %u,\n", o->max_event_bytes);
	sbuf_addf(b, "    \"ignore_eos\": %s,\n", o->ignore_eos ? "true" : "false");
	sbuf_addf(b, "    \"batch_us\": %u,\n", o->batch_us);
	sbuf_addf(b, "    \"pin\": %s,\n", o->no_pin ? "false" : "true");
	sbuf_adds(b, "    \"cacert\": ");
	json_str_or_null(b, o->cacert);
	sbuf_addf(b, ",\n    \"insecure\": %s,\n", o->insecure ? "true" : "false");
	sbuf_addf(b, "    \"tls_version\": %s,\n",
		  o->tls_version == 12	 ? "\"1.2\""
		  : o->tls_version == 13 ? "\"1.3\""
					 : "null");
	sbuf_addf(b, "    \"quiet\": %s,\n", o->quiet ? "true" : "false");
	json_config_load(b, o);
	sbuf_addf(b, "    \"seed\": %" PRIu64 "\n  }\n", o->seed);
}

void report_json_summary(struct sbuf *b, const struct report_summary *s)
{
	json_summary(b, s);
}

void report_json_config(struct sbuf *b, const struct brood_opts *o)
{
	json_config(b, o);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* So the rename itself survives a crash. */
static int fsync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int fd, ret = 0;

	if (!slash) {
		strcpy(dir, ".");
	} else {
		size_t n = slash == path ? 1 : (size_t)(slash - path);

		if (n >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

static int write_atomic(const char *path, const char *data, size_t len)
{
	size_t path_len = strlen(path);
	char *tmp = malloc(path_len + sizeof(".tmp.XXXXXX"));
	int fd, ret;

	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, path, path_len);
	memcpy(tmp + path_len, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		free(tmp);
		return ret;
	}
	ret = fchmod(fd, 0644) ? -errno : 0; /* mkstemp makes 0600 */
	if (!ret)
		ret = write_all(fd, data, len);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	else
		ret = fsync_dir_of(path);
	free(tmp);
	return ret;
}

int report_json_build(const struct report_summary *s, const struct brood_opts *o,
		      struct engine_result *res, char **out, size_t *out_len)
{
	struct sbuf b = { 0 };

	sbuf_addf(&b,
		  "{\n  \"schema_version\": %d,\n  \"tool\": \"brood\",\n  \"version\": \"%s\",\n"
		  "  \"kind\": \"run\",\n  \"finished_unix_s\": %" PRId64 ",\n",
		  REPORT_SCHEMA_VERSION, BROOD_VERSION, s->finished_unix_s);
	json_summary(&b, s);
	json_tokens_generator(&b, s, o);
	result_json_environment(&b);
	if (res) {
		result_json_series(&b, &res->series);
		result_json_histograms(&b, &res->h);
	}
	/* Handshake times are in summary.tls_handshake_ms. */
	sbuf_addf(&b, "  \"tls\": {\"handshakes\": %" PRIu64 ", \"resumed\": %" PRIu64 "},\n",
		  s->tls_handshakes, s->tls_resumed);
	json_config(&b, o);
	sbuf_adds(&b, "}\n");
	return sbuf_take(&b, out, out_len);
}

void report_print(FILE *f, const struct report_summary *s, const struct brood_opts *o)
{
	print_summary(f, s, o);
}

int report_write_file_atomic(const char *path, const char *data, size_t len)
{
	return write_atomic(path, data, len);
}

int report_write_json(const char *path, const struct report_summary *s, const struct brood_opts *o,
		      struct engine_result *res)
{
	char *data;
	size_t len;
	int ret;

	ret = report_json_build(s, o, res, &data, &len);
	if (ret)
		return ret;
	ret = write_atomic(path, data, len);
	free(data);
	return ret;
}

/* RFC 4180: quote a field holding a comma, quote or line break. */
static void csv_str(struct sbuf *b, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		sbuf_adds(b, s);
		return;
	}
	sbuf_add(b, "\"", 1);
	for (; *s; s++) {
		if (*s == '"')
			sbuf_add(b, "\"\"", 2);
		else
			sbuf_add(b, s, 1);
	}
	sbuf_add(b, "\"", 1);
}

static const char *const lat_names[] = { "ttft", "itl", "tpot", "e2e" };
static const char *const lat_stats[] = { "mean", "p50", "p90", "p95", "p99", "max" };

static void csv_header(struct sbuf *b)
{
	sbuf_adds(b,
		  "finished_utc,hosts,model,api,stream,users,spawn_rate,run_time_s,prompt_tokens,"
		  "max_tokens,elapsed_s,requests_ok,requests_failed,requests_cancelled");
	for (int i = 0; i < ENGINE_NR_ERR; i++)
		sbuf_addf(b, ",err_%s", engine_err_name((enum engine_err)i));
	sbuf_adds(b, ",rps,output_tokens_per_s,output_tokens_per_s_per_user,input_tokens_per_s,"
		     "output_tokens_per_request,token_method");
	for (size_t i = 0; i < 4; i++)
		for (size_t k = 0; k < 6; k++)
			sbuf_addf(b, ",%s_ms_%s", lat_names[i], lat_stats[k]);
	sbuf_adds(b, ",cpu_seconds,cpu_ns_per_chunk,interrupted,mode,qps,warmup_s,queue_ms_p50,"
		     "queue_ms_p99,late_requests,dropped_requests,warmup_requests,slo_attainment,"
		     "goodput_rps\n");
}

static void csv_row(struct sbuf *b, const struct report_summary *s, const struct brood_opts *o)
{
	const struct report_latency *lat[] = { &s->ttft, &s->itl, &s->tpot, &s->e2e };
	time_t t = (time_t)s->finished_unix_s;
	struct sbuf hosts = { 0 };
	char when[32];
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	for (unsigned i = 0; i < o->nr_urls; i++) {
		char url[URL_STR_MAX];

		url_format(&o->urls[i], url, sizeof(url));
		sbuf_adds(&hosts, i ? " " : "");
		sbuf_adds(&hosts, url);
	}
	sbuf_addf(b, "%s,", when);
	csv_str(b, hosts.p ? hosts.p : "");
	b->err = b->err ? b->err : hosts.err;
	sbuf_free(&hosts);
	sbuf_add(b, ",", 1);
	csv_str(b, o->model);
	sbuf_addf(b, ",%s,%d,%u,%g,%g,%u,%u,%.3f,%" PRIu64 ",%" PRIu64 ",%" PRIu64,
		  o->chat ? "chat" : "completions", o->stream, s->nr_users, o->spawn_rate,
		  (double)o->run_time_ns / NS_PER_S, s->prompt_tokens, o->max_tokens, s->elapsed_s,
		  s->requests_ok, s->requests_failed, s->requests_cancelled);
	for (int i = 0; i < ENGINE_NR_ERR; i++)
		sbuf_addf(b, ",%" PRIu64, s->errors[i]);
	sbuf_addf(b, ",%.3f,%.2f,%.3f,%.2f,%.2f,%s", s->rps, s->output_tokens_per_s,
		  s->output_tokens_per_s_per_user, s->input_tokens_per_s,
		  s->output_tokens_per_request, s->token_method);
	for (size_t i = 0; i < 4; i++)
		sbuf_addf(b, ",%.3f,%.3f,%.3f,%.3f,%.3f,%.3f", lat[i]->mean_ms, lat[i]->p50_ms,
			  lat[i]->p90_ms, lat[i]->p95_ms, lat[i]->p99_ms, lat[i]->max_ms);
	sbuf_addf(b, ",%.3f,%.1f,%d", s->cpu_seconds, s->cpu_ns_per_chunk, s->interrupted);
	sbuf_addf(b, ",%s,%g,%g,%.3f,%.3f,%" PRIu64 ",%" PRIu64 ",%" PRIu64,
		  s->open_loop ? "open" : "closed", s->offered_qps, (double)o->warmup_ns / NS_PER_S,
		  s->queue.p50_ms, s->queue.p99_ms, s->late_requests, s->dropped_requests,
		  s->warmup_ok + s->warmup_failed);
	if (s->has_slo)
		sbuf_addf(b, ",%.4f,%.3f\n", s->slo_attainment, s->goodput_rps);
	else
		sbuf_adds(b, ",,\n");
}

static int append_row(int fd, const struct report_summary *s, const struct brood_opts *o)
{
	struct sbuf b = { 0 };
	struct stat st;
	ssize_t n;
	int ret;

	/* Two runs appending at once: the lock makes "empty? then header" hold. */
	if (flock(fd, LOCK_EX) || fstat(fd, &st))
		return -errno;
	if (st.st_size == 0)
		csv_header(&b);
	csv_row(&b, s, o);
	ret = b.err;
	if (ret)
		goto out;
	do
		n = write(fd, b.p, b.len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		ret = -errno;
	} else if ((size_t)n != b.len) {
		/* Disk full mid-row: cut the part back off rather than leave half a row. */
		ret = -ENOSPC;
		if (ftruncate(fd, st.st_size))
			ret = -errno;
	} else if (fdatasync(fd)) {
		ret = -errno;
	}
out:
	sbuf_free(&b);
	return ret;
}

int report_append_csv(const char *path, const struct report_summary *s, const struct brood_opts *o)
{
	int fd, ret;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ret = append_row(fd, s, o);
	close(fd); /* drops the lock */
	return ret;
}
