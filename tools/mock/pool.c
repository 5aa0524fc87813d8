/* SPDX-License-Identifier: MIT */
/*
 * Fixed pools of equal buffers. The mapping is MAP_NORESERVE and nothing
 * touches it up front, so a pool sized for every connection costs memory
 * only for the buffers actually in use; the LIFO free stack hands the
 * recently used (already touched) buffers out first.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "mock.h"

/* Returns 0 or -ENOMEM. */
int pool_init(struct mock_pool *p, uint32_t nr, size_t stride)
{
	p->map_bytes = (size_t)nr * stride;
	p->stride = stride;
	p->nr = nr;
	p->base = mmap(NULL, p->map_bytes ? p->map_bytes : 1, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p->base == MAP_FAILED) {
		p->base = NULL;
		return -ENOMEM;
	}
	p->free = malloc((nr ? nr : 1) * sizeof(*p->free));
	if (!p->free) {
		munmap(p->base, p->map_bytes ? p->map_bytes : 1);
		p->base = NULL;
		return -ENOMEM;
	}
	/* Lowest index on top, so the first buffers handed out are adjacent. */
	for (uint32_t i = 0; i < nr; i++)
		p->free[i] = nr - 1 - i;
	p->nr_free = nr;
	return 0;
}

/* Unmaps the pool; buffers still lent out become invalid. */
void pool_close(struct mock_pool *p)
{
	if (!p->base)
		return;
	munmap(p->base, p->map_bytes ? p->map_bytes : 1);
	free(p->free);
	p->base = NULL;
	p->free = NULL;
}

/* Returns a free buffer, or NULL when all are in use. */
char *pool_get(struct mock_pool *p)
{
	if (!p->nr_free)
		return NULL;
	return p->base + (size_t)p->free[--p->nr_free] * p->stride;
}

/* buf must come from pool_get on the same pool. */
void pool_put(struct mock_pool *p, char *buf)
{
	p->free[p->nr_free++] = (uint32_t)((size_t)(buf - p->base) / p->stride);
}
