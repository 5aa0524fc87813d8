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
		 const char *request, size_t request_len, int timeout_ms, char *model,
		 size_t model_cap, unsigned *nr_models, char *err, size_t err_len)
{
	int64_t deadline_ms = now_ms() + timeout_ms;
	struct http1_response r;
	char where[URL_STR_MAX];
	char *buf = malloc(PROBE_RESPONSE_MAX + JSON_PADDING);
	size_t len = 0;
	ssize_t body_len = -EAGAIN;
	int head = -EAGAIN, fd, ret;
	bool eof = false;

	url_format(u, where, sizeof(where));
	if (!buf) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	fd = connect_fd(addr, addr_len, deadline_ms);
	if (fd < 0) {
		ret = fd;
		snprintf(err, err_len, "cannot connect to %s: %s", where, strerror(-ret));
		goto out;
	}
	ret = send_all(fd, request, request_len, deadline_ms);
	while (!ret && body_len == -EAGAIN && !eof && len < PROBE_RESPONSE_MAX) {
		ssize_t n = recv(fd, buf + len, PROBE_RESPONSE_MAX - len, 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			ret = wait_fd(fd, POLLIN, deadline_ms);
			continue;
		}
		if (n < 0) {
			ret = -errno;
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
	close(fd);
	if (ret) {
		snprintf(err, err_len, "GET %s/v1/models: %s", where, strerror(-ret));
		goto out;
	}
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
