/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

struct tls_ctx {
	SSL_CTX *ssl_ctx;
	bool server;
};

static const unsigned char alpn_http11[] = "\x08http/1.1";

/* OpenSSL's reason for the newest error on this thread's queue, which it
 * then empties (the queue must be empty before the next call on any SSL). */
static void reason_from_queue(char *out, size_t len, const char *fallback)
{
	unsigned long code = ERR_peek_last_error();
	const char *r = code ? ERR_reason_error_string(code) : NULL;

	if (r)
		snprintf(out, len, "%s", r);
	else if (code)
		ERR_error_string_n(code, out, len);
	else
		snprintf(out, len, "%s", fallback);
	ERR_clear_error();
}

static int ctx_fail(SSL_CTX *c, char *err, size_t err_len, const char *what, const char *file)
{
	char why[TLS_REASON_MAX];

	reason_from_queue(why, sizeof(why), "unknown error");
	snprintf(err, err_len, "%s%s%s: %s", what, file ? " " : "", file ? file : "", why);
	SSL_CTX_free(c);
	return -EINVAL;
}

static int set_versions(SSL_CTX *c, int version)
{
	int lo = TLS1_2_VERSION, hi = TLS1_3_VERSION;

	if (version == 12)
		hi = TLS1_2_VERSION;
	else if (version == 13)
		lo = TLS1_3_VERSION;
	else if (version)
		return -EINVAL;
	return SSL_CTX_set_min_proto_version(c, lo) && SSL_CTX_set_max_proto_version(c, hi)
		   ? 0
		   : -EINVAL;
}

/* A new session from the server (end of a TLS 1.2 handshake, or a TLS 1.3
 * ticket at any time after it): the connection keeps the newest. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_conn *t = SSL_get_app_data(ssl);

	if (!t || !SSL_SESSION_is_resumable(sess))
		return 0;
	SSL_SESSION_free(t->session);
	t->session = sess;
	return 1; /* we keep the reference */
}

/* A context of either side with what both want; NULL (err set) on failure. */
static SSL_CTX *ctx_new(const SSL_METHOD *method, int version, char *err, size_t err_len)
{
	SSL_CTX *c = SSL_CTX_new(method);

	if (!c) {
		ctx_fail(NULL, err, err_len, "cannot make a TLS context", NULL);
		return NULL;
	}
	if (set_versions(c, version) < 0) {
		ctx_fail(c, err, err_len, "cannot set the TLS versions", NULL);
		return NULL;
	}
	/* Renegotiation would write records at times the ring does not expect. */
	SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	/* Pull every buffered record at once: fewer BIO reads per recv. */
	SSL_CTX_set_read_ahead(c, 1);
	return c;
}

/* *out = a tls_ctx owning c (freed on failure). */
static int ctx_wrap(SSL_CTX *c, bool server, struct tls_ctx **out, char *err, size_t err_len)
{
	struct tls_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx) {
		SSL_CTX_free(c);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	ctx->ssl_ctx = c;
	ctx->server = server;
	*out = ctx;
	return 0;
}

int tls_ctx_client(struct tls_ctx **out, const struct tls_ctx_opts *o, char *err, size_t err_len)
{
	SSL_CTX *c;

	*out = NULL;
	c = ctx_new(TLS_client_method(), o->version, err, err_len);
	if (!c)
		return -EINVAL;
	if (SSL_CTX_set_alpn_protos(c, alpn_http11, sizeof(alpn_http11) - 1) != 0)
		return ctx_fail(c, err, err_len, "cannot set ALPN", NULL);
	if (o->insecure) {
		SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
		if (o->ca_file) {
			if (!SSL_CTX_load_verify_file(c, o->ca_file))
				return ctx_fail(c, err, err_len, "cannot load CA certificates from",
						o->ca_file);
		} else if (!SSL_CTX_set_default_verify_paths(c)) {
			return ctx_fail(c, err, err_len,
					"cannot load the system CA store (give --cacert FILE)",
					NULL);
		}
	}
	/* Sessions go to their connection (on_new_session), not to a cache
	 * shared by the shards: no lock between threads. */
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(c, on_new_session);
	return ctx_wrap(c, false, out, err, err_len);
}

