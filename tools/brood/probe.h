/* SPDX-License-Identifier: MIT */
/*
 * Checks made before any load is sent, with plain blocking sockets: resolve
 * each target, connect to it once, and ask /v1/models which model it
 * serves. Each failure is one line in err that names the target and a fix.
 */
#ifndef BROOD_TOOLS_PROBE_H
#define BROOD_TOOLS_PROBE_H

#include <stddef.h>
#include <sys/socket.h>

#include "opts.h"

/* Resolves u's host and port. Returns 0 or -EINVAL (err says why). */
int probe_resolve(const struct url *u, struct sockaddr_storage *addr, socklen_t *addr_len,
		  char *err, size_t err_len);

/* Connects once within timeout_ms and closes. Returns 0 or -errno. */
int probe_connect(const struct url *u, const struct sockaddr_storage *addr, socklen_t addr_len,
		  int timeout_ms, char *err, size_t err_len);

struct tls_ctx;

/* Connects and completes a TLS handshake (verifying the certificate as tls
 * says) within timeout_ms, then closes. Returns 0 or -errno/-EPROTO; err
 * names the target and OpenSSL's reason, with the flag that helps. */
int probe_tls(const struct url *u, const struct sockaddr_storage *addr, socklen_t addr_len,
	      struct tls_ctx *tls, int timeout_ms, char *err, size_t err_len);

/*
 * Sends `request` (a whole HTTP request) and reads one response within
 * timeout_ms (over TLS when tls is not NULL); on a 2xx JSON /v1/models answer, writes the first
 * model id to model and the number of models to *nr_models. Returns 0, -EPROTO (not a usable
 * answer) or -errno; err says which.
 */
int probe_models(const struct url *u, const struct sockaddr_storage *addr, socklen_t addr_len,
		 struct tls_ctx *tls, const char *request, size_t request_len, int timeout_ms,
		 char *model, size_t model_cap, unsigned *nr_models, char *err, size_t err_len);

#endif
