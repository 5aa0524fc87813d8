/* SPDX-License-Identifier: MIT */
/*
 * TLS over memory BIOs: OpenSSL never touches a socket. The caller moves
 * ciphertext in (tls_feed) and out (tls_pending, tls_take) with whatever I/O
 * it owns (an io_uring ring with direct descriptors, a blocking socket, or
 * another tls_conn in a test), so a handshake never blocks a thread: "need
 * more I/O" is the normal result -EAGAIN, as nginx's AGAIN.
 *
 * Two objects: a tls_ctx per run and role (an SSL_CTX; thread-safe once
 * made, shared by every shard), and a tls_conn per connection slot, made
 * once at setup and reused for every connection the slot carries. OpenSSL
 * allocates its SSL object on tls_conn_start (a handshake allocates anyway);
 * between handshakes, moving data allocates nothing of ours, and the memory
 * BIOs keep the capacity they grew to.
 *
 * A client tls_conn keeps the last session the server gave it (TLS 1.2 at
 * the end of the handshake, TLS 1.3 tickets whenever they arrive after it)
 * and offers it on the next tls_conn_start, so reconnects resume.
 *
 * Every call on a tls_conn comes from one thread at a time. Errors never
 * abort: calls return -EPROTO and tls_reason says why, in OpenSSL's words
 * (the X.509 verify result for certificates, else the error's reason).
 */
#ifndef BROOD_TLS_TLS_H
#define BROOD_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TLS_REASON_MAX 160   /* bytes of tls_reason, with the NUL */
#define TLS_RECORD_MAX 16384 /* plaintext bytes of one record */

struct tls_ctx;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;
typedef struct ssl_session_st SSL_SESSION;

struct tls_ctx_opts {
	const char *ca_file;   /* client: PEM CA bundle; NULL = the system store */
	bool insecure;	       /* client: no certificate or name verification */
	int version;	       /* 0: TLS 1.2 or 1.3; 12 or 13: only that one */
	const char *cert_file; /* server: PEM certificate chain */
	const char *key_file;  /* server: PEM private key */
	bool no_tickets;       /* server: issue no session tickets, so nobody resumes */
};

/*
 * Makes the client context: verification on unless insecure, against
 * ca_file or the system store; TLS 1.2 and 1.3; ALPN http/1.1; client
 * session cache feeding each tls_conn's resumption. Returns 0, or -EINVAL
 * / -ENOMEM with one line in err (naming the file and OpenSSL's reason).
 */
int tls_ctx_client(struct tls_ctx **out, const struct tls_ctx_opts *o, char *err, size_t err_len);

/* Makes the server context from cert_file and key_file (ALPN: http/1.1 when
 * offered; tickets on, so clients resume). Returns 0 or -EINVAL/-ENOMEM. */
int tls_ctx_server(struct tls_ctx **out, const struct tls_ctx_opts *o, char *err, size_t err_len);

/* Frees ctx (NULL is fine) once no tls_conn of it is started. */
void tls_ctx_free(struct tls_ctx *ctx);

struct tls_conn {
	struct tls_ctx *ctx;
	SSL *ssl;	      /* NULL between connections */
	BIO *in;	      /* ciphertext received, not yet read by OpenSSL; owned by ssl */
	BIO *out;	      /* ciphertext OpenSSL wrote, not yet taken; owned by ssl */
	SSL_SESSION *session; /* client: the newest session to offer; owned */
	bool established;     /* handshake finished */
	char reason[TLS_REASON_MAX]; /* why the last call failed */
};

/* Readies t for ctx; allocates nothing. */
void tls_conn_init(struct tls_conn *t, struct tls_ctx *ctx);

/*
 * Starts a connection: a client offers the kept session and, when host is
 * a name, sends it as SNI; verification checks host (a name or an IP
 * literal) unless the context is insecure. A server waits for a hello.
 * host may be NULL for a server. Returns 0 or -ENOMEM. The client's first
 * flight is made by the first tls_handshake.
 */
int tls_conn_start(struct tls_conn *t, const char *host);

/*
 * Ends the connection (no close_notify is sent: the caller closes the
 * socket). clean: it ended in step (a complete response, or the peer's
 * close between responses), so its session may be resumed; otherwise the
 * kept session is dropped. Safe on a tls_conn that is not started.
 */
void tls_conn_end(struct tls_conn *t, bool clean);

/* Ends t and frees its kept session. */
void tls_conn_close(struct tls_conn *t);

/* Hands len bytes of received ciphertext to OpenSSL. Returns 0 or -ENOMEM. */
int tls_feed(struct tls_conn *t, const void *p, size_t len);

/*
 * The peer closed its side. Returns 0 when nothing of a record was pending
 * (a close between records), or -EPROTO when the peer stopped mid-record
 * (tls_reason: OpenSSL's "unexpected eof while reading").
 */
int tls_feed_eof(struct tls_conn *t);

/*
 * Advances the handshake with what was fed. Returns 0 once it is done (then
 * every call returns 0), -EAGAIN when it needs more ciphertext from the peer
 * (send tls_pending bytes first), or -EPROTO (tls_reason says why).
 */
int tls_handshake(struct tls_conn *t);

/*
 * Decrypts into buf (cap bytes). Returns bytes of plaintext (> 0), -EAGAIN
 * when no whole record is buffered, 0 when the peer sent close_notify, or
 * -EPROTO. Records that carry no data (TLS 1.3 tickets) are handled inside.
 */
ssize_t tls_read(struct tls_conn *t, void *buf, size_t cap);

/* Encrypts len bytes (all of them, or -EPROTO) into the pending ciphertext. */
ssize_t tls_write(struct tls_conn *t, const void *p, size_t len);

/* Ciphertext bytes waiting to be sent. */
size_t tls_pending(const struct tls_conn *t);

/* Moves up to cap pending ciphertext bytes into buf; returns how many. */
size_t tls_take(struct tls_conn *t, void *buf, size_t cap);

/* The finished handshake resumed a session. */
bool tls_resumed(const struct tls_conn *t);

/* "TLSv1.3", "TLSv1.2", or "" before a connection. */
const char *tls_version(const struct tls_conn *t);

/* Why the last failing call failed; "" when none did. */
const char *tls_reason(const struct tls_conn *t);

#endif
