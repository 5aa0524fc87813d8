/* SPDX-License-Identifier: MIT */
/*
 * tls/ with two in-memory peers: a client and a server tls_conn whose
 * ciphertext is carried by the test, no sockets. Handshakes whole and byte
 * by byte, both versions, resumption, a peer closing mid-record, corrupted
 * records, and certificates that must not verify.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "certs.h"
#include "tls.h"

static struct certs certs;

struct pair {
	struct tls_ctx *cctx, *sctx;
	struct tls_conn c, s;
};

/* Moves pending ciphertext from a to b, step bytes at a time (0: all at
 * once); after each piece, b's handshake (until done or failed) advances and
 * its result goes to *b_rc. Returns the bytes moved. */
static size_t pump(struct tls_conn *a, struct tls_conn *b, size_t step, int *b_rc)
{
	static char buf[65536];
	size_t moved = 0, n;

	while ((n = tls_take(a, buf, step ? step : sizeof(buf))) > 0) {
		assert_int_equal(tls_feed(b, buf, n), 0);
		moved += n;
		if (b_rc && !b->established && *b_rc == -EAGAIN)
			*b_rc = tls_handshake(b);
	}
	return moved;
}

static void ctxs(struct pair *p, int version, const char *ca, bool insecure)
{
	struct tls_ctx_opts co = { .ca_file = ca, .insecure = insecure, .version = version };
	struct tls_ctx_opts so = { .cert_file = certs.cert,
				   .key_file = certs.key,
				   .version = version };
	char err[256];

	memset(p, 0, sizeof(*p));
	assert_int_equal(tls_ctx_client(&p->cctx, &co, err, sizeof(err)), 0);
	assert_int_equal(tls_ctx_server(&p->sctx, &so, err, sizeof(err)), 0);
	tls_conn_init(&p->c, p->cctx);
	tls_conn_init(&p->s, p->sctx);
}

static void pair_close(struct pair *p)
{
	tls_conn_close(&p->c);
	tls_conn_close(&p->s);
	tls_ctx_free(p->cctx);
	tls_ctx_free(p->sctx);
}

/* Runs a handshake, the flights carried step bytes at a time; returns the
 * client's final result. */
static int handshake(struct pair *p, const char *host, size_t step)
{
	int crc, src = -EAGAIN;

	assert_int_equal(tls_conn_start(&p->c, host), 0);
	assert_int_equal(tls_conn_start(&p->s, NULL), 0);
	crc = tls_handshake(&p->c);
	for (int i = 0; i < 100000 && crc != -EPROTO; i++) {
		size_t moved = pump(&p->c, &p->s, step, &src);

		moved += pump(&p->s, &p->c, step, &crc);
		if (!moved)
			break;
	}
	if (crc == 0)
		assert_int_equal(src, 0);
	return crc;
}

/* Server -> client: len bytes, read back whole. Also lets the client take
 * whatever else the server sent (TLS 1.3 tickets). */
