/* SPDX-License-Identifier: MIT */
#include "guard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int guard_init(struct guard *g, size_t cap)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	g->cap = (cap + page - 1) / page * page;
	g->map_len = g->cap + page;
	g->base =
	    mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->base == MAP_FAILED)
		return -errno;
	if (mprotect(g->base + g->cap, page, PROT_NONE) < 0) {
		int err = -errno;

		munmap(g->base, g->map_len);
		return err;
	}
	return 0;
}

void guard_close(struct guard *g)
{
	munmap(g->base, g->map_len);
}

char *guard_place(struct guard *g, const void *src, size_t len, size_t gap)
{
	char *dst;

	if (len + gap > g->cap)
		abort();
	dst = g->base + g->cap - gap - len;
	if (len)
		memcpy(dst, src, len);
	memset(dst + len, 0xa5, gap);
	return dst;
}
