/* SPDX-License-Identifier: MIT */
/*
 * One worker: a thread with its own ring, listener, connections, buffers,
 * timers and truth buffer. The loop fires due timers (writing response
 * pieces and queueing sends), then submits and waits until the earliest
 * deadline or the next completion, then handles completions.
 *
 * Sends carrying SSE events are remembered until the io_uring_submit that
 * carries them; the CLOCK_MONOTONIC reading taken just before that submit is
 * each event's truth timestamp, and the next content event of the stream is
 * scheduled itl_ns after it, so no inter-token gap is ever shorter than asked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http1.h"
#include "json.h"
#include "mock.h"
#include "tls.h"

#define SQ_ENTRIES	 4096
#define CQ_ENTRIES	 32768
#define BGID		 0
#define RECV_STRIDE	 (MOCK_RECV_BUF_BYTES + JSON_PADDING)
#define TRUTH_LINE_BYTES 96   /* longest truth line, with room to spare */
#define SUBMIT_BATCH	 32   /* event-carrying sends that trigger a submit */
#define REAP_MAX	 8192 /* CQEs per pass, so that deadlines get their turn */

static uint64_t pack(enum mock_op op, uint32_t idx, uint32_t gen)
{
	return (uint64_t)op << 56 | (uint64_t)(gen & 0xffffff) << 32 | idx;
}

/* CLOCK_MONOTONIC in ns. */
uint64_t mock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t conn_idx(const struct mock_worker *w, const struct mock_conn *c)
{
	return (uint32_t)(c - w->conns);
}

static void truth_flush(struct mock_worker *w)
{
	size_t done = 0;

	while (done < w->truth_len) {
		ssize_t n = write(w->cfg->truth_fd, w->truth + done, w->truth_len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			w->stats.truth_dropped += w->truth_len - done;
			break;
		}
		done += (size_t)n;
	}
	w->truth_len = 0;
}

static void truth_line(struct mock_worker *w, uint64_t id, uint32_t ev, enum truth_kind kind,
		       uint64_t ts, uint32_t tokens)
{
	static const char *const names[] = { "role", "content", "usage", "done" };
	char *p;

	if (!w->truth)
		return;
	if (w->truth_len + TRUTH_LINE_BYTES > MOCK_TRUTH_BUF_BYTES)
		truth_flush(w);
	p = w->truth + w->truth_len;
	p = gen_u64(p, id);
	*p++ = '\t';
	p = gen_u64(p, ev);
	*p++ = '\t';
	memcpy(p, names[kind], strlen(names[kind]));
	p += strlen(names[kind]);
	*p++ = '\t';
	p = gen_u64(p, ts);
	if (kind == TRUTH_CONTENT) {
		*p++ = '\t';
		p = gen_u64(p, tokens);
	}
	*p++ = '\n';
	w->truth_len = (size_t)(p - w->truth);
}

/*
 * The sends prepared since the last submit have just been submitted at ts:
 * their events get ts as truth, and streams go on itl_ns after it.
 */
static void truth_stamp(struct mock_worker *w, uint64_t ts)
{
	for (uint32_t i = 0; i < w->nr_pending; i++) {
		const struct truth_pending *tp = &w->pending[i];
		struct mock_conn *c = &w->conns[tp->conn];
		struct mock_resp *r = &c->resp;

		uint32_t before = tp->tok_first;

		for (uint32_t ev = tp->ev_first; ev < tp->ev_end; ev++) {
			uint32_t nr = resp_event_tokens(r, ev, before);

			truth_line(w, r->id, ev, resp_event_kind(r, ev), ts, nr);
			before += nr;
		}
		w->stats.events += tp->ev_end - tp->ev_first;
		if (resp_streaming_more(r) && !(c->flags & CONN_CLOSING) &&
		    resp_event_kind(r, tp->ev_end - 1) == TRUTH_CONTENT)
			timers_set(&w->timers, tp->conn, ts + r->plan.itl_ns);
	}
	w->nr_pending = 0;
	w->pending_itl_ns = UINT64_MAX;
}

