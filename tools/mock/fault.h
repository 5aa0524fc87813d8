/* SPDX-License-Identifier: MIT */
/*
 * brood-mock fault injection: what kinds of misbehaviour to inject, how
 * often, and a log of what was injected, so that a test can compare what a
 * client reports with exactly what the server did.
 *
 *   --fault reset=0.1,stall=0.1:5s,429=0.1:1,close=0.05   (repeatable)
 *   --fault-seed N         draws are reproducible per worker
 *   --fault-log FILE       JSON counts per kind, written at exit
 *
 * Every completion request draws once per kind, in the order of enum
 * fault_kind; the first kind drawn is the request's fault (so at most one),
 * and FAULT_CLOSE is drawn on its own on top. A kind is counted when it
 * takes effect on the wire (a stall once the stream is stalled, a reset
 * when the reset is sent...), so the log is exact even when a client goes
 * away first.
 */
#ifndef BROOD_MOCK_FAULT_H
#define BROOD_MOCK_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fault_kind {
	FAULT_NONE,
	FAULT_RESET,		 /* TCP RST after the first content event */
	FAULT_STALL,		 /* no bytes for PARAM after the first content event */
	FAULT_SLOW_FIRST_BYTE,	 /* the response head waits PARAM */
	FAULT_SLOW_FIRST_TOKEN,	 /* head at once, first content PARAM later */
	FAULT_429,		 /* 429 with Retry-After: PARAM seconds */
	FAULT_500,		 /* 500 with an error object */
	FAULT_503,		 /* 503 with an error object, connection closed */
	FAULT_BAD_SSE,		 /* the stream ends inside an event (no blank line) */
	FAULT_BAD_JSON,		 /* one content event holds malformed JSON */
	FAULT_TRUNCATED_CHUNKED, /* the connection closes inside an HTTP chunk */
	FAULT_HUGE_HEADERS,	 /* a 16 KiB response head */
	FAULT_NO_ANSWER,	 /* the request is read and never answered */
	FAULT_CLOSE,		 /* "connection: close" on an otherwise normal answer */
	FAULT_NR,
};

#define FAULT_HUGE_HEAD_BYTES (16 * 1024)

struct fault_config {
	double rate[FAULT_NR];	     /* 0..1 per kind */
	uint64_t param_ns[FAULT_NR]; /* stall, slow-first-byte, slow-first-token durations */
	uint32_t retry_after_s;	     /* FAULT_429's Retry-After */
	uint64_t seed;
	const char *log_path; /* --fault-log, or NULL */
	bool any;	      /* some rate is above 0 */
};

/* Sets the defaults (no faults; stall 5 s, slow 2 s, Retry-After 1). */
void fault_config_init(struct fault_config *f);

/*
 * Parses one --fault value, KIND=RATE[:PARAM][,KIND=RATE[:PARAM]...]; PARAM
 * is a duration (5s, 500ms; a bare number is seconds) for stall and slow-*,
 * whole seconds for 429. Returns 0, or -EINVAL with one line in err.
 */
int fault_parse(struct fault_config *f, const char *arg, char *err, size_t err_len);

/* A worker's draw state from the seed and the worker's index. */
uint64_t fault_prng_init(const struct fault_config *f, unsigned worker);

/*
 * The fault of one completion request (FAULT_NONE or one kind below
 * FAULT_CLOSE), and in *close whether it also gets FAULT_CLOSE. stream:
 * kinds that need a stream (reset, stall, slow-first-token, bad-sse,
 * bad-json, truncated-chunked) are not drawn for whole answers.
 */
enum fault_kind fault_draw(const struct fault_config *f, uint64_t *prng, bool stream, bool *close);

/* "reset", "stall", "slow-first-byte", ... as --fault spells them. */
const char *fault_name(enum fault_kind k);

/*
 * Writes {"requests": N, "faults": {"reset": n, ...}} to path (every kind,
 * zeros included), replacing the file. Returns 0 or -errno.
 */
int fault_log_write(const char *path, uint64_t requests, const uint64_t counts[FAULT_NR]);

#endif
