/* SPDX-License-Identifier: MIT */
/*
 * One shard: a pinned thread that owns an io_uring, a slab of connections
 * (one per user), a provided-buffer ring fed to multishot recv, deadline
 * lists and histograms. Everything is sized in shard_setup; the loop in
 * shard_main does not allocate.
 *
 * A user is a closed loop: send the request, read the whole response, send
 * again. Its socket is a direct descriptor in slot conns[i].idx of the
 * ring's sparse file table, so a shard holds as many connections as its
 * table, not as RLIMIT_NOFILE allows the process.
 *
 * Load models: a closed-loop user may rest between requests (think time,
 * or until the next burst) and follow a profile's level. In an open loop
 * the connections are a pool instead: requests arrive at the schedule's
 * intended times (schedule.c), take an idle connection or wait in a bounded
 * queue, and their latencies start at the intended time, so a stalled
 * server shows in every request that was due during the stall (wrk2's
 * answer to coordinated omission).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "engine_int.h"
#include "json.h"
#include "tls.h"

enum op {
	OP_SOCKET = 1,
	OP_CLOSE,
	OP_CONNECT,
	OP_SEND,
	OP_RECV,
	OP_TRACE,
	OP_CANCEL,
	OP_BIND,
};

enum conn_state {
	CS_UNSPAWNED,
	CS_BUSY,    /* a request is in progress (maybe still connecting) */
	CS_WAITING, /* response done, waiting for the send CQE before the next */
	CS_BACKOFF, /* connect failed; retry at t_wake_ns */
	CS_RETRY,   /* the request failed retryably; its next attempt starts at t_wake_ns */
	CS_RETIRED,
	CS_RESTING, /* closed loop: think time or waiting for the burst, until t_wake_ns */
	CS_PARKED,  /* closed loop: the profile has no room for this user now */
	CS_IDLE,    /* open loop: in the free stack */
};

enum resp_state {
	RS_HEAD,
	RS_BODY,
	RS_DONE,
};

enum {
	CF_CONNECTING = 1 << 0,
	CF_CONNECTED = 1 << 1,
	CF_SLOT_USED = 1 << 2, /* the file slot may hold a socket */
	CF_RECV_ARMED = 1 << 3,
	CF_SEND_INFLIGHT = 1 << 4,
	CF_KEEP_ALIVE = 1 << 5,
	CF_SSE = 1 << 6,
	CF_HAS_USAGE = 1 << 7,
	CF_OVERFLOW = 1 << 8, /* a non-SSE body outgrew the spill buffer */
	CF_TLS_HS = 1 << 9,   /* connected; the TLS handshake is under way */
	CF_WARMUP = 1 << 10,  /* started in the warm-up: kept out of the statistics */
};

#define BGID		  0
#define BACKOFF_NS	  (100 * 1000 * 1000ull) /* after a failed connect */
#define STOP_POLL_NS	  (50 * 1000 * 1000ull)	 /* how often a shard looks at the stop flag */
#define TRACE_LINE_BASE	  640			 /* bytes of a trace line without event times */
#define BATCH_NR	  256 /* with --batch-us: wake early once this many are ready */
#define RETRY_BASE_NS	  (100 * 1000 * 1000ull)      /* first retry without Retry-After */
#define RETRY_MAX_NS	  (2 * 1000 * 1000 * 1000ull) /* exponential backoff's cap */
#define RETRY_AFTER_MAX_S 30			      /* a longer Retry-After is capped here */

/* Linux 6.11; liburing 2.3 has neither the opcode nor io_uring_prep_bind. */
#define OPCODE_BIND 56
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24 /* linux/in.h; glibc's netinet/in.h lacks it */
#endif

#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15) /* Linux 6.12: min_wait_usec in getevents_arg */
#endif

/* user_data: {op:8, generation:24, conn index:32}. */
static inline uint64_t ud_pack(enum op op, const struct conn *c)
{
	return (uint64_t)op << 56 | (uint64_t)(c->gen & 0xffffff) << 32 | c->idx;
}

static inline enum op ud_op(uint64_t ud)
{
	return (enum op)(ud >> 56);
}

static inline uint32_t ud_gen(uint64_t ud)
{
	return (uint32_t)(ud >> 32) & 0xffffff;
}

static inline uint32_t ud_idx(uint64_t ud)
{
	return (uint32_t)ud;
}

/* ---- lists ---- */

static void list_init(struct list *l)
{
	l->prev = l->next = l;
}

static bool list_empty(const struct list *l)
{
	return l->next == l;
}

static void list_del(struct list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_init(n);
}

static void list_add_tail(struct list *l, struct list *n)
{
	n->prev = l->prev;
	n->next = l;
	l->prev->next = n;
	l->prev = n;
}

static struct conn *list_first_conn(const struct list *l)
{
	return (struct conn *)((char *)l->next - offsetof(struct conn, link));
}

static struct conn *timer_first(const struct shard *s, enum engine_timer k)
{
	return (struct conn *)((char *)s->timers[k].next - offsetof(struct conn, tlink) -
			       (size_t)k * sizeof(struct list));
}

/* ---- ring helpers ---- */

/* Guarantees n free SQEs, so that a linked chain is never split across
 * two submits (the kernel would end the chain at the submit boundary). */
static void reserve_sqes(struct shard *s, unsigned n)
{
	while (io_uring_sq_space_left(&s->ring) < n)
		io_uring_submit(&s->ring);
}

static struct io_uring_sqe *get_sqe(struct shard *s)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(&s->ring)))
		io_uring_submit(&s->ring);
	return sqe;
}

static char *buf_addr(struct shard *s, unsigned bid)
{
	return s->bufs + (size_t)bid * s->buf_stride;
}

static void buf_recycle(struct shard *s, unsigned bid)
{
	io_uring_buf_ring_add(s->br, buf_addr(s, bid), s->buf_len, (unsigned short)bid,
			      io_uring_buf_ring_mask(s->nr_bufs), s->br_added++);
}

static void bufs_publish(struct shard *s)
{
	if (s->br_added) {
		io_uring_buf_ring_advance(s->br, s->br_added);
		s->br_added = 0;
	}
}

/* ---- errors ---- */

static void format_target(const struct engine_target *t, char *out, size_t len)
{
	char host[64] = "?";
	unsigned port = 0;

	if (t->addr.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&t->addr;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(out, len, "%s:%u", host, port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&t->addr;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(out, len, "[%s]:%u", host, port);
	}
}

/* Printable excerpt of bytes the server sent, for the report. */
static void excerpt(char *out, size_t out_len, const char *p, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < out_len; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, out_len - o, "\\x%02x", ch);
	}
	out[o < out_len ? o : out_len - 1] = '\0';
}

