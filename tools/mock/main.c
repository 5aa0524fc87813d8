/* SPDX-License-Identifier: MIT */
/*
 * brood-mock: an OpenAI-compatible streaming server with known timing, for
 * testing and benchmarking brood. Parses flags, binds one SO_REUSEPORT
 * listener per worker (all on the same port), starts the workers, prints
 * "brood-mock listening on HOST:PORT", and on SIGINT/SIGTERM stops them,
 * flushes the truth file and prints a one-line summary on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mock.h"
#include "tls.h"

#define LISTEN_BACKLOG 4096
#define FD_RESERVE     32 /* fds a ring's table leaves to the rest of the process */

static const char usage[] =
    "usage: brood-mock [options]\n"
    "An OpenAI-compatible streaming server with known TTFT and ITL.\n"
    "  --host ADDR             IPv4 address to listen on (127.0.0.1)\n"
    "  --port N                TCP port; 0 picks a free one (8000)\n"
    "  --threads N             worker threads, one ring each (enough for --max-conns)\n"
    "  --max-conns N           concurrent connections to hold (50000)\n"
    "  --max-body BYTES        largest request body; larger gets a 413 (1048576)\n"
    "  --large-bufs N          per thread: buffers for bodies over 64 KiB (64)\n"
    "  --model NAME            served model id (brood-mock)\n"
    "  --ttft-ms MS            request received -> first content event (50)\n"
    "  --itl-ms MS             content event -> next content event (10)\n"
    "  --tokens-per-chunk K    tokens per content event (1); A-B: from A to B, drawn\n"
    "                          per event from the request id (0 sends an empty delta)\n"
    "  --truth FILE            write one line per SSE event sent\n"
    "  --pin                   pin worker i to CPU i\n"
    "  --tokenizer SPEC        use only words that are one token under SPEC (tok.h's\n"
    "                          names and files), so usage counts and truth lines are\n"
    "                          exact tokens of that tokenizer\n"
    "  --sse-lf                end SSE events with \\n\\n as vLLM does (\\r\\n\\r\\n)\n"
    "  --tls-cert FILE         speak HTTPS with this PEM certificate chain (needs --tls-key)\n"
    "  --tls-key FILE          the certificate's PEM private key\n"
    "  --tls-no-tickets        issue no session tickets: every handshake is a full one\n"
    "  --requests-per-conn N   close each connection after N answers, as servers with a\n"
    "                          keep-alive limit do (0: never)\n"
    "  --max-concurrency N     generate at most N completions at once; the rest queue\n"
    "                          first come, first served (one worker) (any)\n"
    "  --pause-at-ms MS        stall every worker MS after the first completion request\n"
    "  --pause-ms MS           ... for MS (with --pause-at-ms)\n"
    "  --fault KIND=RATE[:P],...  inject faults into completions (repeatable): reset,\n"
    "                          stall[:5s], slow-first-byte[:2s], slow-first-token[:2s],\n"
    "                          429[:RETRY_AFTER_S], 500, 503, bad-sse, bad-json,\n"
    "                          truncated-chunked, huge-headers, no-answer, close\n"
    "  --fault-seed N          seed of the fault draws (0)\n"
    "  --fault-log FILE        write the faults injected, by kind, as JSON at exit\n"
    "  --help                  this text\n";

enum {
	OPT_HOST = 256,
	OPT_PORT,
	OPT_THREADS,
	OPT_MAX_CONNS,
	OPT_MAX_BODY,
	OPT_LARGE_BUFS,
	OPT_MODEL,
	OPT_TTFT,
	OPT_ITL,
	OPT_TPC,
	OPT_TRUTH,
	OPT_PIN,
	OPT_SSE_LF,
	OPT_TOKENIZER,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_NO_TICKETS,
	OPT_REQS_PER_CONN,
	OPT_MAX_CONCURRENCY,
	OPT_PAUSE_AT,
	OPT_PAUSE,
	OPT_FAULT,
	OPT_FAULT_SEED,
	OPT_FAULT_LOG,
	OPT_HELP,
};

