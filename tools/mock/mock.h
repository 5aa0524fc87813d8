/* SPDX-License-Identifier: MIT */
/*
 * brood-mock internals, shared by the files of tools/mock.
 *
 * One worker = one thread = one ring = one SO_REUSEPORT listener. A worker's
 * state (connections, buffers, timers, truth buffer, counters) is touched by
 * its own thread only; the main thread reads the counters after joining it.
 * Everything is sized at start-up: the steady state does not allocate.
 */
#ifndef BROOD_MOCK_H
#define BROOD_MOCK_H

#include <liburing.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fault.h"

#define MOCK_MAX_THREADS	  256
#define MOCK_MAX_MODEL_LEN	  128	     /* --model, printable ASCII without " or \ */
#define MOCK_DEFAULT_MAX_TOKENS	  16	     /* when the request has no max_tokens */
#define MOCK_MAX_TOKENS		  (1u << 20) /* a larger max_tokens is a 400 */
#define MOCK_MAX_TOKENS_PER_CHUNK 4096
#define MOCK_HEAD_MAX_BYTES	  512	/* one response head, x-request-id included */
#define MOCK_RECV_BUF_BYTES	  4096	/* one provided receive buffer */
#define MOCK_NR_RECV_BUFS	  4096	/* per worker; a power of two */
#define MOCK_SMALL_IN_BYTES	  65536 /* input buffer for heads and small bodies */
#define MOCK_TRUTH_BUF_BYTES	  (1u << 20)
#define MOCK_TLS_SLACK		  8192 /* ciphertext buffer beyond out_cap_bytes: records, a flight */

struct mock_config {
	const char *host;	   /* as given on the command line */
	struct in_addr addr;	   /* host, parsed */
	uint16_t port;		   /* after start-up: the port every listener shares */
	unsigned nr_threads;	   /* workers */
	unsigned max_conns;	   /* connections the whole server is sized for */
	unsigned conns_per_thread; /* registered file table and slab size of one ring */
	uint64_t max_body_bytes;   /* larger request bodies get a 413 */
	unsigned large_bufs;	   /* per worker: input buffers for bodies > 64 KiB */
	const char *model;	   /* served model id */
	size_t model_len;
	uint64_t ttft_ns;	       /* request received -> first content event */
	uint64_t itl_ns;	       /* content event -> next content event */
	unsigned tokens_per_chunk;     /* tokens per content event (the most, with a range) */
	unsigned tokens_per_chunk_min; /* the fewest; == tokens_per_chunk unless a range */
	int truth_fd;		       /* -1 without --truth */
	bool pin;		       /* pin worker i to CPU i % nr_cpus */
	bool sse_lf;		       /* end events with "\n\n" instead of "\r\n\r\n" */
	size_t event_max_bytes;	       /* one content event, chunk framing included */
	size_t out_cap_bytes;	       /* one connection's output buffer */
	pthread_t main_thread;	       /* gets SIGUSR1 when a worker fails */
	struct tls_ctx *tls;	       /* --tls-cert: HTTPS; NULL: plain HTTP */
	uint32_t requests_per_conn;    /* close after this many answers; 0 = never */
	unsigned max_concurrency;      /* completions generated at once, whole server; 0 = any */
	uint64_t pause_at_ns;	       /* stall this long after the first completion request */
	uint64_t pause_ns;	       /* for this long; 0 = never */
	struct fault_config fault;     /* --fault, --fault-seed, --fault-log */
};

/*
 * What one response does, decided once when its request is parsed
 * (plan_make in http.c), its fault (fault.h) included; the fault acts where
 * the worker produces the next piece of the response (resp_produce).
 */
struct mock_plan {
	uint64_t ttft_ns;   /* request received -> first content event */
	uint64_t itl_ns;    /* one content event's submit -> the next one */
	uint32_t nr_tokens; /* completion tokens */
	uint32_t
	    tokens_per_chunk; /* tokens per content event (the most); the last may hold fewer */
	uint32_t tokens_per_chunk_min; /* the fewest; each event draws from the range */
	uint64_t fault_ns;	       /* stall: how long */
	uint8_t fault;		       /* enum fault_kind */
	bool close_fault;	       /* FAULT_CLOSE: "connection: close" on a normal answer */
};

enum resp_kind {
	RESP_NONE,   /* idle: no request being answered */
	RESP_FIXED,  /* whole answer written at once (errors, models, health) */
	RESP_STREAM, /* SSE over chunked transfer coding */
	RESP_FULL,   /* non-streamed completion with content-length */
};

enum resp_stage {
	STAGE_HEAD,   /* RESP_FULL: head and body prefix not written yet */
	STAGE_TOKENS, /* content left to write */
	STAGE_SUFFIX, /* RESP_FULL: body suffix not written yet */
	STAGE_DONE,   /* every byte written; done once it is sent */
};

enum truth_kind {
	TRUTH_ROLE,
	TRUTH_CONTENT,
	TRUTH_USAGE,
	TRUTH_DONE,
};

