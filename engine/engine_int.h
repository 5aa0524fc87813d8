/* SPDX-License-Identifier: MIT */
/*
 * Engine internals shared by engine.c (the run: threads, merge, progress)
 * and shard.c (one shard's ring, connections and response handling).
 */
#ifndef BROOD_ENGINE_INT_H
#define BROOD_ENGINE_INT_H

#include <liburing.h>
#include <pthread.h>
#include <stdint.h>

#include "engine.h"
#include "http1.h"
#include "schedule.h"
#include "sse.h"
#include "tokpipe.h"

struct tls_conn;

/* State every shard reads; written by the main thread before the start. */
struct engine_run {
	unsigned nr_shards;
	uint64_t t0_ns;	    /* the run's start: user 0 spawns here */
	uint64_t t_end_ns;  /* run-time deadline; UINT64_MAX when none */
	int64_t budget;	    /* requests left to start (-n); atomic; INT64_MAX when none */
	int trace_fd;	    /* O_APPEND trace file, or -1 */
	bool tok_trace;	    /* END records carry who the request was (--trace-tokens) */
	pthread_mutex_t mu; /* guards nr_ready and go */
	pthread_cond_t cv;
	unsigned nr_ready; /* shards done with setup */
	int go;		   /* 0: wait; 1: run; -1: quit (some setup failed) */
};

/* Intrusive doubly-linked list; a list is its own sentinel. */
struct list {
	struct list *prev, *next;
};

/* A request whose max_tokens varies goes out by sendmsg: the shared bytes
 * around this connection's own digits. The kernel owns it while a send is
 * in flight (one at a time per connection). */
struct conn_msg {
	struct msghdr mh;
	struct iovec iov[5]; /* request, digits, request, digits, request */
	char digits[ENGINE_TOKENS_SLOT];
};

/*
 * Timeouts. Each kind has one duration for the whole run, so a list per
 * kind, appended to when armed, stays sorted by deadline: arming, re-arming
 * (the idle timer, on every read) and disarming are O(1) and allocate
 * nothing, and the earliest deadline of a kind is its list's head.
 */
enum engine_timer {
	TIMER_CONNECT,	   /* connect submitted -> connected */
	TIMER_FIRST_BYTE,  /* request sent -> first response byte */
	TIMER_FIRST_TOKEN, /* request sent -> first content token */
	TIMER_IDLE,	   /* last response byte -> the next one */
	TIMER_WHOLE,	   /* request began -> response complete (--timeout) */
	ENGINE_NR_TIMERS,
};

struct conn {
	struct list link;		       /* in the shard's backoff, idle or parked list */
	struct list tlink[ENGINE_NR_TIMERS];   /* in the shard's timer lists */
	uint64_t t_armed_ns[ENGINE_NR_TIMERS]; /* when each timer was armed */
	uint64_t t_start_ns;		       /* request began */
	uint64_t t_send_ns;		       /* request sent; 0 while connecting */
	uint64_t t_first_byte_ns;	       /* 0 until the first response byte */
	uint64_t t_first_token_ns;
	uint64_t t_last_chunk_ns;
	uint64_t t_wake_ns;	   /* backoff, retry, think, burst or parked: when to go on */
	uint64_t body_left;	   /* bytes; FRAMING_LENGTH bodies */
	uint64_t usage_completion; /* usage.completion_tokens when seen */
	uint64_t usage_prompt;
	struct http1_chunked chunked;
	struct sse_parser sse;
	char *spill;		 /* max_event_bytes + JSON_PADDING bytes */
	uint64_t *event_ns;	 /* trace: receive time of every event */
	struct conn_tok tok;	 /* token-timing pipeline */
	struct tls_conn *tls;	 /* https targets: the slot's TLS state; NULL for http */
	char *tls_out;		 /* tls: ciphertext being sent; the kernel's until the CQE */
	uint32_t tls_out_len;	 /* bytes in tls_out */
	uint32_t tls_out_sent;	 /* of which the kernel has sent */
	uint64_t t_connected_ns; /* tls: TCP connected, the handshake's start */
	uint32_t idx;		 /* slot in conns[] and in the file table */
	uint32_t gen;		 /* bumped on every close; stale CQEs mismatch */
	uint32_t user;		 /* global user number */
	uint32_t sent;		 /* request bytes sent */
	uint32_t spill_len;	 /* head or non-SSE body bytes gathered */
	uint32_t events;	 /* SSE events of this response */
	uint32_t chunks;	 /* content events of this response */
	uint16_t target;
	uint16_t source; /* index in cfg->sources, when there are any */
	uint16_t status;
	uint16_t retry_after_s; /* the response's Retry-After, in seconds; 0 = none */
	uint16_t attempt;	/* retries of this request so far */
	uint8_t state;		/* enum conn_state */
	uint8_t rstate;		/* enum resp_state */
	uint8_t framing;	/* enum http1_framing */
	uint8_t err;		/* enum engine_err + 1; 0 = none yet */
	uint16_t flags;		/* CF_* */
	char request_id[30];	/* x-request-id, for traces */

	/* Load model */
	uint64_t t_intended_ns; /* open loop: the schedule's send time (latency base); 0 closed */
	uint64_t itl_max_ns;	/* largest gap between content chunks */
	struct conn_msg *msg;	/* NULL unless max_tokens varies */
	uint32_t max_tokens;	/* asked of this request */
};

struct shard {
	unsigned id;
	int cpu; /* pinned to this CPU; -1 = not pinned */
	struct engine_run *run;
	const struct engine_config *cfg;
	pthread_t thread;
	int setup_err; /* -errno from setup */
	char err[256];