static void submit_now(struct mock_worker *w)
{
	uint64_t ts = mock_now_ns();

	io_uring_submit(&w->ring);
	truth_stamp(w, ts);
}

/* An SQE, submitting the full queue first when needed. Never NULL. */
static struct io_uring_sqe *get_sqe(struct mock_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	for (int i = 0; !sqe && i < 1000; i++) {
		submit_now(w);
		sqe = io_uring_get_sqe(&w->ring);
	}
	if (!sqe) {
		fprintf(stderr, "brood-mock: worker %u: submission queue stuck\n", w->idx);
		abort();
	}
	return sqe;
}

static void arm_accept(struct mock_worker *w)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	io_uring_prep_multishot_accept_direct(sqe, w->listen_fd, NULL, NULL, 0);
	io_uring_sqe_set_data64(sqe, pack(OP_ACCEPT, 0, 0));
}

static void arm_stop(struct mock_worker *w)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	io_uring_prep_poll_add(sqe, w->stop_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, pack(OP_STOP, 0, 0));
}

static void arm_recv(struct mock_worker *w, struct mock_conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(w);
	uint32_t idx = conn_idx(w, c);

	io_uring_prep_recv_multishot(sqe, (int)idx, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, pack(OP_RECV, idx, c->gen));
	c->flags |= CONN_RECV;
}

static void recycle(struct mock_worker *w, unsigned bid)
{
	io_uring_buf_ring_add(w->br, w->recv_bufs + (size_t)bid * RECV_STRIDE, MOCK_RECV_BUF_BYTES,
			      (unsigned short)bid, io_uring_buf_ring_mask(MOCK_NR_RECV_BUFS), 0);
	io_uring_buf_ring_advance(w->br, 1);
}

/* The connection's output buffer, borrowed on first use; returns its free tail. */
char *worker_out(struct mock_worker *w, struct mock_conn *c)
{
	if (!c->out) {
		c->out = pool_get(&w->out_pool); /* one per connection: never NULL */
		c->out_len = 0;
		c->out_sent = 0;
	}
	return c->out + c->out_len;
}

static void out_release(struct mock_worker *w, struct mock_conn *c)
{
	if (!c->out)
		return;
	pool_put(&w->out_pool, c->out);
	c->out = NULL;
	c->out_len = 0;
	c->out_sent = 0;
}

/* (Re)schedules c's next deadline; c's worker thread only. */
void worker_timer_set(struct mock_worker *w, struct mock_conn *c, uint64_t due_ns)
{
	timers_set(&w->timers, conn_idx(w, c), due_ns);
}

/*
 * TLS: what to send next. Unsent ciphertext first; else every unsent
 * plaintext byte of out is encrypted (then counts as sent: out may be
 * reused) and as much ciphertext as fits goes into the connection's
 * ciphertext buffer. Returns false when nothing is left.
 */
static bool tls_next(struct mock_worker *w, struct mock_conn *c, const char **p, size_t *len)
{
	if (!c->cout || c->cout_sent == c->cout_len) {
		if (c->out && c->out_sent < c->out_len) {
			if (tls_write(c->tls, c->out + c->out_sent, c->out_len - c->out_sent) < 0)
				return false;
			c->out_sent = c->out_len;
		}
		if (!tls_pending(c->tls))
			return false;
		if (!c->cout)
			c->cout = pool_get(&w->cipher_pool); /* one per connection: never NULL */
		c->cout_len =
		    (uint32_t)tls_take(c->tls, c->cout, w->cfg->out_cap_bytes + MOCK_TLS_SLACK);
		c->cout_sent = 0;
	}
	*p = c->cout + c->cout_sent;
	*len = c->cout_len - c->cout_sent;
	return true;
}

static void cout_release(struct mock_worker *w, struct mock_conn *c)
{
	if (!c->cout)
		return;
	pool_put(&w->cipher_pool, c->cout);
	c->cout = NULL;
	c->cout_len = c->cout_sent = 0;
}