static const struct option options[] = {
	{ "host", required_argument, NULL, OPT_HOST },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "max-body", required_argument, NULL, OPT_MAX_BODY },
	{ "large-bufs", required_argument, NULL, OPT_LARGE_BUFS },
	{ "model", required_argument, NULL, OPT_MODEL },
	{ "ttft-ms", required_argument, NULL, OPT_TTFT },
	{ "itl-ms", required_argument, NULL, OPT_ITL },
	{ "tokens-per-chunk", required_argument, NULL, OPT_TPC },
	{ "truth", required_argument, NULL, OPT_TRUTH },
	{ "pin", no_argument, NULL, OPT_PIN },
	{ "sse-lf", no_argument, NULL, OPT_SSE_LF },
	{ "tokenizer", required_argument, NULL, OPT_TOKENIZER },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "tls-no-tickets", no_argument, NULL, OPT_TLS_NO_TICKETS },
	{ "requests-per-conn", required_argument, NULL, OPT_REQS_PER_CONN },
	{ "max-concurrency", required_argument, NULL, OPT_MAX_CONCURRENCY },
	{ "pause-at-ms", required_argument, NULL, OPT_PAUSE_AT },
	{ "pause-ms", required_argument, NULL, OPT_PAUSE },
	{ "fault", required_argument, NULL, OPT_FAULT },
	{ "fault-seed", required_argument, NULL, OPT_FAULT_SEED },
	{ "fault-log", required_argument, NULL, OPT_FAULT_LOG },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct args {
	unsigned threads; /* 0: automatic */
	bool max_conns_set;
	const char *truth_path;
	const char *tokenizer; /* --tokenizer, or NULL */
	const char *tls_cert;
	const char *tls_key;
	bool tls_no_tickets;
};

/* One clear line, then exit 2: the user's mistake, caught before serving. */
static void __attribute__((noreturn, format(printf, 1, 2))) bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("brood-mock: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	exit(2);
}

static uint64_t parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		bad_usage("%s wants an integer from %llu to %llu, not '%s'", flag,
			  (unsigned long long)min, (unsigned long long)max, s);
	return v;
}

static uint64_t parse_ms(const char *flag, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 3600e3)
		bad_usage("%s wants milliseconds from 0 to 3600000, not '%s'", flag, s);
	return (uint64_t)llround(v * 1e6);
}

/* "K" or "A-B" (0 <= A <= B, B >= 1): tokens per content event. */
static void parse_tpc(struct mock_config *cfg, const char *s)
{
	const char *dash = strchr(s, '-');
	char lo[32];

	if (!dash) {
		cfg->tokens_per_chunk =
		    (unsigned)parse_u64("--tokens-per-chunk", s, 1, MOCK_MAX_TOKENS_PER_CHUNK);
		cfg->tokens_per_chunk_min = cfg->tokens_per_chunk;
		return;
	}
	if (dash == s || (size_t)(dash - s) >= sizeof(lo))
		bad_usage("--tokens-per-chunk wants K or A-B, not '%s'", s);
	memcpy(lo, s, (size_t)(dash - s));
	lo[dash - s] = '\0';
	cfg->tokens_per_chunk =
	    (unsigned)parse_u64("--tokens-per-chunk", dash + 1, 1, MOCK_MAX_TOKENS_PER_CHUNK);
	cfg->tokens_per_chunk_min =
	    (unsigned)parse_u64("--tokens-per-chunk", lo, 0, cfg->tokens_per_chunk);
}

static void parse_model(struct mock_config *cfg, const char *s)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			bad_usage("--model wants printable ASCII without spaces, quotes or "
				  "backslashes");
	if (!len || len > MOCK_MAX_MODEL_LEN)
		bad_usage("--model wants 1 to %d characters", MOCK_MAX_MODEL_LEN);
	cfg->model = s;
	cfg->model_len = len;
}

