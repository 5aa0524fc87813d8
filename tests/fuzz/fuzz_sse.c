/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the SSE parser. The input is fed whole and again in
 * pieces of fuzzer-chosen sizes; both must yield the same events.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

#define SPILL_CAP  512
#define MAX_EVENTS 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct digest {
	size_t nr, bytes, nr_err, nr_done;
	uint64_t hash;
};

static void absorb(struct digest *d, const struct sse_event *ev)
{
	d->nr++;
	d->bytes += ev->data_len;
	d->nr_done += ev->done;
	for (size_t i = 0; i < ev->data_len; i++)
		d->hash = (d->hash ^ (unsigned char)ev->data[i]) * 1099511628211ull;
	for (size_t i = 0; i < ev->event_len; i++)
		d->hash = (d->hash ^ (unsigned char)ev->event[i]) * 1099511628211ull;
}

static void feed(struct sse_parser *p, const char *buf, size_t len, struct digest *d)
{
	while (len) {
		struct sse_event ev;
		ssize_t n = sse_feed(p, buf, len, &ev);

		if (n == -EAGAIN)
			return;
		if (n == -EPROTO) {
			d->nr_err++;
			return;
		}
		assert(n > 0 && (size_t)n <= len);
		assert(ev.data_len <= SPILL_CAP);
		absorb(d, &ev);
		buf += n;
		len -= (size_t)n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sse_parser p;
	struct digest whole = { .hash = 1469598103934665603ull };
	struct digest parts = { .hash = 1469598103934665603ull };
	char *spill = malloc(SPILL_CAP);
	char *buf;
	size_t step;

	if (size < 1 || !spill) {
		free(spill);
		return 0;
	}
	step = (size_t)data[0] % 17 + 1;
	data++;
	size--;
	buf = malloc(size ? size : 1);
	if (!buf) {
		free(spill);
		return 0;
	}
	memcpy(buf, data, size);
	sse_init(&p, spill, SPILL_CAP);
	feed(&p, buf, size, &whole);
	sse_reset(&p);
	for (size_t off = 0; off < size; off += step) {
		size_t n = size - off < step ? size - off : step;
		/* Each piece in its own exact-size buffer: views into it die with it. */
		char *piece = malloc(n);

		memcpy(piece, buf + off, n);
		feed(&p, piece, n, &parts);
		free(piece);
	}
	assert(whole.nr == parts.nr && whole.bytes == parts.bytes && whole.hash == parts.hash);
	assert(whole.nr_err == parts.nr_err && whole.nr_done == parts.nr_done);
	free(buf);
	free(spill);
	return 0;
}