/* Starts a send of everything unsent, unless one is in flight already. */
static void conn_send(struct mock_worker *w, struct mock_conn *c)
{
	struct mock_resp *r = &c->resp;
	struct io_uring_sqe *sqe;
	uint32_t idx = conn_idx(w, c);
	const char *p;
	size_t len;

	if (c->flags & (CONN_SEND | CONN_CLOSING))
		return;
	if (c->tls) {
		if (!tls_next(w, c, &p, &len))
			return;
	} else {
		if (!c->out || c->out_sent == c->out_len)
			return;
		p = c->out + c->out_sent;
		len = c->out_len - c->out_sent;
	}
	sqe = get_sqe(w);
	io_uring_prep_send(sqe, (int)idx, p, len, MSG_NOSIGNAL);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, pack(OP_SEND, idx, c->gen));
	c->flags |= CONN_SEND;
	if (r->kind != RESP_STREAM || r->ev_next == r->ev_submitted)
		return;
	w->pending[w->nr_pending++] = (struct truth_pending){
		.conn = idx,
		.gen = c->gen,
		.ev_first = r->ev_submitted,
		.ev_end = r->ev_next,
		.tok_first = r->tokens_submitted,
	};
	r->ev_submitted = r->ev_next;
	r->tokens_submitted = r->tokens_done;
	if (resp_streaming_more(r) && r->plan.itl_ns < w->pending_itl_ns)
		w->pending_itl_ns = r->plan.itl_ns;
	/* Under load a reap batch takes long: events leave a few at a time. */
	if (w->nr_pending >= SUBMIT_BATCH)
		submit_now(w);
}

/* Closes once no recv or send is in flight: only then may the slot be reused. */
static void conn_try_close(struct mock_worker *w, struct mock_conn *c)
{
	struct io_uring_sqe *sqe;
	uint32_t idx = conn_idx(w, c);

	if (!(c->flags & CONN_CLOSING) || (c->flags & (CONN_RECV | CONN_SEND | CONN_CLOSE)))
		return;
	out_release(w, c);
	if (c->tls) {
		cout_release(w, c);
		tls_conn_end(c->tls, true);
	}
	sqe = get_sqe(w);
	io_uring_prep_close_direct(sqe, idx);
	io_uring_sqe_set_data64(sqe, pack(OP_CLOSE, idx, c->gen));
	c->flags |= CONN_CLOSE;
}

/* Stops all work on c and closes it once its in-flight operations end. */
void worker_conn_close(struct mock_worker *w, struct mock_conn *c)
{
	uint32_t idx = conn_idx(w, c);

	if (c->flags & CONN_CLOSING)
		return;
	c->flags |= CONN_CLOSING;
	timers_del(&w->timers, idx);
	http_conn_closed(w, c);
	if (c->flags & CONN_RECV) {
		struct io_uring_sqe *sqe = get_sqe(w);

		io_uring_prep_cancel64(sqe, pack(OP_RECV, idx, c->gen), 0);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		io_uring_sqe_set_data64(sqe, pack(OP_CANCEL, idx, c->gen));
	}
	conn_try_close(w, c);
}

/*
 * Closes c with a TCP RST: SO_LINGER {on, 0} set through io_uring (the
 * socket is a direct descriptor, so setsockopt(2) cannot reach it), then the
 * usual close. The socket command runs inline at submit, before the close
 * that follows once recv and send are done. Without it (Linux < 6.7) the
 * close is an orderly FIN, which a client also sees mid-response.
 */