/* The first failure of the request wins; the shard keeps the first sample. */
static void set_err(struct shard *s, struct conn *c, enum engine_err e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_err(struct shard *s, struct conn *c, enum engine_err e, const char *fmt, ...)
{
	if (c->err)
		return;
	c->err = (uint8_t)(e + 1);
	if (s->first_error[0] && s->nr_samples[e] >= ENGINE_SAMPLES)
		return;

	char where[80];
	char *out =
	    s->nr_samples[e] < ENGINE_SAMPLES ? s->samples[e][s->nr_samples[e]++] : s->first_error;
	int n;
	va_list ap;

	format_target(&s->cfg->targets[c->target], where, sizeof(where));
	n = snprintf(out, ENGINE_SAMPLE_LEN, "%s (%s): ", engine_err_name(e), where);
	if (n >= 0 && (size_t)n < ENGINE_SAMPLE_LEN) {
		va_start(ap, fmt);
		vsnprintf(out + n, ENGINE_SAMPLE_LEN - (size_t)n, fmt, ap);
		va_end(ap);
	}
	if (!s->first_error[0] && out != s->first_error)
		memcpy(s->first_error, out, sizeof(s->first_error));
}

/* set_err with a printable excerpt of the bytes at fault, for the report. */
static void set_err_bytes(struct shard *s, struct conn *c, enum engine_err e, const char *what,
			  const char *p, size_t len)
{
	char ex[192];

	if (c->err)
		return;
	excerpt(ex, sizeof(ex), p, len < 160 ? len : 160);
	set_err(s, c, e, "%s: %s", what, ex);
}

/* ---- timers ---- */

/* (Re)arms timer k of c from now; a kind that is off is never armed. */
static void timer_arm(struct shard *s, struct conn *c, enum engine_timer k)
{
	list_del(&c->tlink[k]);
	if (!s->timer_ns[k])
		return;
	c->t_armed_ns[k] = s->now_ns;
	list_add_tail(&s->timers[k], &c->tlink[k]);
}

static void timer_disarm(struct conn *c, enum engine_timer k)
{
	list_del(&c->tlink[k]);
}

static void timers_disarm(struct conn *c)
{
	for (int k = 0; k < ENGINE_NR_TIMERS; k++)
		list_del(&c->tlink[k]);
}

/* ---- connections ---- */

static void conn_arm_recv(struct shard *s, struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	io_uring_prep_recv_multishot(sqe, (int)c->idx, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, ud_pack(OP_RECV, c));
	c->flags |= CF_RECV_ARMED;
}

static void cancel_ud(struct shard *s, uint64_t ud, const struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	io_uring_prep_cancel64(sqe, ud, 0);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(sqe, ud_pack(OP_CANCEL, c));
}

/*
 * Forgets the connection: cancels its ops in flight by their user_data (a
 * hash lookup in the kernel; a cancel by descriptor would scan every
 * request on the ring) and closes the slot. Both run inline, in order, so
 * the next socket installed in the slot is never touched by them; a
 * shutdown would not do (it runs in io-wq and finds its file in the slot
 * only then). Bumps the generation so late CQEs of the old socket are
 * ignored.
 */
static void conn_drop(struct shard *s, struct conn *c)
{
	if (c->flags & CF_CONNECTED)
		CTR_ADD(s, disconnects, 1);
	if (c->flags & (CF_CONNECTING | CF_CONNECTED)) {
		struct io_uring_sqe *sqe;

		if (c->flags & CF_RECV_ARMED)
			cancel_ud(s, ud_pack(OP_RECV, c), c);
		if (c->flags & CF_CONNECTING)
			cancel_ud(s, ud_pack(OP_CONNECT, c), c);
		if (c->flags & CF_SEND_INFLIGHT)
			cancel_ud(s, ud_pack(OP_SEND, c), c);
		sqe = get_sqe(s);
		io_uring_prep_close_direct(sqe, c->idx);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		io_uring_sqe_set_data64(sqe, ud_pack(OP_CLOSE, c));
		c->flags &= ~CF_SLOT_USED;
	}
	if (c->tls)
		stls_end(c, c->err != ENGINE_ERR_TLS + 1 && !(c->flags & CF_TLS_HS));
	c->flags &= ~(CF_CONNECTING | CF_CONNECTED | CF_RECV_ARMED | CF_SEND_INFLIGHT | CF_TLS_HS);
	c->gen++;
}

/* socket -> connect, linked; a used slot is closed first (hard link: the
 * chain goes on when the slot was already empty). */
static void conn_open(struct shard *s, struct conn *c)
{
	const struct engine_target *t = &s->cfg->targets[c->target];
	struct io_uring_sqe *sqe;

	reserve_sqes(s, 5);
	if (c->flags & CF_SLOT_USED) {
		sqe = get_sqe(s);
		io_uring_prep_close_direct(sqe, c->idx);
		sqe->flags |= IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS;
		io_uring_sqe_set_data64(sqe, ud_pack(OP_CLOSE, c));
	}
	sqe = get_sqe(s);
	io_uring_prep_socket_direct(sqe, t->addr.ss_family, SOCK_STREAM, 0, c->idx, 0);
	sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(sqe, ud_pack(OP_SOCKET, c));

	if (s->cfg->nr_sources) {
		const struct engine_source *src = &s->cfg->sources[c->source];

		if (t->addr.ss_family == AF_INET) {
			/* IP_BIND_ADDRESS_NO_PORT: the port is picked at connect,
			 * per (source, destination), not at bind, per source. A
			 * socket command (Linux 6.7), by hand for liburing 2.3;
			 * HARDLINK: without it the chain goes on, ports per source. */
			static const int one = 1;

			sqe = get_sqe(s);
			io_uring_prep_rw(IORING_OP_URING_CMD, sqe, (int)c->idx, NULL, 0, 0);
			sqe->off = 3; /* cmd_op = SOCKET_URING_OP_SETSOCKOPT */
			sqe->addr = (uint64_t)IPPROTO_IP | (uint64_t)IP_BIND_ADDRESS_NO_PORT << 32;
			sqe->splice_fd_in = sizeof(one);	/* optlen */
			sqe->addr3 = (uint64_t)(uintptr_t)&one; /* optval */
			sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS;
			io_uring_sqe_set_data64(sqe, ud_pack(OP_CANCEL, c));
		}
		sqe = get_sqe(s);
		io_uring_prep_rw(OPCODE_BIND, sqe, (int)c->idx, &src->addr, 0, src->addr_len);
		/* No CQE_SKIP_SUCCESS here: a failed request in mid-chain
		 * with it makes the kernel skip the CQEs of the ones it
		 * cancels, and the connect's -ECANCELED would never come. */
		sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
		io_uring_sqe_set_data64(sqe, ud_pack(OP_BIND, c));
	}
	sqe = get_sqe(s);
	io_uring_prep_connect(sqe, (int)c->idx, (const struct sockaddr *)&t->addr, t->addr_len);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, ud_pack(OP_CONNECT, c));

	c->flags |= CF_CONNECTING | CF_SLOT_USED;
	timer_arm(s, c, TIMER_CONNECT);
}

static void conn_send(struct shard *s, struct conn *c);

static void note_send(struct shard *s, struct conn *c);

/* The request goes out now: the response timers start. */
static void request_send(struct shard *s, struct conn *c)
{
	note_send(s, c);
	timer_arm(s, c, TIMER_FIRST_BYTE);
	timer_arm(s, c, TIMER_FIRST_TOKEN);
	conn_send(s, c);
}

static void tls_fail(struct shard *s, struct conn *c, const char *what);
/* The request's bytes from c->sent on, as iovecs around the conn's digits. */
static void conn_sendmsg(struct io_uring_sqe *sqe, const struct engine_target *t, struct conn *c)
{
	struct conn_msg *m = c->msg;
	size_t pos = 0, skip = c->sent;
	unsigned n = 0;

	for (unsigned i = 0; i <= t->nr_slots; i++) {
		size_t end = i < t->nr_slots ? t->slot_off[i] : t->request_len;
		const char *part[2] = { t->request + pos, m->digits };
		size_t len[2] = { end - pos, i < t->nr_slots ? ENGINE_TOKENS_SLOT : 0 };

		for (int j = 0; j < 2; j++) {
			if (skip >= len[j]) {
				skip -= len[j];
				continue;
			}
			m->iov[n].iov_base = (void *)(part[j] + skip);
			m->iov[n++].iov_len = len[j] - skip;
			skip = 0;
		}
		pos = end + ENGINE_TOKENS_SLOT;
	}
	memset(&m->mh, 0, sizeof(m->mh));
	m->mh.msg_iov = m->iov;
	m->mh.msg_iovlen = n;
	io_uring_prep_sendmsg(sqe, (int)c->idx, &m->mh, MSG_NOSIGNAL);
}

/* The request's next contiguous plaintext from c->sent: the shared bytes,
 * or this connection's max_tokens digits in a slot (for TLS records). */
void conn_request_piece(const struct engine_target *t, const struct conn *c, const char **p,
			size_t *len)
{
	size_t at = c->sent;

	if (c->msg) {
		for (unsigned i = 0; i < t->nr_slots; i++) {
			size_t off = t->slot_off[i];

			if (at < off) {
				*p = t->request + at;
				*len = off - at;
				return;
			}
			if (at < off + ENGINE_TOKENS_SLOT) {
				*p = c->msg->digits + (at - off);
				*len = off + ENGINE_TOKENS_SLOT - at;
				return;
			}
		}
	}
	*p = t->request + at;
	*len = t->request_len - at;
}

static void conn_send(struct shard *s, struct conn *c)
{
	const struct engine_target *t = &s->cfg->targets[c->target];
	const char *p = t->request + c->sent;
	size_t len = t->request_len - c->sent;
	struct io_uring_sqe *sqe;

	if (c->tls) {
		/* One send at a time: the buffer is the kernel's until its CQE. */
		ssize_t n = (c->flags & CF_SEND_INFLIGHT) ? 0 : stls_fill(s, c);

		if (n < 0)
			tls_fail(s, c, "encrypting the request");
		if (n <= 0)
			return;
		p = c->tls_out + c->tls_out_sent;
		len = (size_t)n;
	}
	sqe = get_sqe(s);
	if (!c->tls && c->msg && t->nr_slots) {
		conn_sendmsg(sqe, t, c);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, ud_pack(OP_SEND, c));
		c->flags |= CF_SEND_INFLIGHT;
		return;
	}

	/* One send of the whole request: nothing of ours is unacknowledged
	 * when it goes, so Nagle does not hold it back. */
	io_uring_prep_send(sqe, (int)c->idx, p, len, MSG_NOSIGNAL);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, ud_pack(OP_SEND, c));
	c->flags |= CF_SEND_INFLIGHT;
}

/* ---- the user loop ---- */

static bool take_budget(struct shard *s)
{
	if (__atomic_load_n(&s->run->budget, __ATOMIC_RELAXED) == INT64_MAX)
		return true;
	return __atomic_sub_fetch(&s->run->budget, 1, __ATOMIC_RELAXED) >= 0;
}

static void user_retire(struct shard *s, struct conn *c)
{
	list_del(&c->link);
	timers_disarm(c);
	c->state = CS_RETIRED;
	s->live--;
}

/* Latencies start here: the intended send time in an open loop, else the send. */
static uint64_t lat_base(const struct conn *c)
{
	return c->t_intended_ns ? c->t_intended_ns : c->t_send_ns;
}

static bool measured(const struct conn *c)
{
	return !(c->flags & CF_WARMUP);
}

/* The right-aligned, space-padded digits of v in a slot. */
static void put_digits(char *slot, uint32_t v)
{
	for (int i = ENGINE_TOKENS_SLOT - 1; i >= 0; i--) {
		slot[i] = v || i == ENGINE_TOKENS_SLOT - 1 ? (char)('0' + v % 10) : ' ';
		v /= 10;
	}
}

/* Records the open-loop queueing delay once the request is sent. */
static void note_send(struct shard *s, struct conn *c)
{
	c->t_send_ns = s->now_ns;
	if (c->t_intended_ns && measured(c))
		hist_record(&s->h.queue, s->now_ns - c->t_intended_ns);
}

/* t_intended_ns: the schedule's send time (open loop), or 0. retry: the
 * request's next attempt (--retries), which keeps its max_tokens. */
static void request_begin(struct shard *s, struct conn *c, uint64_t t_intended_ns, bool retry)
{
	uint64_t base = t_intended_ns ? t_intended_ns : s->now_ns;

	c->flags &= CF_CONNECTING | CF_CONNECTED | CF_SLOT_USED | CF_RECV_ARMED;
	if (base < s->t_warm_end_ns)
		c->flags |= CF_WARMUP;
	c->t_intended_ns = t_intended_ns;
	c->itl_max_ns = 0;
	if (!retry) {
		c->max_tokens = s->cfg->asked_tokens;
		if (c->msg) {
			c->max_tokens = dist_tokens_sample(&s->cfg->max_tokens, &s->rng);
			put_digits(c->msg->digits, c->max_tokens);
		}
	}
	c->state = CS_BUSY;
	c->rstate = RS_HEAD;
	c->sent = 0;
	c->spill_len = 0;
	c->events = 0;
	c->chunks = 0;
	c->status = 0;
	c->err = 0;
	c->t_send_ns = 0;
	c->t_first_byte_ns = 0;
	c->t_first_token_ns = 0;
	c->usage_completion = 0;
	c->usage_prompt = 0;
	c->retry_after_s = 0;
	c->request_id[0] = '\0';
	tokpipe_begin(&c->tok);
	c->t_start_ns = s->now_ns;
	timer_arm(s, c, TIMER_WHOLE);
	if (!retry) {
		c->attempt = 0;
		CTR_ADD(s, requests_started, 1);
	}

	if (c->flags & CF_CONNECTED)
		request_send(s, c);
	else
		conn_open(s, c);
}

