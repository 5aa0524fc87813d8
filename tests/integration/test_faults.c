/* SPDX-License-Identifier: MIT */
/*
 * A misbehaving server is a measurement: brood against a scripted server on
 * loopback that answers every request with the same canned bytes (a broken
 * chunk, an error object, a close mid-stream, silence...). brood must finish,
 * exit 0 and put every request in the right error class.
 *
 * argv[1] = brood.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_util.h"

static const char *brood_bin;

enum after {
	KEEP_OPEN, /* wait for the next request */
	CLOSE,	   /* close once the answer is out */
	SILENT,	   /* never answer; hold the connection until brood leaves */
};

struct script {
	const char *answer; /* bytes written for every request */
	enum after after;
	int listen_fd;
	int port;
	volatile int stop;
	pthread_t thread;
};

/* Reads one request (head and Content-Length body); 0 at EOF or stop. */
static int read_request(struct script *sc, int fd)
{
	char buf[65536];
	size_t len = 0;

	while (!sc->stop) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char *end;
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return 0;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		char *cl = strcasestr(buf, "content-length:");
		size_t body = cl ? strtoul(cl + 15, NULL, 10) : 0;
		if (len >= (size_t)(end + 4 - buf) + body)
			return 1;
	}
	return 0;
}

static void serve(struct script *sc, int fd)
{
	while (read_request(sc, fd)) {
		if (sc->after == SILENT) {
			while (!sc->stop && read_request(sc, fd))
				;
			break;
		}
		if (send(fd, sc->answer, strlen(sc->answer), MSG_NOSIGNAL) < 0 ||
		    sc->after == CLOSE)
			break;
	}
	close(fd);
}

/* One connection at a time is enough: each test runs one user. */
static void *server(void *arg)
{
	struct script *sc = arg;

	while (!sc->stop) {
		struct pollfd p = { .fd = sc->listen_fd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 100) <= 0)
			continue;
		fd = accept(sc->listen_fd, NULL, NULL);
		if (fd >= 0)
			serve(sc, fd);
	}
	return NULL;
}

static void script_start(struct script *sc, const char *answer, enum after after)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	memset(sc, 0, sizeof(*sc));
	sc->answer = answer;
	sc->after = after;
	sc->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(sc->listen_fd >= 0);
	assert_int_equal(bind(sc->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(sc->listen_fd, 16), 0);
	getsockname(sc->listen_fd, (struct sockaddr *)&sa, &len);
	sc->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&sc->thread, NULL, server, sc), 0);
}

static void script_stop(struct script *sc)
{
	sc->stop = 1;
	pthread_join(sc->thread, NULL);
	close(sc->listen_fd);
}

/* Runs brood with one user for n requests (plus extra flags) against the
 * script and returns its JSON. */
static char *run_against(struct script *sc, int n, const char *extra1, const char *extra2)
{
	char dir[64], url[64], json[128], out[128], err[128], nreq[16];

	tmpdir_make(dir, sizeof(dir));
	snprintf(json, sizeof(json), "%s/out.json", dir);
	snprintf(out, sizeof(out), "%s/stdout", dir);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", sc->port);
	snprintf(nreq, sizeof(nreq), "%d", n);
	const char *argv[] = { brood_bin, "run", "-H",	 url,	 "-m", "m",   "--chat",
			       "-u",	  "1",	 "-n",	 nreq,	 "-t", "20s", "--json",
			       json,	  "-q",	 extra1, extra2, NULL };
	assert_int_equal(run_cmd(argv, out, err, 60), 0);
	char *doc = slurp(json);
	assert_non_null(doc);
	return doc;
}

static double field(const char *doc, const char *a, const char *b)
{
	const char *path[] = { "summary", a, b, NULL };

	return json_num(doc, path);
}

#define SSE_HEAD                                                                                   \
	"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
#define CONTENT_EVENT                                                                              \
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" "                              \
	"hi\"},\"finish_reason\":null}]}\n\n"

