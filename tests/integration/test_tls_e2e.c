/* SPDX-License-Identifier: MIT */
/*
 * brood over HTTPS on loopback, every server started and stopped here, with
 * certificates made at test time by the openssl command:
 *   - against brood-mock --tls-cert/--tls-key (both TLS versions),
 *   - session resumption on reconnect (brood-mock --requests-per-conn 1),
 *   - a wrong CA, no CA, --insecure, and https to a plain HTTP server,
 *   - a scripted TLS server that breaks records or handshakes under load:
 *     each failure lands in the tls class with OpenSSL's reason,
 *   - Debian's nginx as a TLS-terminating reverse proxy in front of
 *     brood-mock (HTTP/1.1 keep-alive upstream, proxy_buffering off).
 *
 * argv[1] = brood-mock, argv[2] = brood, argv[3] = nginx ("" when CMake
 * found none: that test fails and says to run scripts/setup.sh).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "certs.h"
#include "e2e_util.h"
#include "tls.h"

static const char *mock_bin;
static const char *brood_bin;
static const char *nginx_bin;
static struct certs certs;
static char certs_dir[64];

struct files {
	char dir[64];
	char json[512];
	char out[512];
	char err[512];
};

static void files_make(struct files *f)
{
	tmpdir_make(f->dir, sizeof(f->dir));
	snprintf(f->json, sizeof(f->json), "%s/out.json", f->dir);
	snprintf(f->out, sizeof(f->out), "%s/stdout", f->dir);
	snprintf(f->err, sizeof(f->err), "%s/stderr", f->dir);
}

static double num2(const char *doc, const char *a, const char *b)
{
	const char *path[] = { a, b, NULL };

	return json_num(doc, path);
}

static double num3(const char *doc, const char *a, const char *b, const char *c)
{
	const char *path[] = { a, b, c, NULL };

	return json_num(doc, path);
}

static void start_tls_mock(struct mock *m, const char *extra1, const char *extra2)
{
	const char *args[] = { "--tls-cert", certs.cert, "--tls-key", certs.key, "--ttft-ms", "5",
			       "--itl-ms",   "1",	 extra1,      extra2,	 NULL };

	assert_int_equal(mock_start(m, mock_bin, args), 0);
}

/* brood against brood-mock over TLS: every request succeeds, one full
 * handshake per user (keep-alive), handshake and connect timed apart. */
static void test_mock_https(void **state)
{
	(void)state;
	for (int v = 12; v <= 13; v++) {
		struct files f;
		struct mock m;
		char url[64];
		char *doc;

		files_make(&f);
		start_tls_mock(&m, NULL, NULL);
		/* "localhost": SNI and a DNS-name check; the cert has both. */
		snprintf(url, sizeof(url), "https://localhost:%d", m.port);
		const char *argv[] = { brood_bin,
				       "run",
				       "-H",
				       url,
				       "--cacert",
				       certs.ca,
				       "-u",
				       "4",
				       "-n",
				       "40",
				       "-o",
				       "10",
				       "--tls-version",
				       v == 12 ? "1.2" : "1.3",
				       "--json",
				       f.json,
				       "-q",
				       NULL };
		assert_int_equal(run_cmd(argv, f.out, f.err, 60), 0);
		assert_int_equal(mock_stop(&m), 0);
		doc = slurp(f.json);
		assert_non_null(doc);
		assert_int_equal(num2(doc, "summary", "requests_ok"), 40);
		assert_int_equal(num2(doc, "summary", "requests_failed"), 0);
		assert_int_equal(num2(doc, "tls", "handshakes"), 4);
		assert_int_equal(num2(doc, "tls", "resumed"), 0);
		assert_int_equal(num3(doc, "summary", "tls_handshake_ms", "count"), 4);
		assert_int_equal(num3(doc, "summary", "connect_ms", "count"), 4);
		assert_true(num3(doc, "summary", "tls_handshake_ms", "max") > 0);
		assert_int_equal(num3(doc, "summary", "ttft_ms", "count"), 40);
		assert_int_equal(num2(doc, "output_total", NULL), 400);
		free(doc);
		doc = slurp(f.out);
		assert_non_null(strstr(doc, "TLS            handshakes 4 (resumed 0)"));
		free(doc);
	}
}

