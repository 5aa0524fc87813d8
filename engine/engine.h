/* SPDX-License-Identifier: MIT */
/*
 * The streaming load engine: per-core shards, each a pinned thread with its
 * own io_uring, connections, buffers, timers and histograms. The caller
 * (tools/brood) resolves targets and builds the request bytes; the engine
 * drives users in a closed loop (send, read the whole response, send again,
 * with optional think time or bursts) or requests in an open loop (sent at
 * intended times from a schedule, whatever the server does), and hands back
 * merged results.
 */
#ifndef BROOD_ENGINE_ENGINE_H
#define BROOD_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dist.h"
#include "hist.h"
#include "live.h"
#include "schedule.h"
#include "tok.h"

#define ENGINE_MAX_TARGETS     64
#define ENGINE_MAX_SHARDS      256
#define ENGINE_MAX_TOK_THREADS 256
#define ENGINE_TOKENS_SLOT     7   /* bytes of a max_tokens slot in a request: "1000000" */
#define ENGINE_MAX_SOURCES     64  /* --source-ips */
#define ENGINE_NR_CODES	       600 /* HTTP status codes counted one by one: 0..599 */
#define ENGINE_SAMPLES	       3   /* offending-bytes samples kept per error class */
#define ENGINE_SAMPLE_LEN      256 /* bytes per sample, with the NUL */

struct engine_target {
	struct sockaddr_storage addr; /* resolved address */
	socklen_t addr_len;
	const char *request; /* whole HTTP request bytes; caller owns, lives for the run */
	size_t request_len;
	bool tls;	  /* https: a TLS handshake after connect, every byte encrypted */
	const char *host; /* tls: SNI and the name (or address) the certificate must match */
	/* Where each request writes its own max_tokens (ENGINE_TOKENS_SLOT bytes,
	 * right-aligned, space-padded: JSON allows the spaces), when max_tokens
	 * varies; the bytes there are sent as they are otherwise. */
	uint32_t slot_off[2];
	unsigned nr_slots; /* 0..2 */
};

/* Per-request bounds; 0 = no bound. Latencies are measured as the report's. */
struct engine_slo {
	uint64_t ttft_ns;
	uint64_t itl_ns;     /* the request's mean gap between content chunks */
	uint64_t itl_max_ns; /* the request's largest gap */
	uint64_t tpot_ns;    /* (e2e - ttft) / (tokens - 1) */
	uint64_t e2e_ns;
};

/*
 * The tokenizer the engine re-tokenises responses with, as tokenize/tok.h's
 * functions (tools/brood fills it with them; tests may plug in their own).
 * tok is shared read-only by every tokenizer thread; each makes its own state.
 */
struct engine_tokenizer {
	const struct tok *tok;
	int (*state_new)(const struct tok *t, size_t max_text, struct tok_state **out);
	void (*state_free)(struct tok_state *st);
	long (*encode)(struct tok_state *st, const char *text, size_t len, uint32_t *ends,
		       size_t cap);
};

#define ENGINE_TOK_MAX_TEXT_DEFAULT (64u * 1024)
struct tls_ctx;

/* A local address that connections are bound to before connecting. */
struct engine_source {
	struct sockaddr_storage addr; /* port 0: the kernel picks one per connection */
	socklen_t addr_len;
};

