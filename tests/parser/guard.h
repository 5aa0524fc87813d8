/* SPDX-License-Identifier: MIT */
/*
 * Test inputs placed right before a PROT_NONE page (picohttpparser's habit):
 * a parser that reads one byte past its input faults at once.
 */
#ifndef BROOD_TESTS_PARSER_GUARD_H
#define BROOD_TESTS_PARSER_GUARD_H

#include <stddef.h>

struct guard {
	char *base;	/* mapping: usable pages, then the guard page */
	size_t cap;	/* usable bytes before the guard page */
	size_t map_len; /* bytes mapped */
};

/* Maps room for inputs of up to cap bytes. Returns 0 or -errno. */
int guard_init(struct guard *g, size_t cap);
void guard_close(struct guard *g);

/*
 * Copies len bytes so that they end gap bytes before the guard page and
 * returns where they start. The gap bytes are filled with 0xA5.
 */
char *guard_place(struct guard *g, const void *src, size_t len, size_t gap);

#endif
