/* SPDX-License-Identifier: MIT */
/*
 * Token-exact timing inside the engine: shards push each content delta's
 * unescaped bytes with their receive time onto SPSC rings (one per shard and
 * tokenizer thread); pinned tokenizer threads assemble each response's text,
 * tokenise it once at the end, give every token the receive time of the
 * chunk holding its last byte, and keep TTFT, per-token ITL and TPOT
 * histograms of their own, merged into the run's result at the end.
 *
 * A shard never waits: a full ring drops the record, and that request's
 * token timing is counted lost (tokens.ring_drops in the report).
 */
#ifndef BROOD_ENGINE_TOKPIPE_H
#define BROOD_ENGINE_TOKPIPE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "spsc.h"

struct shard;
struct conn;

/* A connection's side of the pipeline; shard thread only. */
struct conn_tok {
	uint32_t seq; /* request number on this connection */
	uint32_t off; /* text bytes pushed for this request */
	bool lost;    /* a record of this request did not fit: stop pushing */
};

/* Records on a ring: a struct tp_rec, then (TP_DATA) the delta's bytes. */
enum tp_kind {
	TP_DATA = 1, /* bytes of the response text at offset, received at t_ns */
	TP_END,	     /* the request is over; t_ns is its send time */
};

enum {
	TP_OK = 1 << 0,	    /* END: the request succeeded */
	TP_LOST = 1 << 1,   /* END: some of its bytes never reached the ring */
	TP_USAGE = 1 << 2,  /* END: usage.completion_tokens is in usage */
	TP_STREAM = 1 << 3, /* END: streamed (SSE), so per-token times mean something */
};

struct tp_rec {
	uint8_t kind;  /* enum tp_kind */
	uint8_t flags; /* END: TP_* */
	uint16_t pad;
	uint32_t conn;	 /* the connection's index in its shard */
	uint32_t seq;	 /* the connection's request number: a new one starts a new text */
	uint32_t offset; /* DATA: where the bytes go in the text; END: the text's length */
	uint64_t t_ns;	 /* DATA: receive time; END: the request's send time */
	uint64_t usage;	 /* END: usage.completion_tokens when TP_USAGE */
};

/* END's payload when tokens are traced: who the request was. */
struct tp_end_id {
	uint32_t user;
	char request_id[30]; /* NUL-terminated x-request-id, made JSON-safe by the shard */
};

/* One response being assembled: slot (shard, conn) of a tokenizer thread. */
struct tp_slot {
	uint32_t seq;	    /* request it holds */
	uint32_t len;	    /* text bytes so far */
	uint32_t nr_chunks; /* chunks so far */
	bool active;	    /* holds (part of) request seq */
	bool bad;	    /* overflowed or out of step: discarded at its END */
	bool overflowed;    /* over max_text or max_chunks (counted when it happened) */
};

struct tok_thread {
	struct tokpipe *tp;
	unsigned id;
	int cpu; /* pinned here; -1 = not pinned */
	pthread_t thread;
	bool started;
	struct tok_state *st;
	uint32_t *ends;	       /* tok_encode's output: max_text entries */
	uint64_t *tok_ns;      /* per-token receive times: max_text entries */
	struct tp_slot *slots; /* nr_slots */
	uint32_t nr_slots;
	uint32_t slot_base[ENGINE_MAX_SHARDS]; /* first slot of each shard's conns */
	char *area; /* slots' text, chunk ends and times; MAP_NORESERVE */
	size_t area_len;
	size_t slot_stride; /* bytes of area per slot */
	struct hist ttft, itl, tpot;
	struct engine_tokens c; /* counters; written by this thread, read after join */
	char *trace_buf;	/* --trace-tokens lines waiting for write(2) */
	size_t trace_len;
	size_t trace_cap;
	double cpu_seconds;
};

struct tokpipe {
	const struct engine_tokenizer *tk;
	unsigned nr_shards;
	unsigned nr_threads;
	uint32_t max_text;   /* bytes of one response's text */
	uint32_t max_chunks; /* content deltas of one response */
	size_t ring_bytes;
	struct spsc *rings; /* [shard * nr_threads + thread] */
	struct tok_thread *threads;
	int trace_fd; /* O_APPEND per-token trace, or -1 */
	int stop;     /* atomic: shards are done; drain and exit */
};

/* The default number of tokenizer threads for nr_cpus allowed CPUs. */
unsigned tokpipe_default_threads(unsigned nr_cpus);

/*
 * Main thread, before the shards start: allocates the rings (each shard's
 * are handed over in shards[i].tok_rings) and every tokenizer thread's
 * memory, then starts the threads, pinned to cpus[] unless cpus is NULL.
 * shards[i].nr_conns must be set. Returns 0 or -errno with one line in err;
 * on failure call tokpipe_close.
 */
int tokpipe_start(struct tokpipe *tp, const struct engine_config *cfg, struct shard *shards,
		  unsigned nr_shards, unsigned nr_threads, const int *cpus, char *err,
		  size_t err_len);

/* Main thread, after every shard has been joined: the threads drain the
 * rings and exit. */
void tokpipe_stop(struct tokpipe *tp);

/* Main thread, after tokpipe_stop: the token histograms replace res's TTFT,
 * ITL and TPOT; output_tokens becomes the tokenizer's count. */
int tokpipe_merge(struct tokpipe *tp, struct engine_result *res);

/* Releases everything; stops threads still running. tp may be zeroed with
 * trace_fd -1 (never started). */
void tokpipe_close(struct tokpipe *tp);

/* Shard thread: a new request on c (no record: a new seq starts a new text). */
static inline void tokpipe_begin(struct conn_tok *t)
{
	t->seq++;
	t->off = 0;
	t->lost = false;
}

/* Shard thread: the unescaped bytes of one content delta, received now. */
void tokpipe_data(struct shard *s, struct conn *c, const char *text, size_t len);

/* Shard thread: the request is over. */
void tokpipe_end(struct shard *s, struct conn *c, bool ok, bool stream, bool has_usage,
		 uint64_t usage);

#endif