struct engine_config {
	struct engine_target targets[ENGINE_MAX_TARGETS];
	unsigned nr_targets;
	unsigned nr_users;		 /* concurrent users (connections) */
	double spawn_rate;		 /* users started per second; 0 = all at once */
	uint64_t run_time_ns;		 /* 0 = no limit */
	uint64_t max_requests;		 /* stop after this many requests finish; 0 = no limit */
	uint64_t timeout_ns;		 /* whole-request limit; 0 = none */
	uint64_t connect_timeout_ns;	 /* connect submitted -> connected; 0 = none */
	uint64_t first_byte_timeout_ns;	 /* request sent -> first response byte; 0 = none */
	uint64_t first_token_timeout_ns; /* request sent -> first content token (SSE); 0 = none */
	uint64_t idle_timeout_ns;	 /* longest gap between response bytes; 0 = none */
	uint64_t grace_ns;		 /* after engine_stop: in-flight requests may finish */
	unsigned retries;		 /* extra attempts of a retryable failure; 0 = none */
	struct engine_source sources[ENGINE_MAX_SOURCES]; /* --source-ips */
	unsigned nr_sources;				  /* 0: the kernel picks */
	unsigned nr_shards;	   /* threads/rings; 0 = one per CPU we may use */
	uint32_t max_event_bytes;  /* largest SSE event/response head kept per connection */
	uint32_t input_tokens;	   /* prompt tokens per request, for input tokens/s */
	bool no_pin;		   /* leave shard threads to the scheduler */
	uint32_t batch_us;	   /* a wake waits up to this long for more completions; 0 = none */
	const char *trace_path;	   /* per-request JSON lines, or NULL */
	bool trace_chunks;	   /* trace holds every event's receive time */
	uint32_t trace_events_cap; /* events per request kept for the trace */
	const struct engine_tokenizer *tokenizer; /* re-tokenise responses; NULL = don't */
	unsigned nr_tok_threads;		  /* tokenizer threads; 0 = sized from CPUs */
	uint32_t tok_max_text;			  /* bytes of one response's text; 0 = default */
	uint32_t tok_ring_bytes;		  /* per shard and tokenizer thread; 0 = default */
	const char *tok_trace_path; /* per-token receive times as JSON lines, or NULL */
	struct tls_ctx *tls_ctx; /* client context for tls targets; caller owns, outlives the run */

	/* Load model. Closed loop (qps == 0): nr_users users; with a profile,
	 * user u runs while its level is >= u + 1. Open loop (qps > 0):
	 * requests arrive at intended times, the profile's level (or qps) per
	 * second; nr_users connections carry them. */
	double qps;			  /* open loop when > 0 */
	enum dist_arrival arrival;	  /* open loop inter-arrival process */
	double burstiness;		  /* gamma shape (vLLM's burstiness); 1 = Poisson */
	uint32_t queue_cap;		  /* due requests that may wait for a connection */
	const struct sched_stage *stages; /* load profile, or NULL: flat at nr_users/qps */
	unsigned nr_stages;
	uint64_t wait_ns;	       /* closed loop: think time between requests */
	uint64_t burst_ns;	       /* closed loop: users fire together every burst_ns */
	uint64_t warmup_ns;	       /* requests starting this early are kept apart */
	uint64_t seed;		       /* every random choice of the run */
	struct dist_tokens max_tokens; /* per-request max_tokens (targets with slots) */
	uint32_t asked_tokens;	       /* max_tokens when constant, for short-output counts */
	struct engine_slo slo;
	bool has_slo;
};

/* Error classes of failed requests. */
enum engine_err {
	ENGINE_ERR_CONNECT,  /* socket/connect failed or refused */
	ENGINE_ERR_STATUS,   /* HTTP status other than 2xx */
	ENGINE_ERR_PROTOCOL, /* malformed HTTP, SSE or JSON; event too large */
	ENGINE_ERR_TIMEOUT,  /* request exceeded --timeout */
	ENGINE_ERR_RESET,    /* connection reset or closed mid-response */
	ENGINE_ERR_SERVER,   /* an error object inside a 2xx stream */
	ENGINE_ERR_TLS,	     /* TLS handshake, certificate or record failure (OpenSSL's reason) */
	ENGINE_ERR_CONNECT_TIMEOUT,	/* not connected within --connect-timeout */
	ENGINE_ERR_FIRST_BYTE_TIMEOUT,	/* no response byte within --first-byte-timeout */
	ENGINE_ERR_FIRST_TOKEN_TIMEOUT, /* no content token within --first-token-timeout */
	ENGINE_ERR_IDLE_TIMEOUT,	/* a gap between response bytes over --idle-timeout */
	ENGINE_NR_ERR,
};

const char *engine_err_name(enum engine_err e);

/* Counters; each shard writes its own with relaxed stores, the main thread
 * reads them for progress and sums them at the end. */
