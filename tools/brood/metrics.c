/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus endpoint. A scrape is one short HTTP/1.0-style exchange:
 * read the request head (bounded in size and time), answer with the whole
 * text and Connection: close. One scrape at a time is plenty for a
 * Prometheus server or two, and keeps the thread simple.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "metrics.h"

#ifndef BROOD_VERSION
#define BROOD_VERSION "dev"
#endif

#define REQ_HEAD_MAX 4096
#define IO_TIMEOUT_S 2

struct metrics {
	int fd;	     /* listening socket */
	int wake[2]; /* pipe: metrics_stop wakes the accept loop */
	pthread_t thread;
	pthread_mutex_t mu; /* guards st */
	struct metrics_state st;
};

/* The Prometheus bucket ladder (seconds). Each le written is the live
 * bucket edge nearest the rung, so every bucket count is exact. */
static const double ladder_s[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
				   0.05,   0.1,	    0.25,   0.5,   1,	   2.5,	  5,	10,
				   25,	   50,	    100,    250,   500,	   1000,  2500 };

static void counter(struct sbuf *b, const char *name, const char *help, uint64_t v)
{
	sbuf_addf(b, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", name, help, name, name,
		  v);
}

static void gauge(struct sbuf *b, const char *name, const char *help, double v)
{
	sbuf_addf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %.10g\n", name, help, name, name, v);
}

static void histogram(struct sbuf *b, const char *name, const char *help, const struct live_hist *h)
{
	uint64_t cum = 0, last_b = 0;
	unsigned next = 0;
	bool any = false;

	sbuf_addf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t r = 0; r < sizeof(ladder_s) / sizeof(ladder_s[0]); r++) {
		uint64_t want = (uint64_t)(ladder_s[r] * 1e9);
		unsigned k = live_bucket_of(want);

		/* The nearer of the edges around the rung. */
		if (k + 1 < LIVE_NR_BUCKETS &&
		    live_bucket_upper_ns(k) - want > want - live_bucket_lower_ns(k) && k > 0)
			k--;
		if (any && k <= last_b)
			continue;
		for (; next <= k; next++)
			cum += h->counts[next];
		sbuf_addf(b, "%s_bucket{le=\"%.9g\"} %" PRIu64 "\n", name,
			  (double)live_bucket_upper_ns(k) / 1e9, cum);
		last_b = k;
		any = true;
	}
	for (; next < LIVE_NR_BUCKETS; next++)
		cum += h->counts[next];
	sbuf_addf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
	sbuf_addf(b, "%s_sum %.9g\n%s_count %" PRIu64 "\n", name, (double)h->sum_ns / 1e9, name,
		  cum);
}

/* A label value: backslash, double quote and line feed escaped. */
static void label_value(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			sbuf_add(b, "\\", 1);
		if (*s == '\n')
			sbuf_adds(b, "\\n");
		else
			sbuf_add(b, s, 1);
	}
}