/* Every request on a new connection: all but each user's first resume. */
static void test_resumption(void **state)
{
	(void)state;
	for (int v = 12; v <= 13; v++) {
		struct files f;
		struct mock m;
		char url[64];
		char *doc;

		files_make(&f);
		start_tls_mock(&m, "--requests-per-conn", "1");
		snprintf(url, sizeof(url), "https://127.0.0.1:%d", m.port);
		const char *argv[] = { brood_bin,
				       "run",
				       "-H",
				       url,
				       "--cacert",
				       certs.ca,
				       "-u",
				       "2",
				       "-n",
				       "20",
				       "-o",
				       "4",
				       "--tls-version",
				       v == 12 ? "1.2" : "1.3",
				       "-m",
				       "brood-mock",
				       "--json",
				       f.json,
				       "-q",
				       NULL };
		assert_int_equal(run_cmd(argv, f.out, f.err, 60), 0);
		assert_int_equal(mock_stop(&m), 0);
		doc = slurp(f.json);
		assert_non_null(doc);
		assert_int_equal(num2(doc, "summary", "requests_ok"), 20);
		assert_int_equal(num2(doc, "summary", "requests_failed"), 0);
		assert_int_equal(num2(doc, "tls", "handshakes"), 20);
		assert_int_equal(num2(doc, "tls", "resumed"), 18);
		free(doc);
	}
}

static void expect_setup_failure(const char *const *argv, const char *want1, const char *want2)
{
	struct files f;
	char *err;

	files_make(&f);
	assert_int_equal(run_cmd(argv, f.out, f.err, 30), 1);
	err = slurp(f.err);
	assert_non_null(err);
	if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
		fail_msg("'%s' / '%s' not in: %s", want1, want2 ? want2 : "", err);
	/* One line. */
	const char *nl = strchr(err, '\n');
	assert_non_null(nl);
	assert_int_equal(nl[1], '\0');
	free(err);
}

/* A certificate we cannot verify stops the run before any load, with
 * OpenSSL's verify reason and the flags that help. */
static void test_wrong_ca(void **state)
{
	struct mock m, plain;
	struct files f;
	char url[64], plain_url[64];

	(void)state;
	start_tls_mock(&m, NULL, NULL);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", m.port);
	{
		const char *argv[] = { brood_bin,      "run", "-H", url,  "--cacert",
				       certs.other_ca, "-n",  "1",  "-q", NULL };
		expect_setup_failure(argv,
				     "certificate verify failed: unable to get local issuer "
				     "certificate",
				     "--cacert");
	}
	{
		/* The system store does not hold our test CA either. */
		const char *argv[] = { brood_bin, "run", "-H", url, "-n", "1", "-q", NULL };
		expect_setup_failure(
		    argv, "TLS handshake with https://127.0.0.1:", "certificate verify failed");
	}
	{
		const char *argv[] = { brood_bin,	   "run", "-H", url,  "--cacert",
				       "/nonexistent.pem", "-n",  "1",	"-q", NULL };
		files_make(&f);
		assert_int_equal(run_cmd(argv, f.out, f.err, 30), 2);
	}
	{
		/* --insecure: the same server is fine. */
		const char *argv[] = { brood_bin, "run", "-H", url,  "--insecure", "-n",
				       "4",	  "-o",	 "2",  "-q", NULL };
		files_make(&f);
		assert_int_equal(run_cmd(argv, f.out, f.err, 30), 0);
	}
	assert_int_equal(mock_stop(&m), 0);

	/* https:// to a server that speaks plain HTTP. */
	assert_int_equal(mock_start(&plain, mock_bin, NULL), 0);
	snprintf(plain_url, sizeof(plain_url), "https://127.0.0.1:%d", plain.port);
	{
		const char *argv[] = { brood_bin, "run", "-H", plain_url, "--insecure",
				       "-n",	  "1",	 "-q", NULL };
		expect_setup_failure(argv, "TLS handshake with https://127.0.0.1:", NULL);
	}
	assert_int_equal(mock_stop(&plain), 0);
}