static void parse_args(int argc, char **argv, struct mock_config *cfg, struct args *a)
{
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (opt) {
		case OPT_HOST:
			cfg->host = strcmp(optarg, "localhost") ? optarg : "127.0.0.1";
			if (inet_pton(AF_INET, cfg->host, &cfg->addr) != 1)
				bad_usage("--host wants an IPv4 address, not '%s'", optarg);
			break;
		case OPT_PORT:
			cfg->port = (uint16_t)parse_u64("--port", optarg, 0, 65535);
			break;
		case OPT_THREADS:
			a->threads = (unsigned)parse_u64("--threads", optarg, 1, MOCK_MAX_THREADS);
			break;
		case OPT_MAX_CONNS:
			cfg->max_conns = (unsigned)parse_u64("--max-conns", optarg, 1, 10000000);
			a->max_conns_set = true;
			break;
		case OPT_MAX_BODY:
			cfg->max_body_bytes = parse_u64("--max-body", optarg, 0, 1u << 30);
			break;
		case OPT_LARGE_BUFS:
			cfg->large_bufs = (unsigned)parse_u64("--large-bufs", optarg, 0, 65536);
			break;
		case OPT_MODEL:
			parse_model(cfg, optarg);
			break;
		case OPT_TTFT:
			cfg->ttft_ns = parse_ms("--ttft-ms", optarg);
			break;
		case OPT_ITL:
			cfg->itl_ns = parse_ms("--itl-ms", optarg);
			break;
		case OPT_TPC:
			parse_tpc(cfg, optarg);
			break;
		case OPT_TRUTH:
			a->truth_path = optarg;
			break;
		case OPT_PIN:
			cfg->pin = true;
			break;
		case OPT_TOKENIZER:
			a->tokenizer = optarg;
			break;
		case OPT_SSE_LF:
			cfg->sse_lf = true;
			break;
		case OPT_TLS_CERT:
			a->tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			a->tls_key = optarg;
			break;
		case OPT_TLS_NO_TICKETS:
			a->tls_no_tickets = true;
			break;
		case OPT_REQS_PER_CONN:
			cfg->requests_per_conn =
			    (uint32_t)parse_u64("--requests-per-conn", optarg, 0, UINT32_MAX);
			break;
		case OPT_MAX_CONCURRENCY:
			cfg->max_concurrency =
			    (unsigned)parse_u64("--max-concurrency", optarg, 1, 10000000);
			break;
		case OPT_PAUSE_AT:
			cfg->pause_at_ns = parse_ms("--pause-at-ms", optarg);
			break;
		case OPT_PAUSE:
			cfg->pause_ns = parse_ms("--pause-ms", optarg);
			break;
		case OPT_FAULT: {
			char err[256];

			if (fault_parse(&cfg->fault, optarg, err, sizeof(err)))
				bad_usage("%s", err);
			break;
		}
		case OPT_FAULT_SEED:
			cfg->fault.seed = parse_u64("--fault-seed", optarg, 0, UINT64_MAX);
			break;
		case OPT_FAULT_LOG:
			cfg->fault.log_path = optarg;
			break;
		case OPT_HELP:
			fputs(usage, stdout);
			exit(0);
		case ':':
			bad_usage("%s needs a value", argv[optind - 1]);
		default:
			bad_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument '%s'", argv[optind]);
	if (!a->tls_cert != !a->tls_key)
		bad_usage("--tls-cert and --tls-key go together");
}

/* The server TLS context, shared by the workers. */
static void setup_tls(struct mock_config *cfg, const struct args *a)
{
	struct tls_ctx_opts o = { .cert_file = a->tls_cert,
				  .key_file = a->tls_key,
				  .no_tickets = a->tls_no_tickets };
	char err[512];

	if (!a->tls_cert)
		return;
	if (tls_ctx_server(&cfg->tls, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "brood-mock: %s\n", err);
		exit(2);
	}
}

/*
 * Rings: one ring's registered file table may not exceed RLIMIT_NOFILE, so
 * max_conns needs several. Each table gets its share plus headroom for
 * SO_REUSEPORT's uneven hashing.
 */
static void size_rings(struct mock_config *cfg, unsigned threads)
{
	struct rlimit rl;
	uint64_t per_ring, share;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl))
		rl.rlim_cur = 1024;
	per_ring = rl.rlim_cur > 2 * FD_RESERVE ? rl.rlim_cur - FD_RESERVE : FD_RESERVE;
	if (per_ring > (1u << 20))
		per_ring = 1u << 20; /* IORING_MAX_FIXED_FILES */
	if (!threads) {
		uint64_t need = cfg->max_conns + cfg->max_conns / 16 + 16;

		threads = (unsigned)((need + per_ring - 1) / per_ring);
		if (threads > MOCK_MAX_THREADS)
			bad_usage("--max-conns %u needs more than %d threads at RLIMIT_NOFILE %llu",
				  cfg->max_conns, MOCK_MAX_THREADS,
				  (unsigned long long)rl.rlim_cur);
	}
	if ((uint64_t)threads * per_ring < cfg->max_conns)
		bad_usage(
		    "--max-conns %u needs at least %llu threads (RLIMIT_NOFILE %llu per ring)",
		    cfg->max_conns,
		    (unsigned long long)((cfg->max_conns + per_ring - 1) / per_ring),
		    (unsigned long long)rl.rlim_cur);
	share = (cfg->max_conns + threads - 1) / threads;
	share += share / 16 + 16;
	cfg->nr_threads = threads;
	cfg->conns_per_thread = (unsigned)(share < per_ring ? share : per_ring);
}