void metrics_format(struct sbuf *b, const struct metrics_state *st)
{
	const struct engine_counters *c = &st->c;

	sbuf_adds(b, "# HELP brood_info brood's version and the model under test.\n"
		     "# TYPE brood_info gauge\nbrood_info{version=\"");
	label_value(b, BROOD_VERSION);
	sbuf_adds(b, "\",model=\"");
	label_value(b, st->model);
	sbuf_adds(b, "\"} 1\n");

	counter(b, "brood_requests_started_total", "Requests sent.", c->requests_started);
	sbuf_adds(b, "# HELP brood_requests_total Requests finished, by outcome.\n"
		     "# TYPE brood_requests_total counter\n");
	sbuf_addf(b, "brood_requests_total{outcome=\"ok\"} %" PRIu64 "\n", c->requests_ok);
	sbuf_addf(b, "brood_requests_total{outcome=\"failed\"} %" PRIu64 "\n", c->requests_failed);
	sbuf_addf(b, "brood_requests_total{outcome=\"cancelled\"} %" PRIu64 "\n",
		  c->requests_cancelled);
	counter(b, "brood_retries_total", "Extra attempts made by --retries (not requests).",
		c->retries);
	sbuf_adds(b, "# HELP brood_errors_total Failed requests, by error class.\n"
		     "# TYPE brood_errors_total counter\n");
	for (int i = 0; i < ENGINE_NR_ERR; i++)
		sbuf_addf(b, "brood_errors_total{class=\"%s\"} %" PRIu64 "\n",
			  engine_err_name((enum engine_err)i), c->errors[i]);
	sbuf_adds(b, "# HELP brood_responses_total Final HTTP responses, by status class.\n"
		     "# TYPE brood_responses_total counter\n");
	for (int i = 2; i < 6; i++)
		sbuf_addf(b, "brood_responses_total{code=\"%dxx\"} %" PRIu64 "\n", i, c->status[i]);
	sbuf_addf(b, "brood_responses_total{code=\"other\"} %" PRIu64 "\n", c->status[0]);
	counter(b, "brood_output_tokens_total", "Output tokens of requests finished well.",
		c->output_tokens);
	counter(b, "brood_input_tokens_total", "Input tokens of requests finished well.",
		c->input_tokens);
	counter(b, "brood_chunks_total", "SSE events that carried content.", c->chunks);
	counter(b, "brood_received_bytes_total", "Bytes received.", c->bytes_in);
	counter(b, "brood_sent_bytes_total", "Bytes sent.", c->bytes_out);
	counter(b, "brood_connections_opened_total", "Connections opened.", c->connects);
	gauge(b, "brood_connections_open", "Connections open now.",
	      (double)(c->connects - c->disconnects));
	gauge(b, "brood_users", "Users spawned so far.", (double)c->users_spawned);
	gauge(b, "brood_users_target", "Users of the run.", (double)st->users);
	gauge(b, "brood_elapsed_seconds", "Seconds since the load started.",
	      (double)st->elapsed_ns / 1e9);
	gauge(b, "brood_running", "1 while the load runs, 0 after.", st->running ? 1 : 0);
	histogram(b, "brood_ttft_seconds", "Time to first token (send to first content).",
		  &st->h[LIVE_TTFT]);
	histogram(b, "brood_itl_seconds", "Inter-token latency (gap between content chunks).",
		  &st->h[LIVE_ITL]);
	histogram(b, "brood_e2e_seconds", "Request latency, send to end of response.",
		  &st->h[LIVE_E2E]);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void serve_one(struct metrics *m, int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	char req[REQ_HEAD_MAX + 1], head[256];
	struct metrics_state *st = malloc(sizeof(*st));
	struct sbuf body = { 0 };
	size_t len = 0;
	const char *status = "200 OK";

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (len < REQ_HEAD_MAX) {
		ssize_t n = recv(fd, req + len, REQ_HEAD_MAX - len, 0);

		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[len] = '\0';
	if (!st) {
		status = "500 Internal Server Error";
		sbuf_adds(&body, "out of memory\n");
	} else if (strncmp(req, "GET ", 4)) {
		status = "405 Method Not Allowed";
		sbuf_adds(&body, "GET /metrics\n");
	} else if (strncmp(req + 4, "/metrics", 8) || !strchr(" ?", req[12])) {
		status = "404 Not Found";
		sbuf_adds(&body, "brood serves /metrics\n");
	} else {
		pthread_mutex_lock(&m->mu);
		*st = m->st;
		pthread_mutex_unlock(&m->mu);
		metrics_format(&body, st);
	}
	free(st);
	if (!body.err) {
		int n =
		    snprintf(head, sizeof(head),
			     "HTTP/1.1 %s\r\nContent-Type: text/plain; version=0.0.4; "
			     "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			     status, body.len);

		if (write_all(fd, head, (size_t)n) == 0)
			write_all(fd, body.p ? body.p : "", body.len);
	}
	sbuf_free(&body);
}

static void *serve(void *arg)
{
	struct metrics *m = arg;

	pthread_setname_np(pthread_self(), "brood-metrics");
	for (;;) {
		struct pollfd pfd[2] = { { m->fd, POLLIN, 0 }, { m->wake[0], POLLIN, 0 } };
		int fd;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		fd = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_one(m, fd);
		close(fd);
	}
	return NULL;
}

int metrics_start(struct metrics **out, const char *addr, int port, unsigned users,
		  const char *model, int *bound_port, char *err, size_t err_len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	socklen_t sa_len = sizeof(sa);
	struct metrics *m = calloc(1, sizeof(*m));
	int one = 1, ret;

	if (!m) {
		snprintf(err, err_len, "out of memory for the metrics endpoint");
		return -ENOMEM;
	}
	m->fd = m->wake[0] = m->wake[1] = -1;
	m->st.users = users;
	snprintf(m->st.model, sizeof(m->st.model), "%s", model ? model : "");
	m->st.running = true;
	pthread_mutex_init(&m->mu, NULL);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		ret = -EINVAL;
		snprintf(err, err_len, "--metrics-port: '%s' is not an IPv4 address", addr);
		goto err;
	}
	m->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || pipe2(m->wake, O_CLOEXEC) < 0) {
		ret = -errno;
		snprintf(err, err_len, "--metrics-port: %s", strerror(errno));
		goto err;
	}
	setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(m->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(m->fd, 16) < 0 ||
	    getsockname(m->fd, (struct sockaddr *)&sa, &sa_len) < 0) {
		ret = -errno;
		snprintf(err, err_len,
			 "--metrics-port: cannot listen on %s:%d (%s); pick another port", addr,
			 port, strerror(errno));
		goto err;
	}
	ret = -pthread_create(&m->thread, NULL, serve, m);
	if (ret) {
		snprintf(err, err_len, "--metrics-port: cannot start its thread: %s",
			 strerror(-ret));
		goto err;
	}
	*bound_port = ntohs(sa.sin_port);
	*out = m;
	return 0;
err:
	if (m->fd >= 0)
		close(m->fd);
	if (m->wake[0] >= 0) {
		close(m->wake[0]);
		close(m->wake[1]);
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
	return ret;
}

void metrics_publish(struct metrics *m, const struct engine_progress *p)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->st.elapsed_ns = p->elapsed_ns;
	m->st.c = p->c;
	memcpy(m->st.h, p->h, sizeof(m->st.h));
	m->st.running = !p->final;
	pthread_mutex_unlock(&m->mu);
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	if (write(m->wake[1], "x", 1) < 0) {
		/* The pipe is empty and ours: a write cannot fail here. */
	}
	pthread_join(m->thread, NULL);
	close(m->fd);
	close(m->wake[0]);
	close(m->wake[1]);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