struct engine_counters {
	uint64_t requests_started;
	uint64_t requests_ok;
	uint64_t requests_failed;
	uint64_t requests_cancelled; /* in flight when the run ended */
	uint64_t retries;	     /* extra attempts (--retries); not in started */
	uint64_t server_closes;	     /* responses whose head said the connection closes */
	uint64_t errors[ENGINE_NR_ERR];
	uint64_t
	    http_codes[ENGINE_NR_CODES]; /* failed requests by final HTTP status (>= 600: [0]) */
	uint64_t status[6]; /* final responses by class: [2] = 2xx ... [5] = 5xx, [0] = 6xx-9xx */
	uint64_t chunks;    /* SSE events that carried content */
	uint64_t events;    /* all SSE events */
	uint64_t output_tokens;	 /* of ok requests */
	uint64_t usage_requests; /* ok requests whose count came from usage */
	uint64_t input_tokens;	 /* of ok requests */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t connects;	 /* connections opened */
	uint64_t disconnects;	 /* connections closed, by us or the server */
	uint64_t users_spawned;	 /* users spawned so far */
	uint64_t trace_dropped;	 /* trace lines lost (writer fell behind) */
	uint64_t recv_nobufs;	 /* multishot recv re-armed after -ENOBUFS */
	uint64_t loop_waits;	 /* shard loop iterations (waits for CQEs) */
	uint64_t cqes;		 /* completions handled */
	uint64_t tok_ring_drops; /* records a full tokenizer ring refused */
	uint64_t tok_lost;	 /* ok requests whose token timing was lost (drops, overflow) */
	uint64_t tok_overflow;	 /* requests whose text outgrew tok_max_text */
	uint64_t tls_handshakes; /* TLS handshakes completed */
	uint64_t tls_resumed;	 /* of which resumed a session */

	/* Load model */
	uint64_t late_requests;	   /* open loop: due with no free connection, so queued */
	uint64_t dropped_requests; /* open loop: due but never sent (queue full, or run over) */
	uint64_t warmup_ok;	   /* requests started in the warm-up: kept out of the rest */
	uint64_t warmup_failed;
	uint64_t slo_ok;	/* ok requests that met every --slo bound */
	uint64_t tokens_asked;	/* sum of max_tokens of ok requests */
	uint64_t short_outputs; /* ok requests with a usage count below their max_tokens */
};

struct engine_hists {
	struct hist ttft;	   /* send -> first content token */
	struct hist itl;	   /* gap between content chunks */
	struct hist tpot;	   /* (e2e - ttft) / (tokens - 1) */
	struct hist e2e;	   /* send -> end of response */
	struct hist ttfb;	   /* send -> first response byte */
	struct hist connect;	   /* connect submitted -> connected */
	struct hist tls_handshake; /* connected -> TLS handshake done (https) */

	struct hist queue;	/* open loop: intended send time -> send */
	struct hist warmup_e2e; /* e2e of ok requests started in the warm-up */
};

#define ENGINE_NR_HISTS 9

/* The histograms of h in a fixed order (ttft, itl, tpot, e2e, ttfb,
 * connect, tls_handshake, queue, warmup_e2e), for code that treats them
 * alike. Latencies start at the request's send in a closed loop and at its
 * intended send time in an open loop. */
void engine_hists_list(struct engine_hists *h, struct hist *out[ENGINE_NR_HISTS]);

/* What the tokenizer threads measured; all zero without a tokenizer. */
struct engine_tokens {
	uint64_t requests;		  /* ok requests re-tokenised */
	uint64_t output_tokens;		  /* their tokens */
	uint64_t usage_requests;	  /* of those, with usage.completion_tokens */
	uint64_t usage_mismatch_requests; /* ... whose usage differed from our count */
	uint64_t usage_mismatch_abs_sum;  /* sum of |usage - ours| over those */
	uint64_t usage_mismatch_max;	  /* largest |usage - ours| */
	uint64_t overflow_requests;	  /* text over tok_max_text: not timed */
	uint64_t discarded_requests;	  /* lost on the way, or out of step: not timed */
	uint64_t encode_errors;		  /* tok_encode failed */
	uint64_t trace_dropped;		  /* --trace-tokens lines lost (too long, write failed) */
};

/*
 * One point of the run's time series: what happened in the window
 * (t_s - dt_s, t_s] after the start. Latency percentiles come from the live
 * buckets (live.h: within 1.6%), 0 when the window saw none.
 */