/* ---- a scripted TLS server that misbehaves under load ---- */

enum fault {
	CUT_MID_RECORD, /* half a record, then close */
	BAD_RECORD,	/* a record whose tag does not verify */
	HANDSHAKE_CUT,	/* close after the client's hello (load connections only) */
};

static const char answer[] =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    "transfer-encoding: chunked\r\n\r\n"
    "3d\r\ndata: {\"choices\":[{\"text\":\"hello world, this is a token\"}]}\n\n\r\n";

struct script {
	enum fault fault;
	struct tls_ctx *ctx;
	int listen_fd;
	int port;
	int conns; /* accepted so far */
	volatile int stop;
	pthread_t thread;
};

static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int flush(int fd, struct tls_conn *t)
{
	char buf[16384];
	size_t n;

	while ((n = tls_take(t, buf, sizeof(buf))) > 0)
		if (send_all(fd, buf, n) < 0)
			return -1;
	return 0;
}

/* More ciphertext from fd into t; -1 at EOF, stop or error. */
static int pull(struct script *sc, int fd, struct tls_conn *t)
{
	char buf[16384];

	while (!sc->stop) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return -1;
		return tls_feed(t, buf, (size_t)n);
	}
	return -1;
}

/* Handshake, then one request head; -1 when the client left. */
static int serve_start(struct script *sc, int fd, struct tls_conn *t)
{
	char req[65536];
	size_t len = 0;
	int r;

	while ((r = tls_handshake(t)) == -EAGAIN)
		if (flush(fd, t) < 0 || pull(sc, fd, t) < 0)
			return -1;
	if (r < 0 || flush(fd, t) < 0)
		return -1;
	for (;;) {
		ssize_t n = tls_read(t, req + len, sizeof(req) - 1 - len);

		if (n > 0) {
			len += (size_t)n;
			req[len] = '\0';
			/* brood's request is a head and a small JSON body: the body
			 * ends the request. */
			if (strstr(req, "\r\n\r\n") && req[len - 1] == '}')
				return 0;
			continue;
		}
		if (n != -EAGAIN || pull(sc, fd, t) < 0)
			return -1;
	}
}

static void serve_conn(struct script *sc, int fd, bool first)
{
	struct tls_conn t;
	char buf[16384];
	size_t n;

	tls_conn_init(&t, sc->ctx);
	if (tls_conn_start(&t, NULL) < 0)
		goto out;
	if (sc->fault == HANDSHAKE_CUT && !first) {
		/* The client hello arrives; we vanish. */
		pull(sc, fd, &t);
		goto out;
	}
	if (serve_start(sc, fd, &t) < 0)
		goto out;
	if (tls_write(&t, answer, sizeof(answer) - 1) < 0)
		goto out;
	n = tls_take(&t, buf, sizeof(buf));
	if (sc->fault == CUT_MID_RECORD)
		n -= 10;
	else
		buf[n - 1] ^= 0x55;
	send_all(fd, buf, n);
out:
	tls_conn_close(&t);
	close(fd);
}

static void *script_main(void *arg)
{
	struct script *sc = arg;

	while (!sc->stop) {
		struct pollfd p = { .fd = sc->listen_fd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 100) <= 0)
			continue;
		fd = accept(sc->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		/* The first connection is brood's preflight handshake. */
		serve_conn(sc, fd, sc->conns++ == 0);
	}
	return NULL;
}

