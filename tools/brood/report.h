/* SPDX-License-Identifier: MIT */
/*
 * Results of a run: a summary computed once from the engine's merged result
 * and the options, then printed as a table, written as JSON (atomically)
 * and appended as one CSV row (llm_bench's --summary-file). All of it runs
 * on the main thread after engine_run returns.
 */
#ifndef BROOD_TOOLS_REPORT_H
#define BROOD_TOOLS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "opts.h"

#define REPORT_SCHEMA_VERSION                                                                      \
	2 /* docs/result.schema.json; 2 added environment, series, histograms */
#define REPORT_MAX_WARNINGS 8
#define REPORT_WARNING_MAX  256 /* bytes per warning, with the NUL */
#define REPORT_MAX_CODES    32	/* distinct HTTP status codes listed */

/* One latency in milliseconds; all 0 when count is 0. Percentiles are
 * HdrHistogram's (the top of the value's slot, within 0.1%) capped at max;
 * mean and max are exact. */
struct report_latency {
	uint64_t count; /* values recorded */
	double mean_ms;
	double p50_ms;
	double p90_ms;
	double p95_ms;
	double p99_ms;
	double max_ms;
};

struct report_summary {
	uint64_t requests_started; /* == ok + failed + cancelled (accounted) */
	bool accounted;		   /* that equation held */
	uint64_t requests_ok;
	uint64_t requests_failed;
	uint64_t requests_cancelled;	/* in flight when the run ended */
	uint64_t responses[6];		/* final responses by status class, as engine counts */
	uint64_t errors[ENGINE_NR_ERR]; /* failed requests by class */
	uint64_t retries;		/* extra attempts (--retries), not requests */
	uint64_t server_closes;		/* responses that closed their connection */
	struct {
		unsigned code; /* 0: 600 and above */
		uint64_t n;
	} http_codes[REPORT_MAX_CODES]; /* failed requests by HTTP status, ascending */
	unsigned nr_http_codes;
	char samples[ENGINE_NR_ERR][ENGINE_SAMPLES][ENGINE_SAMPLE_LEN]; /* per class */
	unsigned nr_samples[ENGINE_NR_ERR];
	double elapsed_s;		     /* first user's start to the end */
	unsigned nr_users;		     /* users of the run */
	unsigned nr_shards;		     /* engine threads */
	double rps;			     /* ok requests / elapsed */
	uint64_t output_tokens;		     /* of ok requests */
	uint64_t input_tokens;		     /* of ok requests, from usage */
	double output_tokens_per_s;	     /* all users together */
	double output_tokens_per_s_per_user; /* output_tokens_per_s / nr_users */
	double input_tokens_per_s;
	double output_tokens_per_request; /* mean over ok requests */
	uint32_t prompt_tokens;		  /* the prompt's size (-p, or estimated) */
	const char *token_method;    /* "tokenizer" with --tokenizer; else "usage" when every ok
					request had a usage count; else "chunks" */
	bool tokenized;		     /* --tokenizer: the fields below are filled */
	unsigned tok_threads;	     /* tokenizer threads */
	double tok_cpu_seconds;	     /* their CPU */
	uint64_t tok_requests;	     /* ok requests timed per token */
	uint64_t usage_checked;	     /* of those, with usage.completion_tokens */
	uint64_t usage_mismatch;     /* ... where usage differed from the tokenizer's count */
	double usage_mismatch_mean;  /* mean |usage - ours| over the mismatched */
	uint64_t usage_mismatch_max; /* largest |usage - ours| */
	uint64_t ring_drops;	     /* records a full ring refused */
	uint64_t tok_lost;	     /* ok requests not timed: drops, overflow, errors */
	bool tok_complete;	     /* every ok request was timed per token */
	struct report_latency ttft;  /* send -> first content token */
	struct report_latency itl;   /* between tokens (--tokenizer), else between content chunks */
	struct report_latency tpot;  /* (e2e - ttft) / (tokens - 1) */
	struct report_latency e2e;   /* send -> end of response */
	struct report_latency connect;	     /* connect submitted -> TCP connected */
	struct report_latency tls_handshake; /* TCP connected -> TLS handshake done */
	uint64_t tls_handshakes;	     /* TLS handshakes completed */
	uint64_t tls_resumed;		     /* of which resumed a session */
	double cpu_seconds;		     /* generator process CPU, user + system */
	double shard_cpu_seconds;	     /* the engine threads' share */
	uint64_t chunks;		     /* content-carrying SSE events */
	double cpu_ns_per_chunk;	     /* cpu_seconds per chunk; 0 without chunks */
	uint64_t bytes_in, bytes_out;
	uint64_t connects;
	uint64_t users_spawned;	   /* users that started */
	uint64_t connections_open; /* connections still open when the run ended */
	uint64_t events;	   /* all SSE events */
	uint64_t cqes;		   /* io_uring completions handled */
	uint64_t loop_waits;	   /* shard waits for completions */
	uint64_t recv_nobufs;	   /* recv re-armed: the buffer ring ran dry */
	bool interrupted;	   /* stopped by SIGINT/SIGTERM */
	int64_t finished_unix_s;   /* wall clock when summarised */
	char first_error[256];	   /* the engine's first failure sample, or "" */
	unsigned nr_warnings;
	char warnings[REPORT_MAX_WARNINGS][REPORT_WARNING_MAX]; /* one line each */