/* Output buffer: a head, a short send's rest, a content event, usage and [DONE]. */
static void size_events(struct mock_config *cfg)
{
	size_t out;

	cfg->event_max_bytes = 512 + cfg->model_len + cfg->tokens_per_chunk * gen_token_max_bytes();
	out = MOCK_HEAD_MAX_BYTES + 4 * cfg->event_max_bytes;
	out = (out + 4095) & ~(size_t)4095;
	cfg->out_cap_bytes = out < 16384 ? 16384 : out;
	if (cfg->fault.rate[FAULT_HUGE_HEADERS] > 0)
		cfg->out_cap_bytes += FAULT_HUGE_HEAD_BYTES;
}

static int open_truth(struct mock_config *cfg, const char *path)
{
	static const char header[] = "# request_id event_index kind send_ns [tokens]\n";

	cfg->truth_fd = -1;
	if (!path)
		return 0;
	cfg->truth_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (cfg->truth_fd < 0 || write(cfg->truth_fd, header, sizeof(header) - 1) < 0) {
		int err = errno;

		fprintf(stderr, "brood-mock: cannot write truth file '%s': %s\n", path,
			strerror(err));
		return -err;
	}
	return 0;
}

/* A listener on cfg's address and port. Returns the fd or -errno. */
static int listen_on(const struct mock_config *cfg)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(cfg->port) };
	int one = 1;
	int fd, ret;

	sa.sin_addr = cfg->addr;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* One listener per ring, all on one port; the kernel spreads connections. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    /* Accepted sockets inherit it: every SSE event leaves at once. */
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, LISTEN_BACKLOG))
		goto err;
	return fd;
err:
	ret = -errno;
	close(fd);
	return ret;
}

/* Binds every worker's listener; with port 0 the first picks, the rest follow. */
static int bind_all(struct mock_config *cfg, struct mock_worker *workers)
{
	for (unsigned i = 0; i < cfg->nr_threads; i++) {
		int fd = listen_on(cfg);

		if (fd < 0) {
			fprintf(stderr, "brood-mock: cannot listen on %s:%u: %s\n", cfg->host,
				cfg->port, strerror(-fd));
			return fd;
		}
		workers[i].listen_fd = fd;
		if (!cfg->port) {
			struct sockaddr_in sa;
			socklen_t len = sizeof(sa);

			if (getsockname(fd, (struct sockaddr *)&sa, &len))
				return -errno;
			cfg->port = ntohs(sa.sin_port);
		}
	}
	return 0;
}