static void script_start(struct script *sc, enum fault fault)
{
	struct tls_ctx_opts o = { .cert_file = certs.cert, .key_file = certs.key };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char err[256];

	memset(sc, 0, sizeof(*sc));
	sc->fault = fault;
	assert_int_equal(tls_ctx_server(&sc->ctx, &o, err, sizeof(err)), 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sc->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(sc->listen_fd >= 0);
	assert_int_equal(bind(sc->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(sc->listen_fd, 64), 0);
	assert_int_equal(getsockname(sc->listen_fd, (struct sockaddr *)&sa, &len), 0);
	sc->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&sc->thread, NULL, script_main, sc), 0);
}

static void script_stop(struct script *sc)
{
	sc->stop = 1;
	pthread_join(sc->thread, NULL);
	close(sc->listen_fd);
	tls_ctx_free(sc->ctx);
}

/* A misbehaving TLS server is a measurement: brood exits 0, and every
 * request is in the tls class with OpenSSL's reason. */
static void test_tls_faults(void **state)
{
	static const struct {
		enum fault fault;
		const char *reason;
	} cases[] = {
		{ CUT_MID_RECORD,
		  "server closed the connection mid-record: unexpected eof while reading" },
		{ BAD_RECORD, "TLS record: decryption failed or bad record mac" },
		{ HANDSHAKE_CUT,
		  "server closed the connection in the TLS handshake: unexpected eof "
		  "while reading" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct script sc;
		struct files f;
		char url[64], *doc;

		script_start(&sc, cases[i].fault);
		files_make(&f);
		snprintf(url, sizeof(url), "https://127.0.0.1:%d", sc.port);
		const char *argv[] = {
			brood_bin, "run", "-H", url, "--cacert", certs.ca, "-m", "m",
			"-u",	   "1",	  "-n", "3", "--json",	 f.json,   "-q", NULL
		};
		assert_int_equal(run_cmd(argv, f.out, f.err, 60), 0);
		script_stop(&sc);
		doc = slurp(f.json);
		assert_non_null(doc);
		assert_int_equal(num2(doc, "summary", "requests_failed"), 3);
		assert_int_equal(num3(doc, "summary", "errors", "tls"), 3);
		if (!strstr(doc, cases[i].reason))
			fail_msg("'%s' not in:\n%s", cases[i].reason, doc);
		free(doc);
	}
}

/* ---- nginx in front of brood-mock ---- */

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static bool port_open(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static void write_nginx_conf(const char *path, const char *dir, int port, int upstream_port)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f,
		"%s"
		"worker_processes 1;\n"
		"error_log %s/error.log warn;\n"
		"pid %s/nginx.pid;\n"
		"events { worker_connections 512; }\n"
		"http {\n"
		"  access_log off;\n"
		"  client_body_temp_path %s/body;\n"
		"  proxy_temp_path %s/proxy;\n"
		"  fastcgi_temp_path %s/fastcgi;\n"
		"  uwsgi_temp_path %s/uwsgi;\n"
		"  scgi_temp_path %s/scgi;\n"
		"  upstream mock { server 127.0.0.1:%d; keepalive 16; }\n"
		"  server {\n"
		"    listen 127.0.0.1:%d ssl;\n"
		"    ssl_certificate %s;\n"
		"    ssl_certificate_key %s;\n"
		"    ssl_protocols TLSv1.2 TLSv1.3;\n"
		"    location / {\n"
		"      proxy_pass http://mock;\n"
		"      proxy_http_version 1.1;\n"
		"      proxy_set_header Connection \"\";\n"
		"      proxy_buffering off;\n"
		"    }\n"
		"  }\n"
		"}\n",
		geteuid() == 0 ? "user root;\n" : "", dir, dir, dir, dir, dir, dir, dir,
		upstream_port, port, certs.cert, certs.key);
	fclose(f);
}