	/* Load model */
	bool open_loop;		     /* --qps: latencies start at the intended send time */
	double offered_qps;	     /* --qps (the profile's top with --stages) */
	double measured_s;	     /* the rates' window: elapsed after the warm-up */
	struct report_latency queue; /* open loop: intended send time -> send */
	uint64_t late_requests;	     /* open loop: found no free connection, so waited */
	uint64_t dropped_requests;   /* open loop: due but never sent */
	uint64_t warmup_ok;	     /* requests started in the warm-up, kept apart */
	uint64_t warmup_failed;
	struct report_latency warmup_e2e;
	bool has_slo;		       /* --slo given */
	uint64_t slo_ok;	       /* requests that met every bound */
	double slo_attainment;	       /* slo_ok / (ok + failed + dropped), 0..1 */
	double goodput_rps;	       /* slo_ok / measured_s */
	uint64_t short_outputs;	       /* ok requests whose usage fell short of max_tokens */
	double max_tokens_per_request; /* mean max_tokens asked of ok requests */
};

/* Fills s from the result and the options, once per run. Pure; s keeps no
 * pointers into res or o (token_method points at a string literal). */
void report_summarize(const struct engine_result *res, const struct brood_opts *o,
		      struct report_summary *s);

/* Prints the summary table (requests by class, RPS, TTFT/ITL/TPOT/E2E
 * rows, tokens, tokens/s, generator CPU, warnings). */
void report_print(FILE *f, const struct report_summary *s, const struct brood_opts *o);

/*
 * The JSON result (docs/result.schema.json): summary, configuration,
 * environment and, when res is not NULL, the time series and the merged
 * histograms (lossless). Never holds the API key. *out is malloc'd.
 * Returns 0 or -ENOMEM.
 */
int report_json_build(const struct report_summary *s, const struct brood_opts *o,
		      struct engine_result *res, char **out, size_t *out_len);

/*
 * Writes report_json_build's document to path, atomically: a temporary
 * file in the same directory, fsync, rename, fsync of the directory.
 * Returns 0 or -errno (nothing left behind on error).
 */
int report_write_json(const char *path, const struct report_summary *s, const struct brood_opts *o,
		      struct engine_result *res);

/* Writes len bytes to path atomically, as report_write_json does (HTML).
 * Returns 0 or -errno. */
int report_write_file_atomic(const char *path, const char *data, size_t len);

/*
 * Appends one CSV row to path, with the header first when the file is new or
 * empty. Header and row go out in one write() on an O_APPEND descriptor
 * under flock, so concurrent runs never interleave or half-write a row (a
 * short write is cut back off). Returns 0 or -errno.
 */
int report_append_csv(const char *path, const struct report_summary *s, const struct brood_opts *o);

struct sbuf;
/* Appends `  "summary": {...},\n` as report_write_json writes it (for the
 * levels of a sweep). */
void report_json_summary(struct sbuf *b, const struct report_summary *s);
/* Appends `  "config": {...}\n` as report_write_json writes it. */
void report_json_config(struct sbuf *b, const struct brood_opts *o);

#endif