static int select_alpn(SSL *ssl, const unsigned char **sel, unsigned char *sel_len,
		       const unsigned char *in, unsigned in_len, void *arg)
{
	unsigned char *o;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&o, sel_len, alpn_http11, sizeof(alpn_http11) - 1, in, in_len) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*sel = o;
	return SSL_TLSEXT_ERR_OK;
}

int tls_ctx_server(struct tls_ctx **out, const struct tls_ctx_opts *o, char *err, size_t err_len)
{
	SSL_CTX *c;

	*out = NULL;
	c = ctx_new(TLS_server_method(), o->version, err, err_len);
	if (!c)
		return -EINVAL;
	if (!o->cert_file || SSL_CTX_use_certificate_chain_file(c, o->cert_file) != 1)
		return ctx_fail(c, err, err_len, "cannot load the certificate",
				o->cert_file ? o->cert_file : "(none given)");
	if (!o->key_file || SSL_CTX_use_PrivateKey_file(c, o->key_file, SSL_FILETYPE_PEM) != 1)
		return ctx_fail(c, err, err_len, "cannot load the private key",
				o->key_file ? o->key_file : "(none given)");
	if (SSL_CTX_check_private_key(c) != 1)
		return ctx_fail(c, err, err_len, "the key does not match the certificate",
				o->key_file);
	SSL_CTX_set_alpn_select_cb(c, select_alpn, NULL);
	/* Stateless tickets (both versions) resume without a server cache, and
	 * a ticket key shared by every thread of the context. One ticket per
	 * handshake: the client keeps one. */
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(c, o->no_tickets ? 0 : 1);
	if (o->no_tickets)
		SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
	return ctx_wrap(c, true, out, err, err_len);
}

void tls_ctx_free(struct tls_ctx *ctx)
{
	if (!ctx)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx);
}

void tls_conn_init(struct tls_conn *t, struct tls_ctx *ctx)
{
	memset(t, 0, sizeof(*t));
	t->ctx = ctx;
}

static bool is_ip_literal(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

int tls_conn_start(struct tls_conn *t, const char *host)
{
	SSL *ssl;

	tls_conn_end(t, true);
	t->reason[0] = '\0';
	t->established = false;
	ssl = SSL_new(t->ctx->ssl_ctx);
	if (!ssl)
		goto nomem;
	t->in = BIO_new(BIO_s_mem());
	t->out = BIO_new(BIO_s_mem());
	if (!t->in || !t->out) {
		BIO_free(t->in);
		BIO_free(t->out);
		SSL_free(ssl);
		goto nomem;
	}
	/* An empty input BIO means "later", not end of stream. */
	BIO_set_mem_eof_return(t->in, -1);
	SSL_set_bio(ssl, t->in, t->out);
	SSL_set_app_data(ssl, t);
	t->ssl = ssl;
	if (t->ctx->server) {
		SSL_set_accept_state(ssl);
		return 0;
	}
	SSL_set_connect_state(ssl);
	if (host && host[0]) {
		if (is_ip_literal(host)) {
			/* RFC 6066: no SNI for addresses; verify the IP SAN. */
			if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host))
				goto nomem_ssl;
		} else {
			if (!SSL_set_tlsext_host_name(ssl, host) || !SSL_set1_host(ssl, host))
				goto nomem_ssl;
			SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		}
	}
	if (t->session && !SSL_set_session(ssl, t->session))
		goto nomem_ssl;
	return 0;
nomem_ssl:
	tls_conn_end(t, false);
nomem:
	ERR_clear_error();
	snprintf(t->reason, sizeof(t->reason), "out of memory");
	return -ENOMEM;
}