void worker_conn_reset(struct mock_worker *w, struct mock_conn *c)
{
	static const struct linger lin = { .l_onoff = 1, .l_linger = 0 };
	struct io_uring_sqe *sqe = get_sqe(w);
	uint32_t idx = conn_idx(w, c);

	/* liburing 2.3 lacks io_uring_prep_cmd_sock: the SQE by hand. */
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, (int)idx, NULL, 0, 0);
	sqe->off = 3; /* cmd_op = SOCKET_URING_OP_SETSOCKOPT */
	sqe->addr = (uint64_t)SOL_SOCKET | (uint64_t)SO_LINGER << 32; /* level, optname */
	sqe->splice_fd_in = sizeof(lin);			      /* optlen */
	sqe->addr3 = (uint64_t)(uintptr_t)&lin;			      /* optval */
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(sqe, pack(OP_CANCEL, idx, c->gen));
	worker_conn_close(w, c);
}

/* The peer closed (res 0) or the socket failed (res < 0): count it, close. */
static void conn_lost(struct mock_worker *w, struct mock_conn *c, int res)
{
	if (c->resp.kind != RESP_NONE)
		w->stats.aborted++;
	if (res == -ECONNRESET || res == -EPIPE)
		w->stats.resets++;
	else if (res < 0)
		w->stats.conn_errors++;
	worker_conn_close(w, c);
}

static void on_accept(struct mock_worker *w, const struct io_uring_cqe *cqe)
{
	if (cqe->res >= 0 && (uint32_t)cqe->res < w->nr_conns) {
		struct mock_conn *c = &w->conns[cqe->res];

		c->gen++;
		c->flags = CONN_OPEN;
		c->resp = (struct mock_resp){ 0 };
		c->nr_answers = 0;
		w->stats.conns++;
		if (w->tls_conns) {
			c->tls = &w->tls_conns[cqe->res];
			if (tls_conn_start(c->tls, NULL) < 0) {
				w->stats.tls_errors++;
				worker_conn_close(w, c);
				goto rearm;
			}
		}
		arm_recv(w, c);
	} else if (cqe->res == -ENFILE) {
		w->stats.enfile++;
		if (!w->enfile_logged)
			fprintf(stderr,
				"brood-mock: worker %u: connection table full (%u): dropping new "
				"connections (raise --max-conns)\n",
				w->idx, w->nr_conns);
		w->enfile_logged = true;
	}
rearm:
	if (!(cqe->flags & IORING_CQE_F_MORE) && !w->stop)
		arm_accept(w);
}

/* TLS: ciphertext in; the handshake, then plaintext to http_input. */
static void tls_input(struct mock_worker *w, struct mock_conn *c, const char *data, size_t len)
{
	ssize_t n = -EAGAIN;

	if (tls_feed(c->tls, data, len) < 0)
		goto fail;
	if (!c->tls->established) {
		int ret = tls_handshake(c->tls);

		if (ret == -EAGAIN)
			return;
		if (ret < 0)
			goto fail;
		w->stats.tls_handshakes++;
		if (tls_resumed(c->tls))
			w->stats.tls_resumed++;
	}
	while (!(c->flags & CONN_CLOSING) && (n = tls_read(c->tls, w->plain, TLS_RECORD_MAX)) > 0)
		http_input(w, c, w->plain, (size_t)n);
	if (c->flags & CONN_CLOSING || n == -EAGAIN)
		return;
	if (n == 0) {
		worker_conn_close(w, c); /* the client's close_notify */
		return;
	}
fail:
	w->stats.tls_errors++;
	if (c->resp.kind != RESP_NONE)
		w->stats.aborted++;
	/* The alert OpenSSL wrote is not sent: the socket just closes. */
	worker_conn_close(w, c);
}

static void on_recv(struct mock_worker *w, struct mock_conn *c, const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->flags &= ~CONN_RECV;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		const char *data = w->recv_bufs + (size_t)bid * RECV_STRIDE;

		if (cqe->res > 0 && !(c->flags & CONN_CLOSING)) {
			if (c->tls)
				tls_input(w, c, data, (size_t)cqe->res);
			else
				http_input(w, c, data, (size_t)cqe->res);
		}
		recycle(w, bid);
	}
	if (c->flags & CONN_CLOSING) {
		conn_try_close(w, c);
		return;
	}
	if (cqe->res == -ENOBUFS) {
		w->stats.enobufs++;
	} else if (cqe->res <= 0) {
		conn_lost(w, c, cqe->res);
		return;
	}
	if (!(c->flags & CONN_RECV))
		arm_recv(w, c);
	conn_send(w, c);
}