	struct io_uring ring;
	bool ring_ok;
	struct io_uring_buf_ring *br;
	size_t br_map_len;
	char *bufs;	     /* nr_bufs buffers, buf_stride apart */
	uint32_t nr_bufs;    /* power of two */
	uint32_t buf_len;    /* bytes the kernel may fill */
	uint32_t buf_stride; /* buf_len + JSON_PADDING */
	int br_added;	     /* buffers re-added since the last advance */

	struct conn *conns;
	uint32_t nr_conns;
	uint32_t next_spawn; /* conns[next_spawn..] not spawned yet */
	uint32_t live;	     /* conns spawned and not retired */
	char *spill_area;
	uint64_t *event_area;
	uint32_t spill_cap;
	uint32_t event_cap;
	struct tls_conn *tls_conns; /* one per conn when a target is https, else NULL */
	char *tls_out_area;	    /* nr_conns send buffers, tls_out_cap each */
	uint32_t tls_out_cap;	    /* bytes */
	char *tls_plain;	    /* TLS_RECORD_MAX + JSON_PADDING: decrypted bytes */

	struct list timers[ENGINE_NR_TIMERS]; /* armed conns per kind, earliest deadline first */
	uint64_t timer_ns[ENGINE_NR_TIMERS];  /* each kind's duration; 0 = off */
	struct list backoff; /* conns waiting to reconnect or retry, earliest first */

	/* Load model */
	struct list idle;	 /* closed loop: in think time or before a burst, earliest first */
	struct list parked;	 /* closed loop: users the profile has no room for now */
	uint64_t parked_wake_ns; /* earliest t_wake_ns in parked; UINT64_MAX when none */
	struct sched_profile prof; /* nr 0: none */
	struct sched_stage flat;   /* open loop without stages: qps forever */
	bool open_loop;
	struct sched_arrivals arr; /* open loop: intended times, relative to t0 */
	struct sched_queue dueq;   /* open loop: due requests waiting for a connection */
	uint32_t *free_conns; /* open loop: idle connections, a stack (warm ones reused first) */
	uint32_t nr_free;
	struct dist_rng rng;	/* max_tokens draws */
	struct conn_msg *msgs;	/* one per conn when targets have token slots */
	uint64_t t_warm_end_ns; /* requests starting before this are warm-up */
	uint64_t now_ns;
	bool stopping; /* no new requests */
	bool draining; /* stopping: requests in flight have until grace_end_ns */
	uint64_t grace_end_ns;
	struct spsc *tok_rings; /* [nr_tok] rings to the tokenizer threads, or NULL */
	unsigned nr_tok;
	uint32_t tok_max_text; /* a longer response's token timing is lost */

	struct http1_response resp; /* scratch for head parsing */

	/* Trace: two buffers; one fills while the other is written through the ring. */
	char *trace_buf[2];
	uint32_t trace_len[2];
	uint32_t trace_cap;
	int trace_active;
	bool trace_busy; /* the other buffer's write is in flight */

	struct engine_counters c;
	struct engine_hists h;
	struct live_hist lh[LIVE_NR_HISTS]; /* live.h: read by the watch loop while running */
	double cpu_seconds;
	uint64_t t_done_ns; /* when the shard finished */
	int done;	    /* atomic: the thread is finished */
	char first_error[256];
	char samples[ENGINE_NR_ERR][ENGINE_SAMPLES][ENGINE_SAMPLE_LEN];
	unsigned nr_samples[ENGINE_NR_ERR];
};

/* The shards' counters and live buckets summed at one moment (series.c). */
struct live_snap {
	uint64_t t_ns; /* since the run's start */
	struct engine_counters c;
	struct live_hist h[LIVE_NR_HISTS];
};

void live_snap_take(struct live_snap *dst, struct shard *shards, unsigned n, uint64_t t_ns);
/* The point for the window (prev, now]; scratch is a work buffer. */
void series_point_of(struct engine_point *pt, const struct live_snap *now,
		     const struct live_snap *prev, struct live_hist *scratch);
int series_init(struct engine_series *s);
void series_push(struct engine_series *s, const struct engine_point *pt);

int shard_setup(struct shard *s);
int shard_main(struct shard *s);
void shard_close(struct shard *s);

/* shard_tls.c: the TLS side of a shard's connections. */
int stls_setup(struct shard *s);
void stls_close(struct shard *s);
int stls_start(struct shard *s, struct conn *c);
int stls_handshake(struct shard *s, struct conn *c);
/* shard.c: the request's next contiguous plaintext from c->sent (the
 * shared bytes, or the connection's max_tokens digits). */
void conn_request_piece(const struct engine_target *t, const struct conn *c, const char **p,
			size_t *len);
ssize_t stls_fill(struct shard *s, struct conn *c);
void stls_end(struct conn *c, bool clean);

uint64_t engine_now_ns(void);
bool engine_stop_requested(void);
int engine_stop_level(void); /* 0: run; 1: stop gracefully; 2: stop now */

/* Single-writer counters that another thread reads: relaxed stores keep
 * them tear-free without a locked instruction. */
#define CTR_ADD(s, field, n) __atomic_store_n(&(s)->c.field, (s)->c.field + (n), __ATOMIC_RELAXED)

/* Records into the exact histogram and the live buckets alike. */
#define HIST_LIVE(s, name, kind, ns)                                                               \
	do {                                                                                       \
		uint64_t v_ = (ns);                                                                \
		hist_record(&(s)->h.name, v_);                                                     \
		live_record(&(s)->lh[kind], v_);                                                   \
	} while (0)

#endif
