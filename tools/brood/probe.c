/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http1.h"
#include "json.h"
#include "probe.h"
#include "tls.h"

#define PROBE_RESPONSE_MAX (1u << 20) /* bytes of a /v1/models answer */

int probe_resolve(const struct url *u, struct sockaddr_storage *addr, socklen_t *addr_len,
		  char *err, size_t err_len)
{
	struct addrinfo hints, *res;
	char port[8];
	int ret;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", u->port);
	ret = getaddrinfo(u->host, port, &hints, &res);
	if (ret) {
		snprintf(err, err_len, "cannot resolve host '%s': %s", u->host, gai_strerror(ret));
		return -EINVAL;
	}
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	*addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline_ms. Returns 0 or -ETIMEDOUT. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline_ms - now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int connect_fd(const struct sockaddr_storage *addr, socklen_t addr_len, int64_t deadline_ms)
{
	int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int ret, soerr = 0;
	socklen_t len = sizeof(soerr);

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)addr, addr_len) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		ret = -errno;
		goto err;
	}
	ret = wait_fd(fd, POLLOUT, deadline_ms);
	if (ret < 0)
		goto err;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
	if (soerr) {
		ret = -soerr;
		goto err;
	}
	return fd;
err:
	close(fd);
	return ret;
}

int probe_connect(const struct url *u, const struct sockaddr_storage *addr, socklen_t addr_len,
		  int timeout_ms, char *err, size_t err_len)
{
	char where[URL_STR_MAX];
	int fd = connect_fd(addr, addr_len, now_ms() + timeout_ms);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	url_format(u, where, sizeof(where));
	snprintf(err, err_len, "cannot connect to %s: %s%s", where, strerror(-fd),
		 fd == -ECONNREFUSED ? " (is the server running on that port?)" : "");
	return fd;
}

static int send_all(int fd, const char *p, size_t len, int64_t deadline_ms)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			int ret = wait_fd(fd, POLLOUT, deadline_ms);
			if (ret < 0)
				return ret;
			continue;
		}
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A probe's connection: a blocking-style socket with poll deadlines, plain
 * or through a tls_conn (the same memory-BIO TLS the shards use). */
struct pconn {
	int fd;
	bool tls;
	struct tls_conn t;
	int64_t deadline_ms;
};