/* Starts nginx in the foreground; returns its pid once it accepts. */
static pid_t nginx_start(const char *conf, const char *dir, int port, const char *log)
{
	long deadline;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		char elog[600];

		snprintf(elog, sizeof(elog), "%s/error.log", dir);
		execl(nginx_bin, nginx_bin, "-p", dir, "-e", elog, "-c", conf, "-g", "daemon off;",
		      (char *)NULL);
		_exit(127);
	}
	deadline = time(NULL) + 10;
	while (time(NULL) < deadline) {
		int status;

		if (waitpid(pid, &status, WNOHANG) == pid)
			return -1; /* it exited: the port was taken, or a config error */
		if (port_open(port))
			return pid;
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static void nginx_stop(pid_t pid)
{
	int status;

	/* SIGQUIT: a graceful stop; bounded by a SIGKILL after 10 s. */
	kill(pid, SIGQUIT);
	for (int i = 0; i < 500; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* brood -> nginx (TLS) -> brood-mock (HTTP/1.1 keep-alive). */
static void test_nginx_proxy(void **state)
{
	struct files f;
	struct mock m;
	char conf[600], log[600], url[64], *doc;
	pid_t pid = -1;
	int port = 0;

	(void)state;
	if (!nginx_bin[0] || access(nginx_bin, X_OK) < 0)
		fail_msg("nginx is not installed: run scripts/setup.sh");
	files_make(&f);
	const char *margs[] = { "--ttft-ms", "20", "--itl-ms", "2", NULL };
	assert_int_equal(mock_start(&m, mock_bin, margs), 0);
	snprintf(conf, sizeof(conf), "%s/nginx.conf", f.dir);
	snprintf(log, sizeof(log), "%s/nginx.out", f.dir);
	/* A free port can be taken between our probe and nginx's bind: retry. */
	for (int i = 0; i < 5 && pid < 0; i++) {
		port = free_port();
		write_nginx_conf(conf, f.dir, port, m.port);
		pid = nginx_start(conf, f.dir, port, log);
	}
	if (pid < 0) {
		doc = slurp(log);
		fail_msg("nginx did not start: %s", doc ? doc : "");
	}
	snprintf(url, sizeof(url), "https://localhost:%d", port);
	const char *argv[] = { brood_bin, "run",    "-H",   url,  "--cacert", certs.ca,
			       "-u",	  "8",	    "-n",   "64", "-o",	      "20",
			       "--chat",  "--json", f.json, "-q", NULL };
	int rc = run_cmd(argv, f.out, f.err, 60);

	nginx_stop(pid);
	assert_int_equal(mock_stop(&m), 0);
	if (rc != 0) {
		doc = slurp(f.err);
		fail_msg("brood exited %d: %s", rc, doc ? doc : "");
	}
	doc = slurp(f.json);
	assert_non_null(doc);
	assert_int_equal(num2(doc, "summary", "requests_ok"), 64);
	assert_int_equal(num2(doc, "summary", "requests_failed"), 0);
	/* Keep-alive through nginx: one handshake per user. */
	assert_int_equal(num2(doc, "tls", "handshakes"), 8);
	/* Streaming passes through unbuffered: ITL is per token, not per response. */
	assert_int_equal(num3(doc, "summary", "itl_ms", "count"), 64 * 19);
	assert_int_equal(num2(doc, "output_total", NULL), 64 * 20);
	free(doc);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(certs_dir, sizeof(certs_dir), "/tmp/brood-certs-XXXXXX");
	if (!mkdtemp(certs_dir) || certs_make(&certs, certs_dir) < 0) {
		fprintf(stderr, "cannot make test certificates in %s\n", certs_dir);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certs_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_mock_https, mocks_reap),
		cmocka_unit_test_teardown(test_resumption, mocks_reap),
		cmocka_unit_test_teardown(test_wrong_ca, mocks_reap),
		cmocka_unit_test(test_tls_faults),
		cmocka_unit_test_teardown(test_nginx_proxy, mocks_reap),
	};

	if (argc != 4) {
		fprintf(stderr, "usage: %s BROOD-MOCK BROOD NGINX\n", argv[0]);
		return 2;
	}
	mock_bin = argv[1];
	brood_bin = argv[2];
	nginx_bin = argv[3];
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