/* ---- open loop ---- */

/* With no arrivals left and nothing queued or in flight, the shard is done. */
static void ol_maybe_done(struct shard *s)
{
	if (s->arr.next_ns != SCHED_FOREVER || s->dueq.len || s->nr_free < s->live)
		return;
	while (s->nr_free)
		user_retire(s, &s->conns[s->free_conns[--s->nr_free]]);
}

/* The connection may carry another request: the oldest due one, if any. */
static void conn_free(struct shard *s, struct conn *c)
{
	uint64_t t;

	if (s->stopping) {
		user_retire(s, c);
		return;
	}
	if (sched_queue_pop(&s->dueq, &t)) {
		request_begin(s, c, t, false);
		return;
	}
	c->state = CS_IDLE;
	s->free_conns[s->nr_free++] = c->idx;
	ol_maybe_done(s);
}

/* Starts every request whose intended time has come, on an idle
 * connection, else queues it (late) or drops it (queue full). */
static void ol_arrivals(struct shard *s)
{
	while (!s->stopping && s->arr.next_ns != SCHED_FOREVER &&
	       s->run->t0_ns + s->arr.next_ns <= s->now_ns) {
		uint64_t t = s->run->t0_ns + s->arr.next_ns;
		bool warm = t < s->t_warm_end_ns;

		if (!take_budget(s)) {
			s->arr.next_ns = SCHED_FOREVER;
			break;
		}
		sched_arrivals_advance(&s->arr);
		if (s->nr_free) {
			request_begin(s, &s->conns[s->free_conns[--s->nr_free]], t, false);
		} else if (sched_queue_push(&s->dueq, t)) {
			if (!warm)
				CTR_ADD(s, late_requests, 1);
		} else if (!warm) {
			CTR_ADD(s, dropped_requests, 1);
		}
	}
	ol_maybe_done(s);
}

static void ol_start(struct shard *s)
{
	const struct engine_config *cfg = s->cfg;

	sched_arrivals_init(&s->arr, &s->prof, cfg->arrival, cfg->burstiness, cfg->seed, s->id,
			    s->run->nr_shards);
	for (uint32_t i = s->nr_conns; i-- > 0;) {
		s->conns[i].state = CS_IDLE;
		s->free_conns[s->nr_free++] = i;
	}
	s->live = s->nr_conns;
	s->next_spawn = s->nr_conns;
	CTR_ADD(s, users_spawned, s->nr_conns);
}

/* ---- closed loop ---- */

/* The user is ready for its next request. */
static void user_next(struct shard *s, struct conn *c)
{
	if (s->open_loop) {
		conn_free(s, c);
		return;
	}
	if (s->stopping) {
		user_retire(s, c);
		return;
	}
	if (s->prof.nr &&
	    sched_level_at(&s->prof, s->now_ns - s->run->t0_ns) < (double)c->user + 1 - 1e-9) {
		uint64_t t = sched_reach(&s->prof, s->now_ns - s->run->t0_ns, (double)c->user + 1);

		/* The profile has no room for this user now: park until it has. */
		c->state = CS_PARKED;
		c->t_wake_ns = t == SCHED_FOREVER ? UINT64_MAX : s->run->t0_ns + t;
		/* A ramp's rounding may say "now": look again a little later,
		 * so unpark never meets this user twice in one pass. */
		if (c->t_wake_ns <= s->now_ns)
			c->t_wake_ns = s->now_ns + 1000000;
		if (c->t_wake_ns < s->parked_wake_ns)
			s->parked_wake_ns = c->t_wake_ns;
		list_add_tail(&s->parked, &c->link);
		return;
	}
	if (!take_budget(s)) {
		user_retire(s, c);
		return;
	}
	request_begin(s, c, 0, false);
}

/* After a response: think time (--wait), then the next burst (--burst). */
static void user_rest(struct shard *s, struct conn *c)
{
	const struct engine_config *cfg = s->cfg;
	uint64_t wake;

	if (s->open_loop || (!cfg->wait_ns && !cfg->burst_ns)) {
		user_next(s, c);
		return;
	}
	wake = s->now_ns + cfg->wait_ns;
	if (cfg->burst_ns) {
		uint64_t rel = wake - s->run->t0_ns;

		wake = s->run->t0_ns + (rel + cfg->burst_ns - 1) / cfg->burst_ns * cfg->burst_ns;
	}
	/* wake grows with now_ns, so appending keeps the list sorted. */
	c->state = CS_RESTING;
	c->t_wake_ns = wake;
	list_add_tail(&s->idle, &c->link);
}

static void user_spawn(struct shard *s, struct conn *c)
{
	s->live++;
	CTR_ADD(s, users_spawned, 1);
	user_next(s, c);
}

/* ---- trace ---- */

static void trace_flush(struct shard *s)
{
	int a = s->trace_active;
	struct io_uring_sqe *sqe;

	if (s->trace_busy || !s->trace_len[a])
		return;
	sqe = get_sqe(s);
	/* offset -1: the file position; the file is O_APPEND, so shards'
	 * whole-buffer writes never interleave inside a line. */
	io_uring_prep_write(sqe, s->run->trace_fd, s->trace_buf[a], s->trace_len[a], (uint64_t)-1);
	io_uring_sqe_set_data64(sqe, (uint64_t)OP_TRACE << 56);
	s->trace_busy = true;
	s->trace_active = !a; /* empty: its last write completed */
}

static void trace_request(struct shard *s, struct conn *c, uint64_t tokens)
{
	uint32_t nr_ev = c->events < s->event_cap ? c->events : s->event_cap;
	size_t need = TRACE_LINE_BASE + (s->cfg->trace_chunks ? (size_t)nr_ev * 21 : 0);
	char *p;
	int a, n;

	if (s->trace_len[s->trace_active] + need > s->trace_cap)
		trace_flush(s);
	a = s->trace_active;
	if (s->trace_len[a] + need > s->trace_cap) {
		CTR_ADD(s, trace_dropped, 1);
		return;
	}
	p = s->trace_buf[a] + s->trace_len[a];
	n = sprintf(p,
		    "{\"shard\":%u,\"user\":%u,\"request_id\":\"%s\",\"t_start_ns\":%" PRIu64
		    ",\"t_send_ns\":%" PRIu64 ",\"t_intended_ns\":%" PRIu64
		    ",\"warmup\":%s,\"max_tokens\":%u,\"status\":%u,\"ok\":%s,\"error\":",
		    s->id, c->user, c->request_id, c->t_start_ns, c->t_send_ns, c->t_intended_ns,
		    measured(c) ? "false" : "true", c->max_tokens, c->status,
		    c->err ? "false" : "true");
	if (c->err)
		n += sprintf(p + n, "\"%s\"", engine_err_name((enum engine_err)(c->err - 1)));
	else
		n += sprintf(p + n, "null");
	n += sprintf(p + n,
		     ",\"ttfb_ns\":%" PRIu64 ",\"ttft_ns\":%" PRIu64 ",\"e2e_ns\":%" PRIu64
		     ",\"events\":%u,\"chunks\":%u,\"output_tokens\":%" PRIu64 ",\"usage\":%s",
		     c->t_first_byte_ns ? c->t_first_byte_ns - lat_base(c) : 0,
		     c->t_first_token_ns ? c->t_first_token_ns - lat_base(c) : 0,
		     lat_base(c) ? s->now_ns - lat_base(c) : 0, c->events, c->chunks, tokens,
		     (c->flags & CF_HAS_USAGE) ? "true" : "false");
	if (s->cfg->trace_chunks) {
		n += sprintf(p + n, ",\"event_ns\":[");
		for (uint32_t i = 0; i < nr_ev; i++)
			n += sprintf(p + n, i ? ",%" PRIu64 : "%" PRIu64, c->event_ns[i]);
		n += sprintf(p + n, "]");
	}
	n += sprintf(p + n, "}\n");
	s->trace_len[a] += (uint32_t)n;
}

/* ---- what the server said ---- */

/*
 * What one JSON document says: a streamed event, or a whole non-streamed
 * body. A content delta is a token (or several): the first sets TTFT, each
 * later one an ITL gap.
 */
static void on_json(struct shard *s, struct conn *c, const char *data, size_t len, const char *what)
{
	struct json_event je;

	if (json_parse_event(data, len, &je) < 0) {
		set_err_bytes(s, c, ENGINE_ERR_PROTOCOL, what, data, len);
		return;
	}
	if (je.has_error)
		set_err(s, c, ENGINE_ERR_SERVER, "error object: %.*s", (int)je.error_message_len,
			je.error_message ? je.error_message : "");
	if (je.delta == JSON_DELTA_CONTENT) {
		if (!c->t_first_token_ns) {
			c->t_first_token_ns = s->now_ns;
			timer_disarm(c, TIMER_FIRST_TOKEN);
		} else {
			uint64_t gap_ns = s->now_ns - c->t_last_chunk_ns;

			if (measured(c))
				HIST_LIVE(s, itl, LIVE_ITL, gap_ns);
			if (gap_ns > c->itl_max_ns)
				c->itl_max_ns = gap_ns;
		}
		c->t_last_chunk_ns = s->now_ns;
		c->chunks++;
		tokpipe_data(s, c, je.text, je.text_len);
		CTR_ADD(s, chunks, 1);
	}
	if (je.has_usage) {
		c->flags |= CF_HAS_USAGE;
		c->usage_completion = je.completion_tokens;
		c->usage_prompt = je.prompt_tokens;
	}
}