struct engine_point {
	double t_s;			/* end of the window, seconds since the start */
	double dt_s;			/* window length, seconds */
	uint64_t started;		/* requests started */
	uint64_t ok;			/* requests finished well */
	uint64_t failed;		/* requests finished with an error */
	uint64_t errors[ENGINE_NR_ERR]; /* failed, by class */
	uint64_t output_tokens;		/* of requests finished well */
	uint64_t chunks;		/* content events received */
	uint64_t users;			/* users spawned at the window's end (a level) */
	uint64_t connections;		/* connections open at the window's end (a level) */
	uint64_t ttft_count, itl_count, e2e_count; /* values in the window */
	uint64_t ttft_p50_ns, ttft_p99_ns;
	uint64_t itl_p50_ns, itl_p99_ns;
	uint64_t e2e_p50_ns, e2e_p99_ns;
};

/*
 * The time series, preallocated for ENGINE_SERIES_MAX points. Points are
 * step_s apart (1 s). When the array is full, neighbours merge pairwise and
 * the step doubles (2 s, 4 s, ...), so any run length fits: counts add up
 * exactly; a merged percentile is the count-weighted mean of the two (p50)
 * or the larger (p99). The points' counts always sum to the run's totals.
 */
#define ENGINE_SERIES_MAX 3600

struct engine_series {
	uint64_t t0_ns;		     /* the run's start, CLOCK_MONOTONIC (as the trace's times) */
	struct engine_point *points; /* ENGINE_SERIES_MAX entries, owned */
	unsigned nr;		     /* points filled */
	double step_s;		     /* 1, then 2, 4, ... after merging */
};

struct engine_result {
	struct engine_counters c;
	struct engine_hists h;
	uint64_t elapsed_ns;	  /* from the first user's start to the end */
	uint64_t measured_ns;	  /* elapsed_ns after the warm-up: the rates' window */
	double cpu_seconds;	  /* process CPU (user + system) during the run */
	double shard_cpu_seconds; /* the shard threads' CPU alone */
	unsigned nr_shards;
	unsigned nr_users;
	bool interrupted;		      /* stopped by engine_stop (SIGINT/SIGTERM) */
	char first_error[256];		      /* a sample of the first failure, for the report */
	struct engine_series series;	      /* per-second points; freed by engine_result_close */
	struct live_hist live[LIVE_NR_HISTS]; /* the live buckets at the end */
	bool tokenized;			      /* a tokenizer re-tokenised the responses */
	unsigned nr_tok_threads;
	double tok_cpu_seconds; /* the tokenizer threads' CPU */
	struct engine_tokens tok;
	/* The first few failures of each class, with the bytes at fault. */
	char samples[ENGINE_NR_ERR][ENGINE_SAMPLES][ENGINE_SAMPLE_LEN];
	unsigned nr_samples[ENGINE_NR_ERR];
};

/* Live figures for a progress display, summed over shards, once a second
 * on the thread that called engine_run, and once more at the end. */
struct engine_progress {
	uint64_t elapsed_ns;
	struct engine_counters c;	   /* since the start */
	const struct live_hist *h;	   /* [LIVE_NR_HISTS], since the start */
	const struct engine_point *window; /* the last second */
	bool final;			   /* every shard has finished */
};

typedef void (*engine_progress_fn)(const struct engine_progress *p, void *arg);

/*
 * Runs the load described by cfg and fills *res (which the caller later
 * releases with engine_result_close). Blocks the calling thread, which calls
 * progress (if not NULL) about once a second, and once with final set after
 * the shards have finished (its figures then equal the result's). Returns 0, or -errno when the
 * run could not start (the message is in err).
 */
int engine_run(const struct engine_config *cfg, struct engine_result *res,
	       engine_progress_fn progress, void *arg, char *err, size_t err_len);

/*
 * Async-signal-safe: asks a running engine_run to stop; results are kept.
 * The first call stops new requests and gives those in flight grace_ns to
 * finish (then they are cancelled); a second call cancels them at once.
 */
void engine_stop(void);

/* Whether engine_stop was called (a later run would stop at once). */
bool engine_stop_requested(void);

void engine_result_close(struct engine_result *res);

#endif