static void summary(const struct mock_config *cfg, const struct mock_worker *workers, unsigned nr)
{
	struct mock_stats t = { 0 };

	for (unsigned i = 0; i < nr; i++) {
		const struct mock_stats *s = &workers[i].stats;

		t.conns += s->conns;
		t.requests += s->requests;
		t.events += s->events;
		t.bytes_out += s->bytes_out;
		t.http_errors += s->http_errors;
		t.aborted += s->aborted;
		t.resets += s->resets;
		t.conn_errors += s->conn_errors;
		t.enobufs += s->enobufs;
		t.enfile += s->enfile;
		t.truth_dropped += s->truth_dropped;
		t.tls_handshakes += s->tls_handshakes;
		t.tls_resumed += s->tls_resumed;
		t.tls_errors += s->tls_errors;
		for (int k = 0; k < FAULT_NR; k++)
			t.faults[k] += s->faults[k];
	}
	if (cfg->fault.log_path && fault_log_write(cfg->fault.log_path, t.requests, t.faults))
		fprintf(stderr, "brood-mock: cannot write %s\n", cfg->fault.log_path);
	fprintf(stderr,
		"brood-mock: %llu connections, %llu requests, %llu events, %llu bytes out, "
		"%llu http errors, %llu responses aborted by clients, %llu resets, "
		"%llu connection errors, %llu recv ENOBUFS, %llu accepts dropped, "
		"%llu truth bytes lost\n",
		(unsigned long long)t.conns, (unsigned long long)t.requests,
		(unsigned long long)t.events, (unsigned long long)t.bytes_out,
		(unsigned long long)t.http_errors, (unsigned long long)t.aborted,
		(unsigned long long)t.resets, (unsigned long long)t.conn_errors,
		(unsigned long long)t.enobufs, (unsigned long long)t.enfile,
		(unsigned long long)t.truth_dropped);
	if (nr && workers[0].cfg->tls)
		fprintf(stderr,
			"brood-mock: TLS: %llu handshakes (%llu resumed), %llu TLS errors\n",
			(unsigned long long)t.tls_handshakes, (unsigned long long)t.tls_resumed,
			(unsigned long long)t.tls_errors);
}

/* Waits for SIGINT/SIGTERM (returns 0) or a worker's SIGUSR1 (returns 1). */
static int wait_signal(const sigset_t *set)
{
	int sig;

	for (;;) {
		if (sigwait(set, &sig))
			continue;
		if (sig == SIGINT || sig == SIGTERM)
			return 0;
		if (sig == SIGUSR1)
			return 1;
	}
}

static int start_workers(struct mock_config *cfg, struct mock_worker *workers, int stop_fd,
			 sem_t *ready, unsigned *nr_started)
{
	int ret = 0;

	for (unsigned i = 0; i < cfg->nr_threads; i++) {
		workers[i].idx = i;
		workers[i].cfg = cfg;
		workers[i].stop_fd = stop_fd;
		workers[i].ready = ready;
		workers[i].fault_prng = fault_prng_init(&cfg->fault, i);
		ret = worker_start(&workers[i]);
		if (ret) {
			fprintf(stderr, "brood-mock: cannot start thread %u: %s\n", i,
				strerror(-ret));
			break;
		}
		(*nr_started)++;
	}
	for (unsigned i = 0; i < *nr_started; i++)
		while (sem_wait(ready))
			;
	for (unsigned i = 0; i < *nr_started; i++) {
		if (!workers[i].err)
			continue;
		fprintf(stderr, "brood-mock: worker %u: ring set-up failed: %s%s\n", i,
			strerror(-workers[i].err),
			workers[i].err == -EINVAL || workers[i].err == -ENOSYS
			    ? " (needs io_uring with SINGLE_ISSUER, DEFER_TASKRUN: Linux 6.1+)"
			    : "");
		ret = workers[i].err;
	}
	return ret;
}