/* The response a connection is answering; reset for every request. */
struct mock_resp {
	uint64_t id;	     /* x-request-id; seeds the token generator */
	uint64_t prng;	     /* token generator state */
	uint64_t t0_ns;	     /* CLOCK_MONOTONIC: request fully received */
	int64_t created_s;   /* unix time, "created" */
	uint64_t body_bytes; /* RESP_FULL: content-length */
	struct mock_plan plan;
	uint32_t prompt_tokens;	   /* prompt bytes / 4, at least 1 */
	uint32_t tokens_done;	   /* completion tokens written so far */
	uint32_t tokens_submitted; /* completion tokens in events whose send is prepared */
	uint32_t nr_content;	   /* content events in the stream */
	uint32_t ev_next;	   /* index of the next SSE event to write */
	uint32_t ev_submitted;	   /* events whose bytes are in a prepared send */
	uint8_t kind;		   /* enum resp_kind */
	uint8_t stage;		   /* enum resp_stage */
	bool chat;		   /* chat.completion(.chunk), else text_completion */
	bool usage;		   /* stream_options.include_usage */
	bool due;		   /* the timer fired: the next piece may be written */
	bool close_after;	   /* close the connection once the answer is sent */

	/* admit.c: --max-concurrency */
	uint8_t admit;		 /* none, queued or running */
	uint64_t admit_delay_ns; /* the first timer, counted from admission */
	bool head_pending;	 /* FAULT_SLOW_FIRST_BYTE: the head waits for the timer */
};

/* Connection flags */
#define CONN_OPEN    (1u << 0) /* slot holds an accepted connection */
#define CONN_RECV    (1u << 1) /* a multishot recv is armed */
#define CONN_SEND    (1u << 2) /* a send is in flight */
#define CONN_CLOSING (1u << 3) /* no new work; close once recv and send are done */
#define CONN_CLOSE   (1u << 4) /* close_direct submitted */

/*
 * One connection. Its index is its direct descriptor: the slot is freed only
 * after close_direct completes, so no CQE of an old connection can arrive
 * once the kernel hands the index to a new one. The generation in user_data
 * checks that invariant.
 */
struct mock_conn {
	uint32_t gen;	      /* bumped per accepted connection */
	uint32_t flags;	      /* CONN_* */
	char *in;	      /* borrowed input buffer; NULL when no bytes wait */
	uint32_t in_len;      /* bytes in in */
	uint32_t in_cap;      /* usable bytes of in (JSON padding excluded) */
	uint32_t in_need;     /* head + body of the waiting request; 0 until its head parsed */
	bool in_large;	      /* in comes from the large pool */
	char *out;	      /* borrowed output buffer; NULL when everything is sent */
	uint32_t out_len;     /* bytes written to out */
	uint32_t out_sent;    /* bytes of out the kernel has sent (with TLS: encrypted) */
	uint32_t nr_answers;  /* requests answered on this connection */
	struct tls_conn *tls; /* --tls-cert: this slot's TLS state, else NULL */
	char *cout;	      /* TLS: borrowed ciphertext buffer; NULL when none is unsent */
	uint32_t cout_len;    /* bytes in cout */
	uint32_t cout_sent;   /* of which the kernel has sent */
	struct mock_resp resp;
};

/* A fixed set of equal buffers in one lazily backed mapping. */
struct mock_pool {
	char *base; /* MAP_NORESERVE: a page costs memory once touched */
	size_t map_bytes;
	size_t stride;	/* bytes per buffer */
	uint32_t *free; /* stack of free indices; LIFO keeps the touched pages few */
	uint32_t nr_free;
	uint32_t nr;
};

/* Binary min-heap of connection deadlines; one entry per connection at most. */
struct timer_entry {
	uint64_t due_ns; /* CLOCK_MONOTONIC */
	uint32_t conn;
};

struct mock_timers {
	struct timer_entry *heap;
	uint32_t *pos; /* per connection: heap index + 1; 0 when not queued */
	uint32_t nr;
	uint32_t cap;
};

/* A send that carries SSE events, waiting for its submit to be stamped. */
struct truth_pending {
	uint32_t conn;
	uint32_t gen;
	uint32_t ev_first; /* events [ev_first, ev_end) of the conn's response */
	uint32_t ev_end;
	uint32_t tok_first; /* completion tokens before event ev_first */
};

struct mock_stats {
	uint64_t conns;		   /* accepted */
	uint64_t requests;	   /* complete requests parsed */
	uint64_t events;	   /* SSE events submitted */
	uint64_t bytes_out;	   /* bytes the kernel reported sent */
	uint64_t http_errors;	   /* 4xx/5xx answers */
	uint64_t aborted;	   /* responses cut short: the client went away */
	uint64_t resets;	   /* connections reset by the peer (ECONNRESET, EPIPE) */
	uint64_t conn_errors;	   /* connections lost to other errors or input overflow */
	uint64_t enobufs;	   /* multishot recv stopped for lack of buffers */
	uint64_t enfile;	   /* accepts dropped: registered file table full */
	uint64_t truth_dropped;	   /* truth bytes write(2) refused */
	uint64_t tls_handshakes;   /* completed */
	uint64_t tls_resumed;	   /* of which resumed a client's session */
	uint64_t tls_errors;	   /* connections closed for a TLS failure */
	uint64_t faults[FAULT_NR]; /* faults injected, by kind */
};