static void on_event(struct shard *s, struct conn *c, const struct sse_event *ev)
{
	if (c->events < s->event_cap)
		c->event_ns[c->events] = s->now_ns;
	c->events++;
	CTR_ADD(s, events, 1);
	if (!ev->done)
		on_json(s, c, ev->data, ev->data_len, "malformed JSON in SSE event");
}

/* Non-streamed bodies are parsed whole at the end. */
static void parse_whole_body(struct shard *s, struct conn *c)
{
	if (c->flags & CF_OVERFLOW)
		set_err(s, c, ENGINE_ERR_PROTOCOL,
			"response body larger than --max-event-bytes (%u): raise it", s->spill_cap);
	else
		on_json(s, c, c->spill, c->spill_len, "malformed JSON body");
}

/* ---- request completion ---- */

static uint64_t input_tokens_of(const struct shard *s, const struct conn *c)
{
	return c->usage_prompt ? c->usage_prompt : s->cfg->input_tokens;
}

/*
 * Whether the request met every --slo bound. A bound on a figure the
 * request lacks fails it (ttft without streaming), except the ITL bounds,
 * which a request of fewer than two chunks meets (it has no gaps).
 */
static bool slo_met(const struct shard *s, const struct conn *c, uint64_t e2e_ns, uint64_t ttft_ns,
		    uint64_t tokens)
{
	const struct engine_slo *b = &s->cfg->slo;

	if (b->e2e_ns && e2e_ns > b->e2e_ns)
		return false;
	if (b->ttft_ns && (!ttft_ns || ttft_ns > b->ttft_ns))
		return false;
	if (b->tpot_ns &&
	    (!ttft_ns || (tokens > 1 && (e2e_ns - ttft_ns) / (tokens - 1) > b->tpot_ns)))
		return false;
	if (c->chunks > 1) {
		uint64_t mean_ns = (c->t_last_chunk_ns - c->t_first_token_ns) / (c->chunks - 1);

		if (b->itl_ns && mean_ns > b->itl_ns)
			return false;
		if (b->itl_max_ns && c->itl_max_ns > b->itl_max_ns)
			return false;
	}
	return true;
}

static void record_ok(struct shard *s, struct conn *c, uint64_t tokens)
{
	uint64_t e2e_ns = s->now_ns - lat_base(c);
	uint64_t ttft_ns = 0;

	if (!measured(c)) {
		CTR_ADD(s, warmup_ok, 1);
		hist_record(&s->h.warmup_e2e, e2e_ns);
		return;
	}
	HIST_LIVE(s, e2e, LIVE_E2E, e2e_ns);
	if ((c->flags & CF_SSE) && c->t_first_token_ns) {
		ttft_ns = c->t_first_token_ns - lat_base(c);
		HIST_LIVE(s, ttft, LIVE_TTFT, ttft_ns);
		if (tokens > 1)
			hist_record(&s->h.tpot, (e2e_ns - ttft_ns) / (tokens - 1));
	}
	if (s->cfg->has_slo && slo_met(s, c, e2e_ns, ttft_ns, tokens))
		CTR_ADD(s, slo_ok, 1);
	CTR_ADD(s, tokens_asked, c->max_tokens);
	if ((c->flags & CF_HAS_USAGE) && c->usage_completion < c->max_tokens)
		CTR_ADD(s, short_outputs, 1);
	CTR_ADD(s, requests_ok, 1);
	CTR_ADD(s, output_tokens, tokens);
	CTR_ADD(s, input_tokens, input_tokens_of(s, c));
	if (c->flags & CF_HAS_USAGE)
		CTR_ADD(s, usage_requests, 1);
}

static void record_failed(struct shard *s, struct conn *c)
{
	if (!measured(c)) {
		CTR_ADD(s, warmup_failed, 1);
		return;
	}
	CTR_ADD(s, requests_failed, 1);
	CTR_ADD(s, errors[c->err - 1], 1);
	if (c->err == ENGINE_ERR_STATUS + 1)
		CTR_ADD(s, http_codes[c->status < ENGINE_NR_CODES ? c->status : 0], 1);
}

/* Failures worth another attempt: the server said "later", or the request
 * never reached it (refused, or the connection went before any answer). */
static bool retryable(const struct conn *c)
{
	switch (c->err - 1) {
	case ENGINE_ERR_CONNECT:
		return true;
	case ENGINE_ERR_STATUS:
		return c->status == 429 || c->status == 500 || c->status == 502 ||
		       c->status == 503 || c->status == 504;
	case ENGINE_ERR_RESET:
		return !c->t_first_byte_ns;
	default:
		return false;
	}
}

/* Queues c in the backoff list, which stays sorted by t_wake_ns (retries
 * wait for different times; the walk from the tail is short). */
static void backoff_add(struct shard *s, struct conn *c)
{
	struct list *at = s->backoff.prev;

	while (at != &s->backoff &&
	       ((struct conn *)((char *)at - offsetof(struct conn, link)))->t_wake_ns >
		   c->t_wake_ns)
		at = at->prev;
	list_add_tail(at->next, &c->link);
}

/* Schedules the request's next attempt after Retry-After (capped) or an
 * exponential backoff. */
static void retry_later(struct shard *s, struct conn *c)
{
	uint64_t wait_ns = RETRY_BASE_NS << (c->attempt < 8 ? c->attempt : 8);

	if (wait_ns > RETRY_MAX_NS)
		wait_ns = RETRY_MAX_NS;
	if (c->retry_after_s)
		wait_ns = c->retry_after_s * 1000000000ull;
	c->attempt++;
	CTR_ADD(s, retries, 1);
	c->state = CS_RETRY;
	c->t_wake_ns = s->now_ns + wait_ns;
	backoff_add(s, c);
}

/*
 * The request is over, well or not. keep: the connection may carry the
 * next request. A connect failure sends the user to back off first.
 */
static void request_end(struct shard *s, struct conn *c, bool keep)
{
	uint64_t tokens;

	list_del(&c->link);
	timers_disarm(c);
	if (!c->err && (c->status < 200 || c->status > 299)) {
		char what[16];

		snprintf(what, sizeof(what), "HTTP %u", c->status);
		set_err_bytes(s, c, ENGINE_ERR_STATUS, what, c->spill, c->spill_len);
	}
	if (!c->err && (c->flags & CF_SSE) && sse_pending(&c->sse))
		set_err(s, c, ENGINE_ERR_PROTOCOL,
			"malformed SSE: the stream ended inside an event (no blank line after it)");
	if (!c->err && !(c->flags & CF_SSE))
		parse_whole_body(s, c);
	if (c->err && c->attempt < s->cfg->retries && !s->stopping && retryable(c)) {
		/* The attempt's text, if any, is discarded; the retry is a new one. */
		tokpipe_end(s, c, false, c->flags & CF_SSE, false, 0);
		/* A connection with our send still in flight is not reused. */
		if (!keep || (c->flags & CF_SEND_INFLIGHT))
			conn_drop(s, c);
		retry_later(s, c);
		return;
	}
	tokens = (c->flags & CF_HAS_USAGE) ? c->usage_completion : c->chunks;
	if (c->err)
		record_failed(s, c);
	else
		record_ok(s, c, tokens);
	/* Warm-up requests are not timed per token either. */
	tokpipe_end(s, c, !c->err && measured(c), c->flags & CF_SSE, c->flags & CF_HAS_USAGE,
		    c->usage_completion);
	if (s->run->trace_fd >= 0)
		trace_request(s, c, tokens);

	if (!keep)
		conn_drop(s, c);
	if (c->err == ENGINE_ERR_CONNECT + 1) {
		c->state = CS_BACKOFF;
		c->t_wake_ns = s->now_ns + BACKOFF_NS;
		backoff_add(s, c);
		return;
	}
	if (c->flags & CF_SEND_INFLIGHT) {
		/* The server answered before our send completed; go on when it does. */
		c->state = CS_WAITING;
		return;
	}
	user_rest(s, c);
}

static void request_fail(struct shard *s, struct conn *c, enum engine_err e, const char *what,
			 int res)
{
	set_err(s, c, e, "%s%s%s", what, res ? ": " : "", res ? strerror(-res) : "");
	request_end(s, c, false);
}

/* A TLS failure, in OpenSSL's words. */
static void tls_fail(struct shard *s, struct conn *c, const char *what)
{
	set_err(s, c, ENGINE_ERR_TLS, "%s: %s", what, tls_reason(c->tls));
	request_end(s, c, false);
}

/* ---- response parsing ---- */

static void body_data(struct shard *s, struct conn *c, const char *p, size_t len)
{
	if (!(c->flags & CF_SSE)) {
		size_t room = s->spill_cap - c->spill_len;
		size_t take = len < room ? len : room;

		memcpy(c->spill + c->spill_len, p, take);
		c->spill_len += (uint32_t)take;
		if (take < len)
			c->flags |= CF_OVERFLOW;
		return;
	}
	while (len) {
		struct sse_event ev;
		ssize_t n = sse_feed(&c->sse, p, len, &ev);

		if (n == -EAGAIN)
			return;
		if (n < 0) {
			/* The parser skips the oversized event and resyncs. */
			set_err(s, c, ENGINE_ERR_PROTOCOL,
				"SSE event larger than --max-event-bytes (%u)", s->spill_cap);
			return;
		}
		p += n;
		len -= (size_t)n;
		on_event(s, c, &ev);
	}
}

static bool is_event_stream(const struct http1_response *r)
{
	const struct http1_header *h = http1_find_header(r->headers, r->nr_headers, "content-type");

	return h && h->value_len >= 17 && !strncasecmp(h->value, "text/event-stream", 17);
}