static void on_send(struct mock_worker *w, struct mock_conn *c, int res)
{
	c->flags &= ~CONN_SEND;
	if (c->flags & CONN_CLOSING) {
		conn_try_close(w, c);
		return;
	}
	if (res <= 0) {
		conn_lost(w, c, res ? res : -EPIPE);
		return;
	}
	w->stats.bytes_out += (uint64_t)res;
	if (c->tls) {
		/* out was encrypted whole; the ciphertext goes first. */
		c->cout_sent += (uint32_t)res;
		if (c->out && c->out_sent == c->out_len)
			out_release(w, c);
		if (c->cout_sent < c->cout_len || tls_pending(c->tls)) {
			conn_send(w, c);
			return;
		}
		cout_release(w, c);
	} else if ((c->out_sent += (uint32_t)res) == c->out_len) {
		out_release(w, c);
	} else {
		/* Short send: nothing is in flight now, so the rest may move. */
		memmove(c->out, c->out + c->out_sent, c->out_len - c->out_sent);
		c->out_len -= c->out_sent;
		c->out_sent = 0;
	}
	resp_produce(w, c);
	if (c->out && !c->out_len)
		out_release(w, c);
	if (!c->out && c->resp.kind != RESP_NONE && c->resp.stage == STAGE_DONE)
		http_resp_sent(w, c);
	conn_send(w, c);
}

static void on_close(struct mock_worker *w, struct mock_conn *c)
{
	(void)w;
	c->flags = 0;
	c->resp.kind = RESP_NONE;
}

static void on_cqe(struct mock_worker *w, const struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	enum mock_op op = (enum mock_op)(data >> 56);
	uint32_t idx = (uint32_t)data;
	struct mock_conn *c;

	switch (op) {
	case OP_ACCEPT:
		on_accept(w, cqe);
		return;
	case OP_STOP:
		w->stop = true;
		return;
	case OP_CANCEL:
		return;
	default:
		break;
	}
	c = &w->conns[idx];
	if ((c->gen & 0xffffff) != ((data >> 32) & 0xffffff)) {
		/* Cannot happen: slots are reused only after close completes. */
		fprintf(stderr, "brood-mock: worker %u: stale completion op %d conn %u\n", w->idx,
			(int)op, idx);
		abort();
	}
	if (op == OP_RECV)
		on_recv(w, c, cqe);
	else if (op == OP_SEND)
		on_send(w, c, cqe->res);
	else if (op == OP_CLOSE)
		on_close(w, c);
}

static void fire_due(struct mock_worker *w, uint64_t now_ns)
{
	uint64_t due_ns;
	uint32_t idx;

	while (timers_peek(&w->timers, &due_ns, &idx) && due_ns <= now_ns) {
		struct mock_conn *c = &w->conns[idx];

		timers_del(&w->timers, idx);
		c->resp.due = true;
		resp_produce(w, c);
		conn_send(w, c);
	}
}

/* Submits and waits for a completion or the earliest deadline. Returns 0 or -errno. */
static int wait_events(struct mock_worker *w)
{
	struct __kernel_timespec ts, *tsp = NULL;
	uint64_t now_ns = mock_now_ns();
	uint64_t wait_ns = w->pending_itl_ns;
	struct io_uring_cqe *cqe;
	uint64_t due_ns;
	uint32_t idx;
	int ret;

	if (timers_peek(&w->timers, &due_ns, &idx)) {
		uint64_t until_ns = due_ns > now_ns ? due_ns - now_ns : 0;

		if (until_ns < wait_ns)
			wait_ns = until_ns;
	}
	wait_ns = admit_wait_cap(w, wait_ns);
	if (wait_ns != UINT64_MAX) {
		ts.tv_sec = (long long)(wait_ns / 1000000000ull);
		ts.tv_nsec = (long long)(wait_ns % 1000000000ull);
		tsp = &ts;
	}
	ret = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, tsp, NULL);
	truth_stamp(w, now_ns);
	if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
		return ret;
	return 0;
}

