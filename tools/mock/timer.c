/* SPDX-License-Identifier: MIT */
/*
 * Per-worker connection deadlines: a binary min-heap keyed by due time, with
 * each connection's heap position kept so that a closing connection's timer
 * can be removed in O(log n). Sized for every connection at start-up.
 */
#include <errno.h>
#include <stdlib.h>

#include "mock.h"

/* Returns 0 or -ENOMEM. */
int timers_init(struct mock_timers *t, uint32_t cap)
{
	t->heap = malloc((cap ? cap : 1) * sizeof(*t->heap));
	t->pos = calloc(cap ? cap : 1, sizeof(*t->pos));
	t->nr = 0;
	t->cap = cap;
	if (!t->heap || !t->pos) {
		timers_close(t);
		return -ENOMEM;
	}
	return 0;
}

/* Frees the heap; safe on a zeroed or half-initialised struct. */
void timers_close(struct mock_timers *t)
{
	free(t->heap);
	free(t->pos);
	t->heap = NULL;
	t->pos = NULL;
}

static void place(struct mock_timers *t, uint32_t i, struct timer_entry e)
{
	t->heap[i] = e;
	t->pos[e.conn] = i + 1;
}

static void sift_up(struct mock_timers *t, uint32_t i)
{
	struct timer_entry e = t->heap[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (t->heap[parent].due_ns <= e.due_ns)
			break;
		place(t, i, t->heap[parent]);
		i = parent;
	}
	place(t, i, e);
}

static void sift_down(struct mock_timers *t, uint32_t i)
{
	struct timer_entry e = t->heap[i];

	for (;;) {
		uint32_t child = 2 * i + 1;

		if (child >= t->nr)
			break;
		if (child + 1 < t->nr && t->heap[child + 1].due_ns < t->heap[child].due_ns)
			child++;
		if (e.due_ns <= t->heap[child].due_ns)
			break;
		place(t, i, t->heap[child]);
		i = child;
	}
	place(t, i, e);
}

/* Queues conn at due_ns, or moves its deadline there if already queued. */
void timers_set(struct mock_timers *t, uint32_t conn, uint64_t due_ns)
{
	uint32_t i;

	if (t->pos[conn]) {
		i = t->pos[conn] - 1;
		t->heap[i].due_ns = due_ns;
		sift_up(t, i);
		sift_down(t, t->pos[conn] - 1);
		return;
	}
	i = t->nr++;
	t->heap[i] = (struct timer_entry){ .due_ns = due_ns, .conn = conn };
	sift_up(t, i);
}

/* Removes conn's deadline; nothing when none is queued. */
void timers_del(struct mock_timers *t, uint32_t conn)
{
	uint32_t i = t->pos[conn], moved;

	if (!i)
		return;
	i--;
	t->pos[conn] = 0;
	if (i == --t->nr)
		return;
	/* The last entry fills the hole, then moves whichever way its key says. */
	moved = t->heap[t->nr].conn;
	place(t, i, t->heap[t->nr]);
	sift_up(t, i);
	sift_down(t, t->pos[moved] - 1);
}

/* Returns true and the earliest deadline when one is queued. */
bool timers_peek(const struct mock_timers *t, uint64_t *due_ns, uint32_t *conn)
{
	if (!t->nr)
		return false;
	*due_ns = t->heap[0].due_ns;
	*conn = t->heap[0].conn;
	return true;
}
