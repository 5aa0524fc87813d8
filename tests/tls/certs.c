/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certs.h"

int certs_make(struct certs *c, const char *dir)
{
	char cmd[4096];
	FILE *f;

	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	snprintf(c->ca, sizeof(c->ca), "%s/ca.pem", dir);
	snprintf(c->other_ca, sizeof(c->other_ca), "%s/other-ca.pem", dir);
	snprintf(c->cert, sizeof(c->cert), "%s/server.pem", dir);
	snprintf(c->key, sizeof(c->key), "%s/server.key", dir);
	snprintf(cmd, sizeof(cmd), "%s/ext.cnf", dir);
	f = fopen(cmd, "w");
	if (!f)
		return -1;
	fputs("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
	      "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
	      f);
	fclose(f);
	/* P-256 keys: quick to make, and the common case of real servers. */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && { "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout ca.key -out ca.pem -days 2 -subj /CN=brood-test-ca && "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=brood-other-ca && "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout server.key -out server.csr -subj /CN=localhost && "
		 "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
		 "-out server.pem -days 2 -extfile ext.cnf; } >openssl.log 2>&1",
		 dir);
	return system(cmd) == 0 ? 0 : -1;
}
