/* SPDX-License-Identifier: MIT */
/*
 * Test certificates, made at test time with the openssl command: a CA, a
 * server certificate it signs for 127.0.0.1 and localhost, and a second CA
 * that signed nothing (for "wrong CA" tests).
 */
#ifndef BROOD_TESTS_CERTS_H
#define BROOD_TESTS_CERTS_H

#include <stddef.h>

struct certs {
	char dir[200];
	char ca[256];	    /* CA certificate (PEM) */
	char other_ca[256]; /* a CA that did not sign cert */
	char cert[256];	    /* server certificate, signed by ca */
	char key[256];	    /* its private key */
};

/* Writes the files into dir (which exists). Returns 0, or -1 when the
 * openssl command failed (its output is left in dir/openssl.log). */
int certs_make(struct certs *c, const char *dir);

#endif