int main(int argc, char **argv)
{
	struct mock_config cfg = {
		.host = "127.0.0.1",
		.port = 8000,
		.max_conns = 50000,
		.max_body_bytes = 1u << 20,
		.large_bufs = 64,
		.model = "brood-mock",
		.model_len = strlen("brood-mock"),
		.ttft_ns = 50000000,
		.itl_ns = 10000000,
		.tokens_per_chunk = 1,
		.tokens_per_chunk_min = 1,
		.truth_fd = -1,
	};
	struct args a = { 0 };
	struct mock_worker *workers = NULL;
	unsigned nr_started = 0;
	int stop_fd = -1, ret = 1;
	sigset_t set;
	sem_t ready;

	inet_pton(AF_INET, cfg.host, &cfg.addr);
	fault_config_init(&cfg.fault);
	parse_args(argc, argv, &cfg, &a);
	if (cfg.max_concurrency) {
		struct rlimit rl;

		/* admit.c: one worker keeps the queue first come, first served. */
		if (a.threads > 1)
			bad_usage(
			    "--max-concurrency runs one worker (a FIFO queue): drop --threads");
		a.threads = 1;
		if (!a.max_conns_set && !getrlimit(RLIMIT_NOFILE, &rl) &&
		    rl.rlim_max > 4 * FD_RESERVE && rl.rlim_max - 2 * FD_RESERVE < cfg.max_conns)
			cfg.max_conns = (unsigned)(rl.rlim_max - 2 * FD_RESERVE);
	}
	if (a.tokenizer) {
		char err[512];

		if (gen_init_tokenizer(a.tokenizer, err, sizeof(err)) < 0)
			bad_usage("--tokenizer %s: %s", a.tokenizer, err);
	} else {
		gen_init();
	}
	setup_tls(&cfg, &a);
	gen_init();
	size_rings(&cfg, a.threads);
	size_events(&cfg);
	cfg.main_thread = pthread_self();

	/* Workers inherit the mask: only sigwait here sees these. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sem_init(&ready, 0, 0);

	workers = calloc(cfg.nr_threads, sizeof(*workers));
	stop_fd = eventfd(0, EFD_CLOEXEC);
	if (!workers || stop_fd < 0) {
		fprintf(stderr, "brood-mock: out of memory or fds at start-up\n");
		goto err;
	}
	for (unsigned i = 0; i < cfg.nr_threads; i++)
		workers[i].listen_fd = -1;
	if (open_truth(&cfg, a.truth_path) || bind_all(&cfg, workers))
		goto err;
	if (start_workers(&cfg, workers, stop_fd, &ready, &nr_started))
		goto stop;

	printf("brood-mock listening on %s:%u%s\n", cfg.host, cfg.port, cfg.tls ? " (https)" : "");
	fflush(stdout);
	ret = wait_signal(&set);
stop:
	if (eventfd_write(stop_fd, 1))
		ret = 1;
	for (unsigned i = 0; i < nr_started; i++) {
		pthread_join(workers[i].thread, NULL);
		if (workers[i].loop_err) {
			fprintf(stderr, "brood-mock: worker %u failed: %s\n", i,
				strerror(-workers[i].loop_err));
			ret = 1;
		}
	}
	summary(&cfg, workers, nr_started);
err:
	if (cfg.truth_fd >= 0 && close(cfg.truth_fd))
		ret = 1;
	for (unsigned i = 0; workers && i < cfg.nr_threads; i++)
		if (workers[i].listen_fd >= 0)
			close(workers[i].listen_fd);
	if (stop_fd >= 0)
		close(stop_fd);
	free(workers);
	tls_ctx_free(cfg.tls);
	return ret;
}