/* Writes one HTTP chunk holding s (a string literal) into a literal. */
#define CHUNK(hex, s) hex "\r\n" s "\r\n"

static void expect_class(const char *answer, enum after after, const char *class, int n)
{
	struct script sc;

	script_start(&sc, answer, after);
	char *doc = run_against(&sc, n, NULL, NULL);
	script_stop(&sc);
	assert_int_equal((int)field(doc, "requests_ok", NULL), 0);
	assert_int_equal((int)field(doc, "requests_failed", NULL), n);
	assert_int_equal((int)field(doc, "errors", class), n);
	free(doc);
}

static void test_bad_chunk_size_is_protocol(void **state)
{
	(void)state;
	expect_class(SSE_HEAD "zz\r\n" CONTENT_EVENT "\r\n", KEEP_OPEN, "protocol", 3);
}

static void test_bad_json_is_protocol(void **state)
{
	(void)state;
	expect_class(SSE_HEAD CHUNK("11", "data: {not json\n\n")
			 CHUNK("e", "data: [DONE]\n\n") "0\r\n\r\n",
		     KEEP_OPEN, "protocol", 3);
}

static void test_bad_status_line_is_protocol(void **state)
{
	(void)state;
	expect_class("HTTP/1.1 abc OK\r\n\r\n", CLOSE, "protocol", 2);
}

static void test_error_object_is_server_error(void **state)
{
	(void)state;
	expect_class(SSE_HEAD CHUNK("2a", "data: {\"error\":{\"message\":\"overloaded\"}}\n\n")
			 CHUNK("e", "data: [DONE]\n\n") "0\r\n\r\n",
		     KEEP_OPEN, "server_error", 3);
}

static void test_close_mid_stream_is_reset(void **state)
{
	(void)state;
	expect_class(SSE_HEAD CHUNK("50", CONTENT_EVENT), CLOSE, "reset", 3);
}

static void test_503_is_http_status(void **state)
{
	(void)state;
	expect_class("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nbusy", KEEP_OPEN,
		     "http_status", 4);
}

/* Silence: each request fails at --timeout, and brood goes on. */
static void test_silence_is_timeout(void **state)
{
	(void)state;
	struct script sc;

	script_start(&sc, "", SILENT);
	char *doc = run_against(&sc, 2, "--timeout", "300ms");
	script_stop(&sc);
	assert_int_equal((int)field(doc, "requests_failed", NULL), 2);
	assert_int_equal((int)field(doc, "errors", "timeout"), 2);
	free(doc);
}

/* A whole, well-formed stream on a connection the server closes after each
 * response: every request succeeds, over a new connection each time. */
static void test_connection_close_reconnects(void **state)
{
	(void)state;
	struct script sc;

	script_start(&sc,
		     "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n"
		     "transfer-encoding: chunked\r\n\r\n" CHUNK("50", CONTENT_EVENT)
			 CHUNK("50", CONTENT_EVENT) CHUNK("e", "data: [DONE]\n\n") "0\r\n\r\n",
		     CLOSE);
	char *doc = run_against(&sc, 5, NULL, NULL);
	script_stop(&sc);
	assert_int_equal((int)field(doc, "requests_ok", NULL), 5);
	const char *connects[] = { "generator", "connects", NULL };
	assert_int_equal((int)json_num(doc, connects), 5);
	const char *tokens[] = { "tokens", "output_total", NULL };
	assert_int_equal((int)json_num(doc, tokens), 10); /* two content events each */
	free(doc);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_chunk_size_is_protocol),
		cmocka_unit_test(test_bad_json_is_protocol),
		cmocka_unit_test(test_bad_status_line_is_protocol),
		cmocka_unit_test(test_error_object_is_server_error),
		cmocka_unit_test(test_close_mid_stream_is_reset),
		cmocka_unit_test(test_503_is_http_status),
		cmocka_unit_test(test_silence_is_timeout),
		cmocka_unit_test(test_connection_close_reconnects),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s BROOD\n", argv[0]);
		return 2;
	}
	brood_bin = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