static void transfer(struct pair *p, struct tls_conn *from, struct tls_conn *to, size_t len,
		     size_t step)
{
	static char in[70000], out[70000];
	size_t got = 0;

	for (size_t i = 0; i < len; i++)
		in[i] = (char)(i * 31 + 7);
	assert_int_equal(tls_write(from, in, len), (ssize_t)len);
	(void)p;
	pump(from, to, step, NULL);
	for (;;) {
		ssize_t n = tls_read(to, out + got, sizeof(out) - got);
		if (n == -EAGAIN)
			break;
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_int_equal(got, len);
	assert_memory_equal(in, out, len);
}

static void test_handshake_versions(void **state)
{
	(void)state;
	for (int v = 12; v <= 13; v++) {
		struct pair p;

		ctxs(&p, v, certs.ca, false);
		assert_int_equal(handshake(&p, "127.0.0.1", 0), 0);
		assert_true(p.s.established);
		assert_string_equal(tls_version(&p.c), v == 12 ? "TLSv1.2" : "TLSv1.3");
		assert_false(tls_resumed(&p.c));
		transfer(&p, &p.c, &p.s, 300, 0);
		transfer(&p, &p.s, &p.c, 1000, 0);
		/* More than one record each way. */
		transfer(&p, &p.s, &p.c, 3 * TLS_RECORD_MAX + 5, 0);
		transfer(&p, &p.c, &p.s, 2 * TLS_RECORD_MAX + 1, 0);
		pair_close(&p);
	}
}

static void test_handshake_byte_by_byte(void **state)
{
	(void)state;
	for (int v = 12; v <= 13; v++) {
		struct pair p;

		ctxs(&p, v, certs.ca, false);
		/* "localhost": SNI and a DNS-name check this time. */
		assert_int_equal(handshake(&p, "localhost", 1), 0);
		transfer(&p, &p.s, &p.c, 5000, 1);
		transfer(&p, &p.c, &p.s, 700, 1);
		pair_close(&p);
	}
}

static void test_resumption(void **state)
{
	(void)state;
	for (int v = 12; v <= 13; v++) {
		struct pair p;

		ctxs(&p, v, certs.ca, false);
		assert_int_equal(handshake(&p, "127.0.0.1", 0), 0);
		assert_false(tls_resumed(&p.c));
		/* A response: TLS 1.3 tickets come with it, after the handshake. */
		transfer(&p, &p.s, &p.c, 100, 0);
		assert_non_null(p.c.session);
		tls_conn_end(&p.c, true);
		tls_conn_end(&p.s, true);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(handshake(&p, "127.0.0.1", 0), 0);
			assert_true(tls_resumed(&p.c));
			transfer(&p, &p.s, &p.c, 100, 0);
			tls_conn_end(&p.c, true);
			tls_conn_end(&p.s, true);
		}
		/* A connection that ended out of step is not resumed. */
		assert_int_equal(handshake(&p, "127.0.0.1", 0), 0);
		transfer(&p, &p.s, &p.c, 100, 0);
		tls_conn_end(&p.c, false);
		tls_conn_end(&p.s, false);
		assert_null(p.c.session);
		assert_int_equal(handshake(&p, "127.0.0.1", 0), 0);
		assert_false(tls_resumed(&p.c));
		pair_close(&p);
	}
}

/* A server that issues no tickets: every handshake is a full one. */
static void test_no_tickets(void **state)
{
	(void)state;
	for (int v = 12; v <= 13; v++) {
		struct tls_ctx_opts co = { .ca_file = certs.ca, .version = v };
		struct tls_ctx_opts so = { .cert_file = certs.cert,
					   .key_file = certs.key,
					   .version = v,
					   .no_tickets = true };
		struct pair p;
		char err[256];

		memset(&p, 0, sizeof(p));
		assert_int_equal(tls_ctx_client(&p.cctx, &co, err, sizeof(err)), 0);
		assert_int_equal(tls_ctx_server(&p.sctx, &so, err, sizeof(err)), 0);
		tls_conn_init(&p.c, p.cctx);
		tls_conn_init(&p.s, p.sctx);
		for (int i = 0; i < 2; i++) {
			assert_int_equal(handshake(&p, "127.0.0.1", 0), 0);
			transfer(&p, &p.s, &p.c, 100, 0);
			assert_false(tls_resumed(&p.c));
			tls_conn_end(&p.c, true);
			tls_conn_end(&p.s, true);
		}
		pair_close(&p);
	}
}

static void test_close_mid_record(void **state)
{
	struct pair p;
	char buf[4096], junk[64];
	size_t n;

	(void)state;
	ctxs(&p, 13, certs.ca, false);
	assert_int_equal(handshake(&p, "127.0.0.1", 0), 0);
	transfer(&p, &p.s, &p.c, 10, 0);
	/* A record cut short, then the end of the stream. */
	assert_int_equal(tls_write(&p.s, "hello world", 11), 11);
	n = tls_take(&p.s, buf, sizeof(buf));
	assert_true(n > 11);
	assert_int_equal(tls_feed(&p.c, buf, n - 3), 0);
	assert_int_equal(tls_read(&p.c, junk, sizeof(junk)), -EAGAIN);
	assert_int_equal(tls_feed_eof(&p.c), -EPROTO);
	assert_non_null(strstr(tls_reason(&p.c), "unexpected eof"));
	pair_close(&p);

	/* An end of stream between records is a clean close. */
	ctxs(&p, 13, certs.ca, false);
	assert_int_equal(handshake(&p, "127.0.0.1", 0), 0);
	transfer(&p, &p.s, &p.c, 10, 0);
	assert_int_equal(tls_feed_eof(&p.c), 0);
	pair_close(&p);

	/* The server closing during the handshake is an error too. */
	ctxs(&p, 13, certs.ca, false);
	assert_int_equal(tls_conn_start(&p.c, "127.0.0.1"), 0);
	assert_int_equal(tls_handshake(&p.c), -EAGAIN);
	assert_true(tls_pending(&p.c) > 0);
	assert_int_equal(tls_feed_eof(&p.c), -EPROTO);
	assert_true(tls_reason(&p.c)[0] != '\0');
	pair_close(&p);
}

