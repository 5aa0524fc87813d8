/* SPDX-License-Identifier: MIT */
/*
 * The TLS side of a shard's connections (https targets). OpenSSL works on
 * memory BIOs (tls/), so the ring keeps doing every socket operation on
 * direct descriptors: received ciphertext is fed from the provided buffers,
 * and ciphertext to send is moved into the connection's own send buffer,
 * which the kernel owns until the send's CQE. shard.c drives the states
 * (handshake after connect, request after handshake, plaintext into the
 * HTTP parser); this file holds the buffers and the steps.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "json.h"
#include "tls.h"

#define TLS_OUT_SLACK 1024 /* send buffer room beyond a request: record overhead, a hello */

int stls_setup(struct shard *s)
{
	const struct engine_config *cfg = s->cfg;
	size_t max_req = 0;
	bool any = false;

	for (unsigned i = 0; i < cfg->nr_targets; i++) {
		if (!cfg->targets[i].tls)
			continue;
		any = true;
		if (cfg->targets[i].request_len > max_req)
			max_req = cfg->targets[i].request_len;
	}
	if (!any)
		return 0;
	if (!cfg->tls_ctx) {
		snprintf(s->err, sizeof(s->err), "https target without a TLS context");
		return -EINVAL;
	}
	/* A request goes out in pieces of at most a record; the buffer holds
	 * one piece's ciphertext, or a handshake flight (the rest waits in the
	 * BIO for the next send). */
	s->tls_out_cap =
	    (uint32_t)(max_req < TLS_RECORD_MAX ? max_req : TLS_RECORD_MAX) + TLS_OUT_SLACK;
	s->tls_conns = calloc(s->nr_conns, sizeof(*s->tls_conns));
	s->tls_out_area = malloc((size_t)s->nr_conns * s->tls_out_cap);
	s->tls_plain = malloc(TLS_RECORD_MAX + JSON_PADDING);
	if (!s->tls_conns || !s->tls_out_area || !s->tls_plain)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->nr_conns; i++) {
		struct conn *c = &s->conns[i];

		if (!cfg->targets[c->target].tls)
			continue;
		c->tls = &s->tls_conns[i];
		c->tls_out = s->tls_out_area + (size_t)i * s->tls_out_cap;
		tls_conn_init(c->tls, cfg->tls_ctx);
	}
	return 0;
}

void stls_close(struct shard *s)
{
	if (s->tls_conns) {
		for (uint32_t i = 0; i < s->nr_conns; i++)
			if (s->tls_conns[i].ctx)
				tls_conn_close(&s->tls_conns[i]);
	}
	free(s->tls_conns);
	free(s->tls_out_area);
	free(s->tls_plain);
	s->tls_conns = NULL;
	s->tls_out_area = NULL;
	s->tls_plain = NULL;
}

/* TCP is connected: a new TLS connection (offering the slot's last
 * session) makes its first flight. Returns 0 or -EPROTO/-ENOMEM. */
int stls_start(struct shard *s, struct conn *c)
{
	int ret;

	c->tls_out_len = c->tls_out_sent = 0;
	c->t_connected_ns = s->now_ns;
	ret = tls_conn_start(c->tls, s->cfg->targets[c->target].host);
	if (ret < 0)
		return ret;
	ret = tls_handshake(c->tls);
	return ret == -EAGAIN ? 0 : (ret < 0 ? ret : -EPROTO);
}

/* Advances the handshake with what was fed. Returns 0 when it just
 * finished (timed and counted), -EAGAIN or -EPROTO. */
int stls_handshake(struct shard *s, struct conn *c)
{
	int ret = tls_handshake(c->tls);

	if (ret < 0)
		return ret;
	hist_record(&s->h.tls_handshake, s->now_ns - c->t_connected_ns);
	CTR_ADD(s, tls_handshakes, 1);
	if (tls_resumed(c->tls))
		CTR_ADD(s, tls_resumed, 1);
	return 0;
}

/*
 * Fills the send buffer, unless part of it is still unsent: ciphertext
 * OpenSSL has waiting (a handshake flight), else, once the handshake is
 * done, the next piece of the request, encrypted. Returns the bytes of
 * tls_out to send from tls_out_sent on (0: nothing), or -EPROTO.
 */
ssize_t stls_fill(struct shard *s, struct conn *c)
{
	const struct engine_target *t = &s->cfg->targets[c->target];

	if (c->tls_out_sent < c->tls_out_len)
		return c->tls_out_len - c->tls_out_sent;
	c->tls_out_len = c->tls_out_sent = 0;
	if (c->tls->established && c->sent < t->request_len &&
	    tls_pending(c->tls) < s->tls_out_cap) {
		const char *p;
		size_t left;
		ssize_t n;

		/* The shared bytes, or this request's own max_tokens digits. */
		conn_request_piece(t, c, &p, &left);
		n = tls_write(c->tls, p, left < TLS_RECORD_MAX ? left : TLS_RECORD_MAX);

		if (n < 0)
			return n;
		c->sent += (uint32_t)n;
	}
	c->tls_out_len = (uint32_t)tls_take(c->tls, c->tls_out, s->tls_out_cap);
	return c->tls_out_len;
}

/* The socket is being closed; clean: the connection ended in step, so its
 * session may be resumed on the next. */
void stls_end(struct conn *c, bool clean)
{
	tls_conn_end(c->tls, clean);
	c->tls_out_len = c->tls_out_sent = 0;
}