static void on_head(struct shard *s, struct conn *c, const struct http1_response *r)
{
	c->status = (uint16_t)r->status;
	if (r->status >= 100 && r->status < 200)
		return; /* interim response: the real head follows */
	CTR_ADD(s, status[r->status / 100 < 6 ? r->status / 100 : 0], 1);
	if (r->keep_alive)
		c->flags |= CF_KEEP_ALIVE;
	else
		CTR_ADD(s, server_closes, 1);
	if (r->status == 429 || r->status == 503) {
		const struct http1_header *h =
		    http1_find_header(r->headers, r->nr_headers, "retry-after");
		unsigned v = 0;

		/* delay-seconds only; an HTTP-date falls back to backoff */
		for (size_t i = 0;
		     h && i < h->value_len && h->value[i] >= '0' && h->value[i] <= '9'; i++)
			v = v < RETRY_AFTER_MAX_S ? v * 10 + (unsigned)(h->value[i] - '0') : v;
		c->retry_after_s = (uint16_t)(v < RETRY_AFTER_MAX_S ? v : RETRY_AFTER_MAX_S);
	}
	if (s->run->trace_fd >= 0 || s->run->tok_trace) {
		const struct http1_header *h =
		    http1_find_header(r->headers, r->nr_headers, "x-request-id");
		size_t n = h ? h->value_len : 0;

		if (n >= sizeof(c->request_id))
			n = sizeof(c->request_id) - 1;
		for (size_t i = 0; i < n; i++) {
			char ch = h->value[i];
			c->request_id[i] =
			    (ch == '"' || ch == '\\' || (unsigned char)ch < 0x20) ? '_' : ch;
		}
		c->request_id[n] = '\0';
	}
	c->framing = (uint8_t)r->framing;
	c->spill_len = 0;
	if (r->status >= 200 && r->status <= 299 && is_event_stream(r)) {
		c->flags |= CF_SSE;
		sse_reset(&c->sse);
	} else {
		timer_disarm(c, TIMER_FIRST_TOKEN); /* no tokens will come one by one */
	}
	switch (r->framing) {
	case HTTP1_FRAMING_NONE:
		c->rstate = RS_DONE;
		return;
	case HTTP1_FRAMING_LENGTH:
		c->body_left = r->content_length;
		c->rstate = r->content_length ? RS_BODY : RS_DONE;
		return;
	case HTTP1_FRAMING_CHUNKED:
		http1_chunked_init(&c->chunked);
		c->rstate = RS_BODY;
		return;
	case HTTP1_FRAMING_CLOSE:
		c->rstate = RS_BODY;
		return;
	}
}

/* Returns bytes of p consumed, or -EPROTO. Heads that span reads are
 * gathered in the spill buffer and parsed again from the start. */
static ssize_t feed_head(struct shard *s, struct conn *c, const char *p, size_t len)
{
	struct http1_response *r = &s->resp;
	uint32_t old = c->spill_len;
	size_t take = 0;
	int n;

	if (!old) {
		n = http1_parse_response(p, len, r);
		if (n > 0) {
			on_head(s, c, r);
			return n;
		}
		if (n != -EAGAIN)
			goto bad;
	}
	take = s->spill_cap - old < len ? s->spill_cap - old : len;
	memcpy(c->spill + old, p, take);
	n = http1_parse_response(c->spill, old + take, r);
	if (n > 0) {
		on_head(s, c, r);
		return n - (int)old;
	}
	if (n != -EAGAIN)
		goto bad;
	if (old + take == s->spill_cap) {
		set_err(s, c, ENGINE_ERR_PROTOCOL, "response head larger than %u bytes",
			s->spill_cap);
		return -EPROTO;
	}
	c->spill_len = old + (uint32_t)take;
	return (ssize_t)take;
bad:
	if ((old ? old + take : len) >= HTTP1_MAX_HEAD_BYTES &&
	    !memmem(old ? c->spill : p, HTTP1_MAX_HEAD_BYTES, "\r\n\r\n", 4))
		set_err(s, c, ENGINE_ERR_PROTOCOL, "response head larger than %d bytes",
			HTTP1_MAX_HEAD_BYTES);
	else
		set_err_bytes(s, c, ENGINE_ERR_PROTOCOL, "malformed response head",
			      old ? c->spill : p, old ? old + take : len);
	return -EPROTO;
}

static ssize_t feed_body(struct shard *s, struct conn *c, const char *p, size_t len)
{
	switch (c->framing) {
	case HTTP1_FRAMING_LENGTH: {
		size_t take = len < c->body_left ? len : c->body_left;

		body_data(s, c, p, take);
		c->body_left -= take;
		if (!c->body_left)
			c->rstate = RS_DONE;
		return (ssize_t)take;
	}
	case HTTP1_FRAMING_CHUNKED: {
		const char *data = NULL;
		size_t data_len = 0;
		ssize_t n = http1_chunked_feed(&c->chunked, p, len, &data, &data_len);

		if (n < 0 || (n == 0 && !http1_chunked_done(&c->chunked))) {
			set_err_bytes(s, c, ENGINE_ERR_PROTOCOL, "malformed chunked encoding", p,
				      len);
			return -EPROTO;
		}
		if (data_len)
			body_data(s, c, data, data_len);
		if (http1_chunked_done(&c->chunked))
			c->rstate = RS_DONE;
		return n;
	}
	default:
		body_data(s, c, p, len);
		return (ssize_t)len;
	}
}

static void conn_input(struct shard *s, struct conn *c, const char *p, size_t len)
{
	if (c->state != CS_BUSY || c->rstate == RS_DONE) {
		/* Bytes nobody asked for: the connection is out of step. */
		conn_drop(s, c);
		if (c->state == CS_WAITING)
			user_rest(s, c);
		return;
	}
	if (!c->t_first_byte_ns) {
		c->t_first_byte_ns = s->now_ns;
		if (measured(c))
			hist_record(&s->h.ttfb, s->now_ns - lat_base(c));
		timer_disarm(c, TIMER_FIRST_BYTE);
	}
	timer_arm(s, c, TIMER_IDLE);
	while (len && c->rstate != RS_DONE) {
		ssize_t n =
		    c->rstate == RS_HEAD ? feed_head(s, c, p, len) : feed_body(s, c, p, len);

		if (n < 0) {
			request_end(s, c, false);
			return;
		}
		p += n;
		len -= (size_t)n;
	}
	if (c->rstate == RS_DONE) {
		/* Extra bytes after a complete response: we never pipeline. */
		bool keep =
		    !len && (c->flags & CF_KEEP_ALIVE) && c->framing != HTTP1_FRAMING_CLOSE &&
		    !(c->err && c->err != ENGINE_ERR_SERVER + 1 && c->err != ENGINE_ERR_STATUS + 1);
		request_end(s, c, keep);
	}
}

/* The server closed (res == 0) or the socket failed (res < 0). */
static void conn_closed(struct shard *s, struct conn *c, int res)
{
	bool tls_cut = c->tls && res == 0 && c->state == CS_BUSY && tls_feed_eof(c->tls) < 0;

	if (c->flags & CF_CONNECTED)
		CTR_ADD(s, disconnects, 1);
	c->flags &= ~(CF_CONNECTED | CF_RECV_ARMED);
	if (c->state != CS_BUSY) {
		conn_drop(s, c);
		/* The send CQE it waited for is now stale: go on here. */
		if (c->state == CS_WAITING)
			user_next(s, c);
		return;
	}
	if (tls_cut) {
		/* In the handshake, or with part of a record unread. */
		tls_fail(s, c,
			 c->flags & CF_TLS_HS ? "server closed the connection in the TLS handshake"
					      : "server closed the connection mid-record");
		return;
	}
	if (res == 0 && c->rstate == RS_BODY && c->framing == HTTP1_FRAMING_CLOSE) {
		c->rstate = RS_DONE;
		request_end(s, c, false);
		return;
	}
	if (res == 0 && c->rstate == RS_BODY && c->framing == HTTP1_FRAMING_CHUNKED &&
	    c->chunked.remaining)
		request_fail(s, c, ENGINE_ERR_PROTOCOL,
			     "truncated chunked encoding: the server closed the connection inside "
			     "a chunk",
			     0);
	else if (res == 0)
		request_fail(s, c, ENGINE_ERR_RESET,
			     c->rstate == RS_HEAD && !c->t_first_byte_ns
				 ? "server closed the connection before responding"
				 : "server closed the connection mid-response",
			     0);
	else
		request_fail(s, c, ENGINE_ERR_RESET, "recv", res);
}

/* ---- TLS ---- */

/* The server's close_notify: as its FIN would be, but the socket is still
 * open and its recv armed, for conn_drop to cancel. */
static void tls_closed(struct shard *s, struct conn *c)
{
	if (c->state != CS_BUSY) {
		conn_drop(s, c);
		if (c->state == CS_WAITING)
			user_next(s, c);
		return;
	}
	if (c->rstate == RS_BODY && c->framing == HTTP1_FRAMING_CLOSE) {
		c->rstate = RS_DONE;
		request_end(s, c, false);
		return;
	}
	request_fail(s, c, ENGINE_ERR_RESET,
		     c->rstate == RS_HEAD && !c->t_first_byte_ns
			 ? "server closed the connection before responding (TLS close_notify)"
			 : "server closed the connection mid-response (TLS close_notify)",
		     0);
}

/* Ciphertext arrived: the handshake advances, or records decrypt into the
 * shard's plaintext buffer and go to conn_input as plain bytes would. */