static void test_corrupt_record(void **state)
{
	struct pair p;
	char buf[4096], out[64];
	size_t n;

	(void)state;
	ctxs(&p, 13, certs.ca, false);
	assert_int_equal(handshake(&p, "127.0.0.1", 0), 0);
	transfer(&p, &p.s, &p.c, 10, 0);
	assert_int_equal(tls_write(&p.s, "hello world", 11), 11);
	n = tls_take(&p.s, buf, sizeof(buf));
	buf[n - 1] ^= 1; /* the AEAD tag */
	assert_int_equal(tls_feed(&p.c, buf, n), 0);
	assert_int_equal(tls_read(&p.c, out, sizeof(out)), -EPROTO);
	assert_non_null(strstr(tls_reason(&p.c), "bad record mac"));
	pair_close(&p);
}

static void test_bad_certificates(void **state)
{
	struct pair p;

	(void)state;
	/* Signed by a CA we were not told to trust. */
	ctxs(&p, 0, certs.other_ca, false);
	assert_int_equal(handshake(&p, "127.0.0.1", 0), -EPROTO);
	assert_string_equal(tls_reason(&p.c),
			    "certificate verify failed: unable to get local issuer certificate");
	pair_close(&p);

	/* The right CA, the wrong name. */
	ctxs(&p, 0, certs.ca, false);
	assert_int_equal(handshake(&p, "example.com", 0), -EPROTO);
	assert_string_equal(tls_reason(&p.c), "certificate verify failed: hostname mismatch");
	pair_close(&p);

	ctxs(&p, 0, certs.ca, false);
	assert_int_equal(handshake(&p, "127.0.0.2", 0), -EPROTO);
	assert_string_equal(tls_reason(&p.c), "certificate verify failed: IP address mismatch");
	pair_close(&p);

	/* --insecure: no verification at all. */
	ctxs(&p, 0, certs.other_ca, true);
	assert_int_equal(handshake(&p, "example.com", 0), 0);
	transfer(&p, &p.s, &p.c, 100, 0);
	pair_close(&p);
}

static void test_ctx_errors(void **state)
{
	struct tls_ctx_opts o = { .ca_file = "/nonexistent/ca.pem" };
	struct tls_ctx *ctx;
	char err[256];

	(void)state;
	assert_int_equal(tls_ctx_client(&ctx, &o, err, sizeof(err)), -EINVAL);
	assert_null(ctx);
	assert_non_null(strstr(err, "/nonexistent/ca.pem"));

	o = (struct tls_ctx_opts){ .cert_file = certs.ca, .key_file = certs.key };
	assert_int_equal(tls_ctx_server(&ctx, &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, certs.key));
	assert_non_null(strstr(err, "mismatch"));

	o = (struct tls_ctx_opts){ .version = 11 };
	assert_int_equal(tls_ctx_client(&ctx, &o, err, sizeof(err)), -EINVAL);

	/* The system store loads (an empty one is still a store). */
	o = (struct tls_ctx_opts){ 0 };
	assert_int_equal(tls_ctx_client(&ctx, &o, err, sizeof(err)), 0);
	tls_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_versions),
		cmocka_unit_test(test_handshake_byte_by_byte),
		cmocka_unit_test(test_resumption),
		cmocka_unit_test(test_no_tickets),
		cmocka_unit_test(test_close_mid_record),
		cmocka_unit_test(test_corrupt_record),
		cmocka_unit_test(test_bad_certificates),
		cmocka_unit_test(test_ctx_errors),
	};
	char dir[] = "/tmp/brood-tls-XXXXXX";
	char cmd[300];
	int ret;

	if (!mkdtemp(dir) || certs_make(&certs, dir) < 0) {
		fprintf(stderr, "cannot make test certificates in %s (is openssl installed?)\n",
			dir);
		return 1;
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return ret;
}