struct mock_worker {
	unsigned idx;
	const struct mock_config *cfg;
	pthread_t thread;
	sem_t *ready; /* posted once set up, with err telling how */
	int listen_fd;
	int stop_fd; /* eventfd shared by all workers; readable means stop */
	struct io_uring ring;
	bool ring_ok;
	struct io_uring_buf_ring *br; /* provided receive buffers */
	char *recv_bufs;
	struct mock_conn *conns;
	uint32_t nr_conns;
	struct mock_timers timers;
	struct mock_pool out_pool;   /* out_cap_bytes each, one per connection */
	struct mock_pool in_pool;    /* MOCK_SMALL_IN_BYTES each, one per connection */
	struct mock_pool large_pool; /* head + max body each, cfg->large_bufs */
	struct truth_pending *pending;
	uint32_t nr_pending;
	uint64_t pending_itl_ns; /* smallest itl a pending send will schedule; UINT64_MAX if none */
	char *truth;		 /* MOCK_TRUTH_BUF_BYTES, NULL without --truth */
	size_t truth_len;
	char *scratch;		      /* per-worker formatting space, cfg->out_cap_bytes */
	struct tls_conn *tls_conns;   /* --tls-cert: one per connection slot */
	struct mock_pool cipher_pool; /* TLS: out_cap_bytes + MOCK_TLS_SLACK each */
	char *plain;		      /* TLS: one record's plaintext + JSON_PADDING */
	char date[40];		      /* "date: ...\r\n" value, refreshed once a second */
	int64_t date_s;
	uint64_t next_id; /* request ids: idx + 1, then + nr_threads */

	uint32_t *adm_next, *adm_prev; /* admit.c: FIFO of queued connections */
	uint32_t adm_head, adm_tail;
	uint32_t adm_len;
	uint64_t fault_prng; /* fault draws; seeded from --fault-seed and idx */
	bool stop;
	bool enfile_logged;
	int err;      /* set-up result, read by main after ready */
	int loop_err; /* why the loop stopped early; read by main after join */
	struct mock_stats stats;
};

/* user_data: {op:8, generation:24, connection index:32} */
enum mock_op {
	OP_ACCEPT = 1,
	OP_RECV,
	OP_SEND,
	OP_CLOSE,
	OP_CANCEL,
	OP_STOP,
};

struct tls_conn;
struct tls_ctx;

/* worker.c */
int worker_start(struct mock_worker *w);
char *worker_out(struct mock_worker *w, struct mock_conn *c);
void worker_conn_close(struct mock_worker *w, struct mock_conn *c);
void worker_conn_reset(struct mock_worker *w, struct mock_conn *c);
void worker_timer_set(struct mock_worker *w, struct mock_conn *c, uint64_t due_ns);
uint64_t mock_now_ns(void);

/* http.c: requests in, responses out */
void http_input(struct mock_worker *w, struct mock_conn *c, const char *data, size_t len);
void http_resp_sent(struct mock_worker *w, struct mock_conn *c);
void http_conn_closed(struct mock_worker *w, struct mock_conn *c);
void resp_produce(struct mock_worker *w, struct mock_conn *c);
enum truth_kind resp_event_kind(const struct mock_resp *r, uint32_t ev);
uint32_t resp_event_tokens(const struct mock_resp *r, uint32_t ev, uint32_t tokens_before);
bool resp_streaming_more(const struct mock_resp *r);

/* gen.c: token vocabulary and JSON text */
void gen_init(void);
int gen_init_tokenizer(const char *spec, char *err, size_t err_len);
size_t gen_token_max_bytes(void);
const char *gen_token(uint64_t *prng, size_t *len);
char *gen_json_escape(char *p, const char *s, size_t len);
char *gen_u64(char *p, uint64_t v);
char *gen_hex(char *p, uint64_t v);

/* admit.c: --max-concurrency and --pause-at-ms */
int admit_init(struct mock_worker *w);
void admit_close(struct mock_worker *w);
void admit_request(struct mock_worker *w, struct mock_conn *c, uint64_t delay_ns);
void admit_release(struct mock_worker *w, struct mock_conn *c);
void admit_pump(struct mock_worker *w);
uint64_t admit_wait_cap(const struct mock_worker *w, uint64_t wait_ns);
void admit_pause_check(struct mock_worker *w);

/* pool.c */
int pool_init(struct mock_pool *p, uint32_t nr, size_t stride);
void pool_close(struct mock_pool *p);
char *pool_get(struct mock_pool *p);
void pool_put(struct mock_pool *p, char *buf);

/* timer.c */
int timers_init(struct mock_timers *t, uint32_t cap);
void timers_close(struct mock_timers *t);
void timers_set(struct mock_timers *t, uint32_t conn, uint64_t due_ns);
void timers_del(struct mock_timers *t, uint32_t conn);
bool timers_peek(const struct mock_timers *t, uint64_t *due_ns, uint32_t *conn);

#endif