static void tls_input(struct shard *s, struct conn *c, const char *p, size_t len)
{
	uint32_t gen = c->gen;
	ssize_t n;

	if (tls_feed(c->tls, p, len) < 0) {
		tls_fail(s, c, "receiving");
		return;
	}
	if (c->flags & CF_TLS_HS) {
		int ret = stls_handshake(s, c);

		if (ret == -EAGAIN) {
			conn_send(s, c); /* the next flight, if any */
			return;
		}
		if (ret < 0) {
			tls_fail(s, c, "TLS handshake");
			return;
		}
		/* The request's clock starts now: TTFT holds no handshake. */
		c->flags &= ~CF_TLS_HS;
		timer_disarm(c, TIMER_CONNECT);
		request_send(s, c);
		if (c->gen != gen)
			return;
	}
	while ((n = tls_read(c->tls, s->tls_plain, TLS_RECORD_MAX)) > 0) {
		conn_input(s, c, s->tls_plain, (size_t)n);
		if (c->gen != gen)
			return;
	}
	if (n == 0)
		tls_closed(s, c);
	else if (n == -EPROTO)
		tls_fail(s, c, "TLS record");
	else
		conn_send(s, c); /* whatever reading made OpenSSL say (key updates) */
}

/* ---- CQE dispatch ---- */

static void on_recv(struct shard *s, struct io_uring_cqe *cqe, struct conn *c, bool stale)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	bool has_buf = cqe->flags & IORING_CQE_F_BUFFER;
	unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	int res = cqe->res;

	if (stale) {
		if (has_buf)
			buf_recycle(s, bid);
		/* Still armed on a socket we dropped (its cancel lost a race
		 * with this completion): cancel it again. */
		if (more)
			cancel_ud(s, io_uring_cqe_get_data64(cqe), c);
		return;
	}
	if (!more)
		c->flags &= ~CF_RECV_ARMED;
	if (res > 0) {
		uint32_t gen = c->gen;

		CTR_ADD(s, bytes_in, (uint64_t)res);
		if (c->tls)
			tls_input(s, c, buf_addr(s, bid), (size_t)res);
		else
			conn_input(s, c, buf_addr(s, bid), (size_t)res);
		buf_recycle(s, bid);
		if (!more && c->gen == gen && (c->flags & CF_CONNECTED))
			conn_arm_recv(s, c);
		return;
	}
	if (has_buf)
		buf_recycle(s, bid);
	if (res == -ENOBUFS) {
		/* Every buffer was in use; the multishot recv ended. Buffers
		 * go back at the end of this batch, so re-arming is safe. */
		CTR_ADD(s, recv_nobufs, 1);
		conn_arm_recv(s, c);
		return;
	}
	conn_closed(s, c, res);
}

static void on_connect(struct shard *s, struct conn *c, int res)
{
	c->flags &= ~CF_CONNECTING;
	timer_disarm(c, TIMER_CONNECT);
	if (res == -EADDRNOTAVAIL) {
		request_fail(s, c, ENGINE_ERR_CONNECT,
			     "out of source ports for this target: spread the users over more -H "
			     "addresses or --source-ips 127.0.0.2,127.0.0.3,... (each source and "
			     "destination pair allows ~28,000 connections)",
			     0);
		return;
	}
	if (res < 0) {
		request_fail(s, c, ENGINE_ERR_CONNECT, res == -ECANCELED ? "socket" : "connect",
			     res == -ECANCELED ? 0 : res);
		return;
	}
	c->flags |= CF_CONNECTED;
	CTR_ADD(s, connects, 1);
	hist_record(&s->h.connect, s->now_ns - c->t_start_ns);
	conn_arm_recv(s, c);
	if (c->tls) {
		/* The handshake first; tls_input sends the request after it.
		 * The handshake gets its own --connect-timeout. */
		c->flags |= CF_TLS_HS;
		timer_arm(s, c, TIMER_CONNECT);
		res = stls_start(s, c);
		if (res < 0)
			tls_fail(s, c, "TLS start");
		else
			conn_send(s, c);
		return;
	}
	request_send(s, c);
}

static void on_send(struct shard *s, struct conn *c, int res)
{
	const struct engine_target *t = &s->cfg->targets[c->target];

	c->flags &= ~CF_SEND_INFLIGHT;
	if (res < 0) {
		if (c->state == CS_BUSY) {
			request_fail(s, c, ENGINE_ERR_RESET, "send", res);
		} else {
			/* The response was complete: keep its result. */
			conn_drop(s, c);
			user_rest(s, c);
		}
		return;
	}
	CTR_ADD(s, bytes_out, (uint64_t)res);
	if (c->tls) {
		/* c->sent counts request bytes encrypted; the rest of the
		 * buffer, or the next piece, goes now. */
		uint32_t gen = c->gen;

		c->tls_out_sent += (uint32_t)res;
		conn_send(s, c);
		if (c->gen == gen && !(c->flags & CF_SEND_INFLIGHT) && c->state == CS_WAITING)
			user_next(s, c);
		return;
	}
	c->sent += (uint32_t)res;
	if (c->sent < t->request_len) {
		conn_send(s, c);
		return;
	}
	if (c->state == CS_WAITING)
		user_rest(s, c);
}

static void handle_cqe(struct shard *s, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	enum op op = ud_op(ud);
	struct conn *c;
	bool stale;

	if (op == OP_TRACE) {
		/* The buffer that was written is the one not being filled. */
		int done = !s->trace_active;

		if (cqe->res < 0 || (uint32_t)cqe->res < s->trace_len[done])
			CTR_ADD(s, trace_dropped, 1);
		s->trace_len[done] = 0;
		s->trace_busy = false;
		return;
	}
	c = &s->conns[ud_idx(ud)];
	stale = ud_gen(ud) != (c->gen & 0xffffff);
	if (op == OP_RECV) {
		on_recv(s, cqe, c, stale);
		return;
	}
	if (stale)
		return;
	switch (op) {
	case OP_SOCKET:
		/* Only failures post (CQE_SKIP_SUCCESS), and a skip-success
		 * request that fails makes the kernel skip the CQEs of the
		 * linked requests it cancels: no connect CQE follows, so the
		 * request fails here. */
		if (cqe->res == -EMFILE || cqe->res == -ENFILE)
			set_err(s, c, ENGINE_ERR_CONNECT,
				"socket: %s: out of file descriptors: fewer users per process "
				"(or raise the system's file limits)",
				strerror(-cqe->res));
		else if (cqe->res == -ENOMEM || cqe->res == -ENOBUFS)
			set_err(s, c, ENGINE_ERR_CONNECT,
				"socket: %s: the kernel is out of socket memory: fewer users per "
				"process",
				strerror(-cqe->res));
		else
			set_err(s, c, ENGINE_ERR_CONNECT, "socket: %s", strerror(-cqe->res));
		c->flags &= ~CF_CONNECTING;
		timer_disarm(c, TIMER_CONNECT);
		request_end(s, c, false);
		break;
	case OP_BIND: {
		char src[80];

		if (cqe->res >= 0 || cqe->res == -ECANCELED)
			break; /* bound; or the socket failed first and said so */
		struct engine_target t = { .addr = s->cfg->sources[c->source].addr };

		format_target(&t, src, sizeof(src));
		if (cqe->res == -EADDRINUSE || cqe->res == -EADDRNOTAVAIL)
			set_err(s, c, ENGINE_ERR_CONNECT,
				"bind to %s: %s: out of source ports on this address: add more "
				"--source-ips",
				src, strerror(-cqe->res));
		else
			set_err(s, c, ENGINE_ERR_CONNECT, "bind to %s: %s", src,
				strerror(-cqe->res));
		break;
	}
	case OP_CONNECT:
		on_connect(s, c, cqe->res);
		break;
	case OP_SEND:
		on_send(s, c, cqe->res);
		break;
	default:
		break; /* cancel and close results need no action */
	}
}

/* ---- timers ---- */

/* When the user starts: its turn at the spawn rate, once the profile has
 * room for it (UINT64_MAX: never). */
static uint64_t spawn_time(const struct shard *s, const struct conn *c)
{
	uint64_t t = s->run->t0_ns;

	if (s->cfg->spawn_rate > 0)
		t += (uint64_t)((double)c->user * 1e9 / s->cfg->spawn_rate);
	if (s->prof.nr) {
		uint64_t r = sched_reach(&s->prof, t - s->run->t0_ns, (double)c->user + 1);

		if (r == SCHED_FOREVER)
			return UINT64_MAX;
		t = s->run->t0_ns + r;
	}
	return t;
}

/* Wakes parked users the profile has room for again. */
static void unpark(struct shard *s)
{
	struct list *l = s->parked.next;

	if (s->parked_wake_ns > s->now_ns)
		return;
	s->parked_wake_ns = UINT64_MAX;
	while (l != &s->parked) {
		struct conn *c = (struct conn *)((char *)l - offsetof(struct conn, link));

		l = l->next;
		if (c->t_wake_ns <= s->now_ns) {
			list_del(&c->link);
			user_next(s, c);
		} else if (c->t_wake_ns < s->parked_wake_ns) {
			s->parked_wake_ns = c->t_wake_ns;
		}
	}
}

static const struct {
	enum engine_err err;
	const char *what;
} timer_fail[ENGINE_NR_TIMERS] = {
	[TIMER_CONNECT] = { ENGINE_ERR_CONNECT_TIMEOUT, "not connected within --connect-timeout" },
	[TIMER_FIRST_BYTE] = { ENGINE_ERR_FIRST_BYTE_TIMEOUT,
			       "no response byte within --first-byte-timeout" },
	[TIMER_FIRST_TOKEN] = { ENGINE_ERR_FIRST_TOKEN_TIMEOUT,
				"no content token within --first-token-timeout" },
	[TIMER_IDLE] = { ENGINE_ERR_IDLE_TIMEOUT,
			 "no response byte for --idle-timeout in mid-response" },
	[TIMER_WHOLE] = { ENGINE_ERR_TIMEOUT, "no complete response within --timeout" },
};