static int pc_flush(struct pconn *pc)
{
	char buf[4096];
	size_t n;

	while ((n = tls_take(&pc->t, buf, sizeof(buf))) > 0) {
		int ret = send_all(pc->fd, buf, n, pc->deadline_ms);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Raw bytes from the socket into buf; 0 at end of stream. */
static ssize_t recv_some(struct pconn *pc, char *buf, size_t cap)
{
	for (;;) {
		ssize_t n = recv(pc->fd, buf, cap, 0);

		if (n >= 0)
			return n;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		int ret = wait_fd(pc->fd, POLLIN, pc->deadline_ms);
		if (ret < 0)
			return ret;
	}
}

/* Ciphertext from the socket to OpenSSL. Returns 0, -EPROTO (the peer
 * closed mid-handshake or mid-record) or -errno; *eof at a clean end. */
static int pc_pull(struct pconn *pc, bool *eof)
{
	char buf[4096];
	ssize_t n = recv_some(pc, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	if (n == 0) {
		*eof = true;
		return tls_feed_eof(&pc->t);
	}
	return tls_feed(&pc->t, buf, (size_t)n);
}

static int pc_handshake(struct pconn *pc, const char *host)
{
	int ret = tls_conn_start(&pc->t, host);

	while (!ret) {
		bool eof = false;

		ret = tls_handshake(&pc->t);
		if (ret != -EAGAIN && ret != 0)
			return ret;
		if (pc_flush(pc) < 0)
			return -EPIPE;
		if (!ret)
			return 0;
		ret = pc_pull(pc, &eof);
		if (!ret && eof)
			ret = -EPROTO;
	}
	return ret;
}

static int pc_send(struct pconn *pc, const char *p, size_t len)
{
	if (!pc->tls)
		return send_all(pc->fd, p, len, pc->deadline_ms);
	if (tls_write(&pc->t, p, len) < 0)
		return -EPROTO;
	return pc_flush(pc);
}

/* Plaintext into buf: bytes, 0 at the end of the stream, or -errno. */
static ssize_t pc_recv(struct pconn *pc, char *buf, size_t cap)
{
	if (!pc->tls)
		return recv_some(pc, buf, cap);
	for (;;) {
		ssize_t n = tls_read(&pc->t, buf, cap);
		bool eof = false;
		int ret;

		if (n != -EAGAIN)
			return n;
		ret = pc_pull(pc, &eof);
		if (ret < 0)
			return ret;
		if (eof)
			return 0;
	}
}

/* Connects (and with tls, shakes hands) within the deadline. Returns 0,
 * or -errno with err naming the target and the cause. */
static int pc_open(struct pconn *pc, const struct url *u, const struct sockaddr_storage *addr,
		   socklen_t addr_len, struct tls_ctx *tls, char *err, size_t err_len)
{
	char where[URL_STR_MAX];
	int ret;

	url_format(u, where, sizeof(where));
	pc->tls = tls != NULL;
	if (tls)
		tls_conn_init(&pc->t, tls);
	pc->fd = connect_fd(addr, addr_len, pc->deadline_ms);
	if (pc->fd < 0) {
		snprintf(err, err_len, "cannot connect to %s: %s%s", where, strerror(-pc->fd),
			 pc->fd == -ECONNREFUSED ? " (is the server running on that port?)" : "");
		return pc->fd;
	}
	if (!tls)
		return 0;
	ret = pc_handshake(pc, u->host);
	if (ret < 0) {
		const char *why = ret == -EPROTO ? tls_reason(&pc->t) : strerror(-ret);

		snprintf(err, err_len, "TLS handshake with %s failed: %s%s", where,
			 why[0] ? why : "the server closed the connection",
			 !strncmp(why, "certificate verify failed", 25)
			     ? " (trust its CA with --cacert FILE, or skip checks with --insecure)"
			     : "");
		tls_conn_close(&pc->t);
		close(pc->fd);
		return ret;
	}
	return 0;
}

static void pc_close(struct pconn *pc)
{
	if (pc->tls)
		tls_conn_close(&pc->t);
	close(pc->fd);
}

int probe_tls(const struct url *u, const struct sockaddr_storage *addr, socklen_t addr_len,
	      struct tls_ctx *tls, int timeout_ms, char *err, size_t err_len)
{
	struct pconn pc = { .deadline_ms = now_ms() + timeout_ms };
	int ret = pc_open(&pc, u, addr, addr_len, tls, err, err_len);

	if (ret < 0)
		return ret;
	pc_close(&pc);
	return 0;
}

/* Walks a chunked body; with move, gathers its data at the start of body.
 * Returns the data length, -EAGAIN (incomplete) or -EPROTO. */
static ssize_t dechunk(char *body, size_t len, bool move)
{
	struct http1_chunked c;
	size_t in = 0, out = 0;

	http1_chunked_init(&c);
	while (!http1_chunked_done(&c)) {
		const char *data;
		size_t data_len = 0;
		ssize_t n = http1_chunked_feed(&c, body + in, len - in, &data, &data_len);

		if (n < 0)
			return -EPROTO;
		if (n == 0)
			return -EAGAIN;
		if (move)
			memmove(body + out, data, data_len);
		out += data_len;
		in += (size_t)n;
	}
	return (ssize_t)out;
}

/* The body's length once complete, decoded in place; -EAGAIN or -EPROTO. */
static ssize_t body_of(const struct http1_response *r, char *body, size_t len, bool eof)
{
	if (r->framing == HTTP1_FRAMING_LENGTH)
		return len >= r->content_length ? (ssize_t)r->content_length : -EAGAIN;
	if (r->framing == HTTP1_FRAMING_CLOSE)
		return eof ? (ssize_t)len : -EAGAIN;
	if (r->framing == HTTP1_FRAMING_NONE)
		return 0;

	ssize_t n = dechunk(body, len, false);

	return n < 0 ? n : dechunk(body, len, true);
}

int probe_models(const struct url *u, const struct sockaddr_storage *addr, socklen_t addr_len,
		 struct tls_ctx *tls, const char *request, size_t request_len, int timeout_ms,
		 char *model, size_t model_cap, unsigned *nr_models, char *err, size_t err_len)
{
	struct pconn pc = { .deadline_ms = now_ms() + timeout_ms };
	struct http1_response r;
	char where[URL_STR_MAX];
	char *buf = malloc(PROBE_RESPONSE_MAX + JSON_PADDING);
	size_t len = 0;
	ssize_t body_len = -EAGAIN;
	int head = -EAGAIN, ret;
	bool eof = false;

	url_format(u, where, sizeof(where));
	if (!buf) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	ret = pc_open(&pc, u, addr, addr_len, tls, err, err_len);
	if (ret < 0)
		goto out;
	ret = pc_send(&pc, request, request_len);
	while (!ret && body_len == -EAGAIN && !eof && len < PROBE_RESPONSE_MAX) {
		ssize_t n = pc_recv(&pc, buf + len, PROBE_RESPONSE_MAX - len);

		if (n < 0) {
			ret = (int)n;
			break;
		}
		eof = n == 0;
		len += (size_t)n;
		head = http1_parse_response(buf, len, &r);
		if (head == -EAGAIN)
			continue;
		if (head < 0)
			break;
		body_len = body_of(&r, buf + head, len - (size_t)head, eof);
	}
	if (ret == -EPROTO && pc.tls)
		snprintf(err, err_len, "GET %s/v1/models: TLS: %s", where, tls_reason(&pc.t));
	else if (ret)
		snprintf(err, err_len, "GET %s/v1/models: %s", where, strerror(-ret));
	pc_close(&pc);
	if (ret)
		goto out;
	ret = -EPROTO;
	if (head < 0 || body_len < 0) {
		snprintf(err, err_len, "GET %s/v1/models: no complete HTTP response", where);
		goto out;
	}
	if (r.status < 200 || r.status > 299) {
		snprintf(err, err_len, "GET %s/v1/models: HTTP %d", where, r.status);
		goto out;
	}
	if (json_parse_models(buf + head, (size_t)body_len, model, model_cap, nr_models) < 0) {
		snprintf(err, err_len, "GET %s/v1/models: not an OpenAI model list", where);
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}