void tls_conn_end(struct tls_conn *t, bool clean)
{
	if (!t->ssl)
		return;
	if (clean && t->established) {
		/* SSL_free marks the session of a connection that was not shut
		 * down as not resumable; this one ended in step. */
		SSL_set_shutdown(t->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	} else if (t->session) {
		SSL_SESSION_free(t->session);
		t->session = NULL;
	}
	SSL_free(t->ssl); /* frees the BIOs */
	t->ssl = NULL;
	t->in = t->out = NULL;
	t->established = false;
}

void tls_conn_close(struct tls_conn *t)
{
	tls_conn_end(t, false);
	SSL_SESSION_free(t->session);
	t->session = NULL;
}

int tls_feed(struct tls_conn *t, const void *p, size_t len)
{
	if (!len)
		return 0;
	if (!t->ssl || BIO_write(t->in, p, (int)len) != (int)len) {
		ERR_clear_error();
		snprintf(t->reason, sizeof(t->reason), "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* Records why an SSL call that returned ret failed; returns -EAGAIN when
 * it only wants more input, else -EPROTO. */
static int fail(struct tls_conn *t, int ret)
{
	int e = SSL_get_error(t->ssl, ret);
	unsigned long code;

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -EAGAIN;
	code = ERR_peek_last_error();
	if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
	    ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
	    SSL_get_verify_result(t->ssl) != X509_V_OK) {
		snprintf(t->reason, sizeof(t->reason), "certificate verify failed: %s",
			 X509_verify_cert_error_string(SSL_get_verify_result(t->ssl)));
		ERR_clear_error();
		return -EPROTO;
	}
	reason_from_queue(t->reason, sizeof(t->reason),
			  e == SSL_ERROR_SYSCALL ? "unexpected eof while reading" : "TLS error");
	return -EPROTO;
}

int tls_feed_eof(struct tls_conn *t)
{
	bool partial;
	char byte;
	int ret;

	if (!t->ssl)
		return 0;
	partial = BIO_ctrl_pending(t->in) > 0 || SSL_has_pending(t->ssl);
	BIO_set_mem_eof_return(t->in, 0);
	if (t->established && !partial)
		return 0;
	/* Let OpenSSL meet the end of stream, for its own words. */
	ret = t->established ? SSL_read(t->ssl, &byte, 1) : SSL_do_handshake(t->ssl);
	ret = fail(t, ret);
	if (ret == -EAGAIN) {
		snprintf(t->reason, sizeof(t->reason), "unexpected eof while reading");
		ret = -EPROTO;
	}
	return ret;
}

int tls_handshake(struct tls_conn *t)
{
	int ret;

	if (t->established)
		return 0;
	ret = SSL_do_handshake(t->ssl);
	if (ret == 1) {
		t->established = true;
		return 0;
	}
	return fail(t, ret);
}

ssize_t tls_read(struct tls_conn *t, void *buf, size_t cap)
{
	int n;

	/* Nothing buffered: skip the SSL_read that would only say so (it
	 * costs a record-layer pass and an error-queue lookup per recv). */
	if (!BIO_ctrl_pending(t->in) && !SSL_has_pending(t->ssl))
		return -EAGAIN;
	n = SSL_read(t->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);

	if (n > 0)
		return n;
	if (SSL_get_error(t->ssl, n) == SSL_ERROR_ZERO_RETURN)
		return 0;
	return fail(t, n);
}

ssize_t tls_write(struct tls_conn *t, const void *p, size_t len)
{
	int n;

	if (!len)
		return 0;
	/* The output BIO grows: OpenSSL takes every byte or fails. */
	n = SSL_write(t->ssl, p, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0)
		return n;
	n = fail(t, n);
	return n == -EAGAIN ? -EPROTO : n;
}

size_t tls_pending(const struct tls_conn *t)
{
	return t->out ? BIO_ctrl_pending(t->out) : 0;
}

size_t tls_take(struct tls_conn *t, void *buf, size_t cap)
{
	int n;

	if (!t->out || !cap)
		return 0;
	n = BIO_read(t->out, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
	return n > 0 ? (size_t)n : 0;
}

bool tls_resumed(const struct tls_conn *t)
{
	return t->ssl && SSL_session_reused(t->ssl);
}

const char *tls_version(const struct tls_conn *t)
{
	return t->ssl ? SSL_get_version(t->ssl) : "";
}

const char *tls_reason(const struct tls_conn *t)
{
	return t->reason;
}