static void run_timers(struct shard *s)
{
	for (int k = 0; k < ENGINE_NR_TIMERS; k++) {
		while (!list_empty(&s->timers[k])) {
			struct conn *c = timer_first(s, (enum engine_timer)k);

			if (c->t_armed_ns[k] + s->timer_ns[k] > s->now_ns)
				break;
			if (k == TIMER_WHOLE && (c->flags & (CF_CONNECTING | CF_TLS_HS)))
				request_fail(s, c, ENGINE_ERR_TIMEOUT,
					     c->flags & CF_CONNECTING
						 ? "connect timed out (--timeout)"
						 : "TLS handshake timed out (--timeout)",
					     0);
			else if (k == TIMER_CONNECT && (c->flags & CF_TLS_HS))
				request_fail(s, c, timer_fail[k].err,
					     "TLS handshake not done within --connect-timeout", 0);
			else
				request_fail(s, c, timer_fail[k].err, timer_fail[k].what, 0);
		}
	}
	while (!list_empty(&s->backoff)) {
		struct conn *c = list_first_conn(&s->backoff);

		if (c->t_wake_ns > s->now_ns)
			break;
		list_del(&c->link);
		if (c->state == CS_RETRY)
			request_begin(s, c, c->t_intended_ns, true);
		else
			user_next(s, c);
	}
	while (!list_empty(&s->idle)) {
		struct conn *c = list_first_conn(&s->idle);

		if (c->t_wake_ns > s->now_ns)
			break;
		list_del(&c->link);
		user_next(s, c);
	}
	unpark(s);
	if (s->open_loop)
		ol_arrivals(s);
	while (s->next_spawn < s->nr_conns && !s->stopping) {
		struct conn *c = &s->conns[s->next_spawn];

		if (spawn_time(s, c) > s->now_ns)
			break;
		s->next_spawn++;
		user_spawn(s, c);
	}
	if (__atomic_load_n(&s->run->budget, __ATOMIC_RELAXED) <= 0)
		s->next_spawn = s->nr_conns; /* -n reached: nobody else starts */
}

static uint64_t next_wake(const struct shard *s)
{
	uint64_t wake = s->now_ns + STOP_POLL_NS;

	for (int k = 0; k < ENGINE_NR_TIMERS; k++) {
		if (!list_empty(&s->timers[k])) {
			uint64_t t =
			    timer_first(s, (enum engine_timer)k)->t_armed_ns[k] + s->timer_ns[k];
			wake = t < wake ? t : wake;
		}
	}
	if (s->draining && s->grace_end_ns < wake)
		wake = s->grace_end_ns;
	if (!list_empty(&s->backoff)) {
		uint64_t t = list_first_conn(&s->backoff)->t_wake_ns;
		wake = t < wake ? t : wake;
	}
	if (!list_empty(&s->idle)) {
		uint64_t t = list_first_conn(&s->idle)->t_wake_ns;
		wake = t < wake ? t : wake;
	}
	if (s->parked_wake_ns < wake)
		wake = s->parked_wake_ns;
	/* The schedule's next send: the ring's timeout wakes the shard for it. */
	if (s->open_loop && s->arr.next_ns != SCHED_FOREVER &&
	    s->run->t0_ns + s->arr.next_ns < wake)
		wake = s->run->t0_ns + s->arr.next_ns;
	if (s->next_spawn < s->nr_conns) {
		uint64_t t = spawn_time(s, &s->conns[s->next_spawn]);
		wake = t < wake ? t : wake;
	}
	if (s->run->t_end_ns < wake)
		wake = s->run->t_end_ns;
	return wake;
}

/*
 * A request waiting for its next attempt when the run ends: its last
 * attempt's failure is its result (it was counted, and the server's answer
 * is a measurement; a cancel would hide it).
 */
static void retry_abandon(struct shard *s, struct conn *c)
{
	record_failed(s, c);
	if (s->run->trace_fd >= 0)
		trace_request(s, c, 0);
}

/* Run over: whatever is still in flight is cancelled, not failed. */
static void shard_stop(struct shard *s)
{
	s->stopping = true;
	for (uint32_t i = 0; i < s->nr_conns; i++) {
		struct conn *c = &s->conns[i];

		if (c->state == CS_BUSY)
			CTR_ADD(s, requests_cancelled, 1);
		if (c->state == CS_RETRY)
			retry_abandon(s, c);
		/* No cancels: the ring's exit closes every socket at once. */
		if (c->state == CS_BUSY || c->state == CS_WAITING || c->state == CS_BACKOFF ||
		    c->state == CS_RESTING || c->state == CS_PARKED || c->state == CS_IDLE ||
		    c->state == CS_RETRY)
			user_retire(s, c);
	}
	s->next_spawn = s->nr_conns;
	s->nr_free = 0;
	/* Due but never sent: dropped. */
	CTR_ADD(s, dropped_requests, s->dueq.len);
	s->dueq.len = 0;
}

/*
 * Stop asked (SIGINT/SIGTERM): no request starts any more, and those in
 * flight have --grace to finish before shard_stop cancels them.
 */
static void shard_drain(struct shard *s)
{
	s->stopping = true;
	s->draining = true;
	s->grace_end_ns = s->now_ns + s->cfg->grace_ns;
	s->next_spawn = s->nr_conns;
	for (uint32_t i = 0; i < s->nr_conns; i++) {
		struct conn *c = &s->conns[i];

		if (c->state == CS_RETRY)
			retry_abandon(s, c);
		if (c->state == CS_BACKOFF || c->state == CS_RETRY || c->state == CS_RESTING ||
		    c->state == CS_PARKED || c->state == CS_IDLE)
			user_retire(s, c);
	}
	s->nr_free = 0;
	/* Due but never sent: dropped. */
	CTR_ADD(s, dropped_requests, s->dueq.len);
	s->dueq.len = 0;
}

static void trace_drain(struct shard *s)
{
	struct io_uring_cqe *cqe;

	while (s->trace_busy && io_uring_wait_cqe(&s->ring, &cqe) == 0) {
		handle_cqe(s, cqe);
		io_uring_cqe_seen(&s->ring, cqe);
	}
	for (int i = 0; i < 2; i++) {
		int a = (s->trace_active + 1 + i) & 1;
		const char *p = s->trace_buf[a];
		size_t left = s->trace_len[a];

		while (left) {
			ssize_t n = write(s->run->trace_fd, p, left);
			if (n <= 0) {
				CTR_ADD(s, trace_dropped, 1);
				break;
			}
			p += n;
			left -= (size_t)n;
		}
		s->trace_len[a] = 0;
	}
}

/* Hands prepared SQEs to the kernel, as liburing's submit does before it
 * enters; returns how many are new. */
static unsigned sq_flush(struct io_uring *ring)
{
	struct io_uring_sq *sq = &ring->sq;
	unsigned tail = sq->sqe_tail;
	unsigned n = tail - sq->sqe_head;

	if (n) {
		sq->sqe_head = tail;
		io_uring_smp_store_release(sq->ktail, tail);
	}
	return n;
}

/*
 * Submits and waits for BATCH_NR completions, but no longer than batch_us
 * once one is ready (min_wait_usec, Linux 6.12): fewer wakes under load,
 * each completion stamped at most batch_us late. liburing 2.3 predates the
 * field (its "pad"), so this enters the ring itself.
 */
static void wait_batched(struct shard *s, struct __kernel_timespec *ts)
{
	struct io_uring_getevents_arg arg = {
		.sigmask = 0,
		.sigmask_sz = _NSIG / 8,
		.pad = s->cfg->batch_us,
		.ts = (uint64_t)(uintptr_t)ts,
	};

	io_uring_enter2((unsigned)s->ring.ring_fd, sq_flush(&s->ring), BATCH_NR,
			IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, (sigset_t *)&arg,
			sizeof(arg));
}

int shard_main(struct shard *s)
{
	struct timespec cpu0, cpu1;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
	s->now_ns = engine_now_ns();
	while (s->now_ns < s->run->t0_ns) {
		struct timespec ts = { .tv_nsec = (long)(s->run->t0_ns - s->now_ns) };
		nanosleep(&ts, NULL);
		s->now_ns = engine_now_ns();
	}
	s->t_warm_end_ns = s->cfg->warmup_ns ? s->run->t0_ns + s->cfg->warmup_ns : 0;
	if (s->open_loop)
		ol_start(s);
	run_timers(s);
	while (s->live || s->next_spawn < s->nr_conns) {
		struct io_uring_cqe *cqe;
		uint64_t wake = next_wake(s);
		uint64_t wait_ns = wake > s->now_ns ? wake - s->now_ns : 0;
		struct __kernel_timespec ts = {
			.tv_sec = (long long)(wait_ns / 1000000000ull),
			.tv_nsec = (long long)(wait_ns % 1000000000ull),
		};
		unsigned head, n = 0;

		if (s->cfg->batch_us)
			wait_batched(s, &ts);
		else
			io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, &ts, NULL);
		CTR_ADD(s, loop_waits, 1);
		/* One timestamp per batch, taken right after the wait: every
		 * CQE in the batch had completed by then. */
		s->now_ns = engine_now_ns();
		io_uring_for_each_cqe(&s->ring, head, cqe)
		{
			handle_cqe(s, cqe);
			n++;
		}
		io_uring_cq_advance(&s->ring, n);
		CTR_ADD(s, cqes, n);
		bufs_publish(s);
		if (s->now_ns >= s->run->t_end_ns || engine_stop_level() > 1 ||
		    (s->draining && s->now_ns >= s->grace_end_ns)) {
			shard_stop(s);
			break;
		}
		if (!s->draining && engine_stop_level()) {
			shard_drain(s);
			if (!s->cfg->grace_ns) {
				shard_stop(s);
				break;
			}
		}
		run_timers(s);
	}
	io_uring_submit(&s->ring);
	if (s->run->trace_fd >= 0)
		trace_drain(s);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
	s->cpu_seconds =
	    (double)(cpu1.tv_sec - cpu0.tv_sec) + (double)(cpu1.tv_nsec - cpu0.tv_nsec) / 1e9;
	return 0;
}

/* ---- setup ---- */

static uint32_t pow2_at_least(uint64_t v)
{
	uint32_t p = 1;

	while (p < v && p < (1u << 30))
		p <<= 1;
	return p;
}