static void reap(struct mock_worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned head, nr = 0;

	io_uring_for_each_cqe(&w->ring, head, cqe)
	{
		on_cqe(w, cqe);
		if (++nr == REAP_MAX)
			break;
	}
	io_uring_cq_advance(&w->ring, nr);
}

static int worker_loop(struct mock_worker *w)
{
	int ret = 0;

	arm_accept(w);
	arm_stop(w);
	while (!w->stop && !ret) {
		admit_pause_check(w);
		admit_pump(w);
		fire_due(w, mock_now_ns());
		ret = wait_events(w);
		reap(w);
	}
	return ret;
}

static int setup_recv_bufs(struct mock_worker *w)
{
	size_t ring_bytes = MOCK_NR_RECV_BUFS * sizeof(struct io_uring_buf);
	struct io_uring_buf_reg reg = { 0 };
	void *mem;
	int ret;

	mem = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	w->br = mem;
	io_uring_buf_ring_init(w->br);
	reg.ring_addr = (unsigned long)(uintptr_t)mem;
	reg.ring_entries = MOCK_NR_RECV_BUFS;
	reg.bgid = BGID;
	ret = io_uring_register_buf_ring(&w->ring, &reg, 0);
	if (ret)
		return ret;
	mem = mmap(NULL, (size_t)MOCK_NR_RECV_BUFS * RECV_STRIDE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	w->recv_bufs = mem;
	for (unsigned i = 0; i < MOCK_NR_RECV_BUFS; i++)
		io_uring_buf_ring_add(w->br, w->recv_bufs + (size_t)i * RECV_STRIDE,
				      MOCK_RECV_BUF_BYTES, (unsigned short)i,
				      io_uring_buf_ring_mask(MOCK_NR_RECV_BUFS), (int)i);
	io_uring_buf_ring_advance(w->br, MOCK_NR_RECV_BUFS);
	return 0;
}

static int setup_ring(struct mock_worker *w)
{
	struct io_uring_params p = { 0 };
	int ret;

	/* Only this thread submits: the kernel can skip its submission locking. */
	p.flags = IORING_SETUP_SINGLE_ISSUER;
	/* Completion work runs when this thread waits, in a batch, not as IPIs mid-loop. */
	p.flags |= IORING_SETUP_DEFER_TASKRUN;
	/* Multishot accept and recv post many CQEs per SQE: a CQ larger than the SQ. */
	p.flags |= IORING_SETUP_CQSIZE;
	/* One failing SQE must not hold back the sends queued behind it. */
	p.flags |= IORING_SETUP_SUBMIT_ALL;
	p.cq_entries = CQ_ENTRIES;
	ret = io_uring_queue_init_params(SQ_ENTRIES, &w->ring, &p);
	if (ret < 0)
		return ret;
	w->ring_ok = true;
	/* Every io_uring_enter then skips the ring file lookup; optional. */
	io_uring_register_ring_fd(&w->ring);
	/* Sparse: accepts allocate the slots; one per connection this ring may hold. */
	ret = io_uring_register_files_sparse(&w->ring, w->nr_conns);
	if (ret < 0)
		return ret;
	return setup_recv_bufs(w);
}

static void worker_teardown(struct mock_worker *w)
{
	if (w->ring_ok)
		io_uring_queue_exit(&w->ring);
	w->ring_ok = false;
	if (w->br)
		munmap(w->br, MOCK_NR_RECV_BUFS * sizeof(struct io_uring_buf));
	if (w->recv_bufs)
		munmap(w->recv_bufs, (size_t)MOCK_NR_RECV_BUFS * RECV_STRIDE);
	w->br = NULL;
	w->recv_bufs = NULL;
	pool_close(&w->out_pool);
	pool_close(&w->in_pool);
	pool_close(&w->large_pool);
	pool_close(&w->cipher_pool);
	if (w->tls_conns)
		for (uint32_t i = 0; i < w->nr_conns; i++)
			tls_conn_close(&w->tls_conns[i]);
	free(w->tls_conns);
	free(w->plain);
	w->tls_conns = NULL;
	w->plain = NULL;
	timers_close(&w->timers);
	admit_close(w);
	free(w->conns);
	free(w->pending);
	free(w->truth);
	free(w->scratch);
	w->conns = NULL;
	w->pending = NULL;
	w->truth = NULL;
	w->scratch = NULL;
}

static int worker_setup(struct mock_worker *w)
{
	const struct mock_config *cfg = w->cfg;
	int ret;

	w->nr_conns = cfg->conns_per_thread;
	w->pending_itl_ns = UINT64_MAX;
	w->next_id = w->idx + 1;
	w->date_s = -1;
	/* Wake-ups are deadlines: the default 50 us slack would blur ITL. */
	prctl(PR_SET_TIMERSLACK, 1UL);
	if (cfg->pin) {
		cpu_set_t set;
		long nr_cpus = sysconf(_SC_NPROCESSORS_ONLN);

		CPU_ZERO(&set);
		CPU_SET(w->idx % (unsigned)(nr_cpus > 0 ? nr_cpus : 1), &set);
		ret = -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		if (ret)
			goto err;
	}
	ret = json_thread_init();
	if (ret)
		goto err;
	ret = -ENOMEM;
	w->conns = calloc(w->nr_conns, sizeof(*w->conns));
	w->pending = calloc(w->nr_conns, sizeof(*w->pending));
	w->scratch = malloc(cfg->out_cap_bytes);
	if (cfg->truth_fd >= 0)
		w->truth = malloc(MOCK_TRUTH_BUF_BYTES);
	if (!w->conns || !w->pending || !w->scratch || (cfg->truth_fd >= 0 && !w->truth))
		goto err;
	ret = timers_init(&w->timers, w->nr_conns);
	if (!ret && admit_init(w))
		ret = -ENOMEM;
	if (!ret)
		ret = pool_init(&w->out_pool, w->nr_conns, cfg->out_cap_bytes);
	if (!ret)
		ret = pool_init(&w->in_pool, w->nr_conns, MOCK_SMALL_IN_BYTES);
	if (!ret)
		ret = pool_init(&w->large_pool, cfg->large_bufs,
				HTTP1_MAX_HEAD_BYTES + cfg->max_body_bytes + JSON_PADDING);
	if (!ret && cfg->tls) {
		w->tls_conns = calloc(w->nr_conns, sizeof(*w->tls_conns));
		w->plain = malloc(TLS_RECORD_MAX + JSON_PADDING);
		if (!w->tls_conns || !w->plain)
			ret = -ENOMEM;
		for (uint32_t i = 0; !ret && i < w->nr_conns; i++)
			tls_conn_init(&w->tls_conns[i], cfg->tls);
		if (!ret)
			ret = pool_init(&w->cipher_pool, w->nr_conns,
					cfg->out_cap_bytes + MOCK_TLS_SLACK);
	}
	if (!ret)
		ret = setup_ring(w);
	if (ret)
		goto err;
	return 0;
err:
	worker_teardown(w);
	return ret;
}

static void *worker_main(void *arg)
{
	struct mock_worker *w = arg;

	w->err = worker_setup(w);
	sem_post(w->ready);
	if (w->err)
		return NULL;
	w->loop_err = worker_loop(w);
	if (w->truth)
		truth_flush(w);
	worker_teardown(w);
	if (w->loop_err)
		pthread_kill(w->cfg->main_thread, SIGUSR1);
	return NULL;
}

/* Starts w's thread; it posts w->ready once set up (w->err says how). Returns 0 or -errno. */
int worker_start(struct mock_worker *w)
{
	return -pthread_create(&w->thread, NULL, worker_main, w);
}