static int setup_ring(struct shard *s)
{
	struct io_uring_params p;
	int ret;

	memset(&p, 0, sizeof(p));
	/* SINGLE_ISSUER: only this shard's thread touches the ring, so the
	 * kernel may skip its submission locking. DEFER_TASKRUN: completion
	 * work runs only when this thread asks for events, in batches,
	 * instead of interrupting it at random points. CQSIZE: multishot recv
	 * posts many CQEs per SQE, so the CQ is sized for the users. */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
	/* The kernel's largest CQ is 65,536 entries (CLAMP caps a bigger
	 * request there); completions beyond it wait in the kernel's overflow
	 * list (FEAT_NODROP), they are not lost. */
	p.flags |= IORING_SETUP_CLAMP;
	p.cq_entries = pow2_at_least(4ull * s->nr_conns < 4096 ? 4096 : 4ull * s->nr_conns);
	if (p.cq_entries > 65536)
		p.cq_entries = 65536;
	ret = io_uring_queue_init_params(4096, &s->ring, &p);
	if (ret < 0) {
		snprintf(s->err, sizeof(s->err),
			 "io_uring setup failed: %s (brood needs Linux 6.1+ with io_uring enabled)",
			 strerror(-ret));
		return ret;
	}
	s->ring_ok = true;
	if (!(p.features & IORING_FEAT_EXT_ARG)) {
		snprintf(s->err, sizeof(s->err), "this kernel's io_uring lacks EXT_ARG waits");
		return -EOPNOTSUPP;
	}
	if (s->cfg->batch_us && !(p.features & IORING_FEAT_MIN_TIMEOUT)) {
		snprintf(s->err, sizeof(s->err),
			 "--batch-us needs Linux 6.12 or later (io_uring min_wait): drop it");
		return -EOPNOTSUPP;
	}
	if (s->cfg->nr_sources) {
		struct io_uring_probe *probe = io_uring_get_probe_ring(&s->ring);
		bool ok = probe && io_uring_opcode_supported(probe, OPCODE_BIND);

		io_uring_free_probe(probe);
		if (!ok) {
			snprintf(s->err, sizeof(s->err),
				 "--source-ips needs io_uring bind (Linux 6.11 or later): drop it "
				 "and spread the users over more -H addresses");
			return -EOPNOTSUPP;
		}
	}
	ret = io_uring_register_files_sparse(&s->ring, s->nr_conns);
	if (ret < 0) {
		snprintf(s->err, sizeof(s->err),
			 "cannot register %u direct descriptors: %s (each shard's table is "
			 "limited by RLIMIT_NOFILE: use more --shards)",
			 s->nr_conns, strerror(-ret));
		return ret;
	}
	return 0;
}

static int setup_bufs(struct shard *s)
{
	struct io_uring_buf_reg reg;
	int ret;

	s->nr_bufs = pow2_at_least(s->nr_conns < 1024 ? 1024 : s->nr_conns);
	if (s->nr_bufs > 32768)
		s->nr_bufs = 32768; /* buffer ids are 16 bits */
	s->buf_len = 4096;
	s->buf_stride = s->buf_len + JSON_PADDING;
	s->br_map_len = (size_t)s->nr_bufs * sizeof(struct io_uring_buf);
	s->br =
	    mmap(NULL, s->br_map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->br == MAP_FAILED) {
		s->br = NULL;
		return -ENOMEM;
	}
	s->bufs = malloc((size_t)s->nr_bufs * s->buf_stride);
	if (!s->bufs)
		return -ENOMEM;
	io_uring_buf_ring_init(s->br);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)s->br;
	reg.ring_entries = s->nr_bufs;
	reg.bgid = BGID;
	ret = io_uring_register_buf_ring(&s->ring, &reg, 0);
	if (ret < 0) {
		snprintf(s->err, sizeof(s->err), "cannot register the buffer ring: %s",
			 strerror(-ret));
		return ret;
	}
	for (uint32_t i = 0; i < s->nr_bufs; i++)
		buf_recycle(s, i);
	bufs_publish(s);
	return 0;
}

static int setup_conns(struct shard *s)
{
	const struct engine_config *cfg = s->cfg;
	size_t spill_stride;

	s->spill_cap = cfg->max_event_bytes;
	spill_stride = (size_t)s->spill_cap + JSON_PADDING;
	s->conns = calloc(s->nr_conns, sizeof(*s->conns));
	s->spill_area = calloc(s->nr_conns, spill_stride);
	if (!s->conns || !s->spill_area)
		return -ENOMEM;
	for (unsigned i = 0; i < cfg->nr_targets; i++) {
		if (cfg->targets[i].nr_slots && !s->msgs) {
			s->msgs = calloc(s->nr_conns, sizeof(*s->msgs));
			if (!s->msgs)
				return -ENOMEM;
		}
	}
	if (s->open_loop) {
		/* This shard's share of --max-queue, rounded up. */
		uint32_t cap = (cfg->queue_cap + s->run->nr_shards - 1) / s->run->nr_shards;
		int ret = sched_queue_init(&s->dueq, cap);

		s->free_conns = calloc(s->nr_conns, sizeof(*s->free_conns));
		if (ret < 0 || !s->free_conns)
			return -ENOMEM;
	}
	if (cfg->trace_path && cfg->trace_chunks) {
		s->event_cap = cfg->trace_events_cap;
		s->event_area = calloc((size_t)s->nr_conns * s->event_cap, sizeof(uint64_t));
		if (!s->event_area)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->nr_conns; i++) {
		struct conn *c = &s->conns[i];

		c->idx = i;
		c->user = i * s->run->nr_shards + s->id;
		c->target = (uint16_t)(c->user % cfg->nr_targets);
		c->spill = s->spill_area + i * spill_stride;
		c->msg = s->msgs ? &s->msgs[i] : NULL;
		c->event_ns = s->event_area ? s->event_area + (size_t)i * s->event_cap : NULL;
		list_init(&c->link);
		for (int k = 0; k < ENGINE_NR_TIMERS; k++)
			list_init(&c->tlink[k]);
		/* Users of one target take the source addresses in turn. */
		if (cfg->nr_sources)
			c->source = (uint16_t)((c->user / cfg->nr_targets) % cfg->nr_sources);
		sse_init(&c->sse, c->spill, s->spill_cap);
	}
	if (s->run->trace_fd >= 0) {
		s->trace_cap = 1u << 20;
		if (s->trace_cap < TRACE_LINE_BASE + (size_t)s->event_cap * 21 + 1)
			s->trace_cap = TRACE_LINE_BASE + s->event_cap * 21 + 1;
		s->trace_buf[0] = malloc(s->trace_cap);
		s->trace_buf[1] = malloc(s->trace_cap);
		if (!s->trace_buf[0] || !s->trace_buf[1])
			return -ENOMEM;
	}
	return 0;
}

int shard_setup(struct shard *s)
{
	int ret;

	for (int k = 0; k < ENGINE_NR_TIMERS; k++)
		list_init(&s->timers[k]);
	s->timer_ns[TIMER_CONNECT] = s->cfg->connect_timeout_ns;
	s->timer_ns[TIMER_FIRST_BYTE] = s->cfg->first_byte_timeout_ns;
	s->timer_ns[TIMER_FIRST_TOKEN] = s->cfg->first_token_timeout_ns;
	s->timer_ns[TIMER_IDLE] = s->cfg->idle_timeout_ns;
	s->timer_ns[TIMER_WHOLE] = s->cfg->timeout_ns;
	list_init(&s->backoff);
	list_init(&s->idle);
	list_init(&s->parked);
	s->parked_wake_ns = UINT64_MAX;
	s->open_loop = s->cfg->qps > 0;
	s->prof.stages = s->cfg->stages;
	s->prof.nr = s->cfg->stages ? s->cfg->nr_stages : 0;
	if (s->open_loop && !s->prof.nr) {
		/* A flat rate is a profile of one endless stage. */
		s->flat.duration_ns = SCHED_FOREVER;
		s->flat.from = s->flat.to = s->cfg->qps;
		s->prof.stages = &s->flat;
		s->prof.nr = 1;
	}
	dist_rng_seed(&s->rng, s->cfg->seed, 0x70c0000000000000ull | s->id);
	ret = json_thread_init();
	if (ret < 0)
		goto err;
	ret = setup_conns(s);
	if (ret < 0)
		goto err;
	ret = stls_setup(s);
	if (ret < 0)
		goto err;
	struct hist *hists[ENGINE_NR_HISTS];

	engine_hists_list(&s->h, hists);
	for (int i = 0; i < ENGINE_NR_HISTS; i++) {
		ret = hist_init_latency(hists[i]);
		if (ret < 0)
			goto err;
	}
	ret = setup_ring(s);
	if (ret < 0)
		goto err;
	ret = setup_bufs(s);
	if (ret < 0)
		goto err;
	return 0;
err:
	if (!s->err[0] && ret == -ENOMEM)
		snprintf(s->err, sizeof(s->err),
			 "out of memory for %u users on shard %u: fewer users per process (or a "
			 "smaller --max-event-bytes)",
			 s->nr_conns, s->id);
	else if (!s->err[0])
		snprintf(s->err, sizeof(s->err), "shard %u setup: %s", s->id, strerror(-ret));
	return ret;
}

void shard_close(struct shard *s)
{
	if (s->ring_ok)
		io_uring_queue_exit(&s->ring);
	stls_close(s); /* after the ring: no send reads a TLS buffer any more */
	if (s->br)
		munmap(s->br, s->br_map_len);
	free(s->bufs);
	free(s->conns);
	free(s->spill_area);
	free(s->event_area);
	free(s->msgs);
	free(s->free_conns);
	sched_queue_close(&s->dueq);
	free(s->trace_buf[0]);
	free(s->trace_buf[1]);
	struct hist *hists[ENGINE_NR_HISTS];

	engine_hists_list(&s->h, hists);
	for (int i = 0; i < ENGINE_NR_HISTS; i++)
		hist_close(hists[i]);
}
