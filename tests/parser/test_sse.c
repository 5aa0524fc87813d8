/* SPDX-License-Identifier: MIT */
/*
 * sse.c: each stream is fed whole, cut at every split point, byte by byte and
 * in random pieces, each piece against a guard page, and must give the same
 * events every time. The spill buffer also ends at a guard page.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guard.h"
#include "sse.h"

#define S(lit) lit, sizeof(lit) - 1

#define MAX_EVENTS 64
#define MAX_DATA   8192

struct rec {
	char data[MAX_DATA];
	size_t data_len;
	char event[64];
	size_t event_len;
	char id[64];
	size_t id_len;
	bool done;
	bool in_feed; /* data was a view into the feed, not into spill */
};

struct result {
	struct rec ev[MAX_EVENTS];
	size_t nr;
	unsigned nr_errors;
};

struct want {
	const char *data;
	const char *event;
	const char *id;
};

static struct guard g_feed[2], g_spill;
static struct result got;

static int setup(void **state)
{
	(void)state;
	if (guard_init(&g_feed[0], 1 << 20) || guard_init(&g_feed[1], 1 << 20) ||
	    guard_init(&g_spill, 1 << 20))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	guard_close(&g_feed[0]);
	guard_close(&g_feed[1]);
	guard_close(&g_spill);
	return 0;
}

/* A parser whose spill buffer of spill_cap bytes ends at a guard page. */
static void parser_init(struct sse_parser *p, size_t spill_cap)
{
	sse_init(p, g_spill.base + g_spill.cap - spill_cap, spill_cap);
}

static void copy_view(char *dst, size_t cap, size_t *dst_len, const char *src, size_t len)
{
	assert_true(len <= cap);
	memcpy(dst, src, len);
	*dst_len = len;
}

/* Feeds one piece, placed against a guard page, the way the engine does. */
static void feed(struct sse_parser *p, const char *s, size_t len, unsigned piece, struct result *r)
{
	char *buf = guard_place(&g_feed[piece % 2], s, len, 0);
	size_t off = 0;

	for (;;) {
		struct sse_event ev;
		ssize_t n = sse_feed(p, buf + off, len - off, &ev);

		if (n == -EAGAIN)
			return;
		if (n == -EPROTO) {
			r->nr_errors++;
			return;
		}
		assert_true(n > 0 && (size_t)n <= len - off);
		assert_true(r->nr < MAX_EVENTS);
		struct rec *e = &r->ev[r->nr++];
		copy_view(e->data, sizeof(e->data), &e->data_len, ev.data, ev.data_len);
		copy_view(e->event, sizeof(e->event), &e->event_len, ev.event, ev.event_len);
		copy_view(e->id, sizeof(e->id), &e->id_len, ev.id, ev.id_len);
		e->done = ev.done;
		e->in_feed = ev.data >= buf && ev.data + ev.data_len <= buf + len;
		if (!e->in_feed)
			assert_true(ev.data >= p->spill &&
				    ev.data + ev.data_len <= p->spill + p->spill_cap);
		off += (size_t)n;
		if (off == len)
			return;
	}
}

/* Runs a stream cut into pieces of the given lengths (which sum to len). */
static void run(const char *s, size_t len, size_t spill_cap, const size_t *cuts, size_t nr_cuts,
		struct result *r)
{
	struct sse_parser p;
	size_t off = 0;

	memset(r, 0, sizeof(*r));
	parser_init(&p, spill_cap);
	for (size_t i = 0; i < nr_cuts; i++) {
		feed(&p, s + off, cuts[i], (unsigned)i, r);
		off += cuts[i];
	}
	assert_int_equal(off, len);
	/* -EPROTO still owed comes with later feeds, even empty ones. */
	for (unsigned owed = p.nr_oversized; owed; owed--)
		feed(&p, "", 0, 0, r);
	assert_int_equal(p.nr_oversized, 0);
}

static void expect(const struct result *r, const struct want *w, size_t nr_want, unsigned nr_errors)
{
	assert_int_equal(r->nr, nr_want);
	assert_int_equal(r->nr_errors, nr_errors);
	for (size_t i = 0; i < nr_want; i++) {
		const struct rec *e = &r->ev[i];
		const char *event = w[i].event ? w[i].event : "";
		const char *id = w[i].id ? w[i].id : "";

		assert_int_equal(e->data_len, strlen(w[i].data));
		assert_memory_equal(e->data, w[i].data, e->data_len);
		assert_int_equal(e->event_len, strlen(event));
		assert_memory_equal(e->event, event, e->event_len);
		assert_int_equal(e->id_len, strlen(id));
		assert_memory_equal(e->id, id, e->id_len);
		assert_int_equal(e->done, strcmp(w[i].data, "[DONE]") == 0);
	}
}

static size_t cuts[1 << 16];

/* Whole, every split point, byte by byte, and random pieces: all the same. */
static void check(const char *s, size_t len, size_t spill_cap, const struct want *w, size_t nr_want,
		  unsigned nr_errors)
{
	uint64_t seed = len * 0x9e3779b97f4a7c15ull + 1;

	cuts[0] = len;
	run(s, len, spill_cap, cuts, 1, &got);
	expect(&got, w, nr_want, nr_errors);
	for (size_t split = 0; split <= len; split++) {
		cuts[0] = split;
		cuts[1] = len - split;
		run(s, len, spill_cap, cuts, 2, &got);
		expect(&got, w, nr_want, nr_errors);
	}
	assert_true(len <= sizeof(cuts) / sizeof(cuts[0]));
	for (size_t i = 0; i < len; i++)
		cuts[i] = 1;
	run(s, len, spill_cap, cuts, len, &got);
	expect(&got, w, nr_want, nr_errors);
	for (int iter = 0; iter < 20; iter++) {
		size_t n = 0, left = len;

		while (left) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			size_t c = 1 + (seed >> 33) % 40;

			cuts[n++] = c < left ? c : left;
			left -= cuts[n - 1];
		}
		run(s, len, spill_cap, cuts, n, &got);
		expect(&got, w, nr_want, nr_errors);
	}
}

#define CHECK(stream, ...)                                                                         \
	do {                                                                                       \
		static const struct want w_[] = { __VA_ARGS__ };                                   \
		check(S(stream), 4096, w_, sizeof(w_) / sizeof(w_[0]), 0);                         \
	} while (0)
#define CHECK_NONE(stream) check(S(stream), 4096, NULL, 0, 0)

static void test_line_ends(void **state)
{
	(void)state;
	CHECK("data: hello\n\n", { .data = "hello" });
	CHECK("data: hello\r\n\r\n", { .data = "hello" });
	CHECK("data: hello\r\r", { .data = "hello" });
	CHECK("data: a\r\ndata: b\rdata: c\n\r\n", { .data = "a\nb\nc" });
	/* "\r\n" is one line end even when cut between the two bytes. */
	CHECK("data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n", { .data = "a\nb" }, { .data = "c" });
	CHECK("data: a\r\r\ndata: b\n\n", { .data = "a" }, { .data = "b" });
	CHECK("data: a\n\r\n\rdata: b\r\n\n", { .data = "a" }, { .data = "b" });
	/* No blank line, no event. */
	CHECK_NONE("data: never dispatched\n");
	CHECK_NONE("data: never dispatched");
}

static void test_fields(void **state)
{
	(void)state;
	CHECK("data:no space\n\n", { .data = "no space" });
	CHECK("data:  two spaces \n\n", { .data = " two spaces " });
	CHECK("data\n\n", { .data = "" });
	CHECK("data:\n\ndata: \n\n", { .data = "" }, { .data = "" });
	CHECK("data: a\ndata\ndata: c\n\n", { .data = "a\n\nc" });
	CHECK("data: a:b: c\n\n", { .data = "a:b: c" });
	CHECK("data: \n\n", { .data = "" });
	CHECK("event: add\nid: 7\ndata: x\n\n", { .data = "x", .event = "add", .id = "7" });
	CHECK("data: x\nid: 7\nevent: add\n\n", { .data = "x", .event = "add", .id = "7" });
	CHECK("event: a\nevent: b\ndata: x\n\n", { .data = "x", .event = "b" });
	CHECK("event\ndata: x\n\n", { .data = "x" });
	CHECK("data: x\nevent: e1\nevent: e2\nid: 1\ndata: y\nid: 2\nid: 3\ndata: z\n\n",
	      { .data = "x\ny\nz", .event = "e2", .id = "3" });
	CHECK("id: 1\nevent: e1\ndata: x\nevent: e2\nid: 22\ndata: y\n\n",
	      { .data = "x\ny", .event = "e2", .id = "22" });
	/* Event type and id belong to one event: the next starts bare. */
	CHECK("event: e\nid: 1\ndata: x\n\ndata: y\n\n", { .data = "x", .event = "e", .id = "1" },
	      { .data = "y" });
	/* retry, unknown fields, names with other case: ignored. */
	CHECK("retry: 1000\nfoo: bar\nDATA: no\nData: no\n data: no\ndata: x\n\n", { .data = "x" });
	/* Comments. */
	CHECK(": comment\ndata: x\n: another\n:\n\n", { .data = "x" });
	CHECK_NONE(": ping\n\n: ping\r\n\r\n");
	/* Events without data are not dispatched, and reset the type. */
	CHECK("event: ping\n\ndata: x\n\n", { .data = "x" });
	CHECK("id: 9\nevent: ping\n\n\n\n\ndata: x\n\n", { .data = "x" });
	CHECK("data: [DONE]\n\n", { .data = "[DONE]" });
	CHECK("data: [DONE] \n\ndata: [DONE]x\n\ndata:[DONE]\n\n", { .data = "[DONE] " },
	      { .data = "[DONE]x" }, { .data = "[DONE]" });
	CHECK("data: [DONE]\ndata: [DONE]\n\n", { .data = "[DONE]\n[DONE]" });
}

static void test_id_with_nul(void **state)
{
	static const struct want w1[] = { { .data = "x", .event = NULL, .id = "1" } };
	static const struct want w2[] = { { .data = "x", .event = NULL, .id = NULL } };

	(void)state;
	check(S("id: 1\nid: a\0b\ndata: x\n\n"), 4096, w1, 1, 0);
	check(S("id: a\0b\ndata: x\n\n"), 4096, w2, 1, 0);
}

static void test_nul_in_data(void **state)
{
	struct sse_parser p;
	struct sse_event ev;

	(void)state;
	parser_init(&p, 64);
	assert_int_equal(sse_feed(&p, S("data: a\0b\n\n"), &ev), 11);
	assert_int_equal(ev.data_len, 3);
	assert_memory_equal(ev.data, "a\0b", 3);
}

static void test_bom(void **state)
{
	(void)state;
	CHECK("\xef\xbb\xbf"
	      "data: x\n\n",
	      { .data = "x" });
	CHECK("\xef\xbb\xbf\n"
	      "data: x\n\n",
	      { .data = "x" });
	/* Only one BOM, and only at the start of the stream. */
	CHECK_NONE("\xef\xbb\xbf\xef\xbb\xbf"
		   "data: x\n\n");
	CHECK("data: x\n\n\xef\xbb\xbf"
	      "data: y\n\n",
	      { .data = "x" });
	/* Bytes that begin a BOM but are not one start the first line. */
	CHECK_NONE("\xef\xbb"
		   "data: x\n\n");
	CHECK("\xef\n"
	      "data: x\n\n",
	      { .data = "x" });
	CHECK("\xef\xbb\xbe\n\ndata: y\n\n", { .data = "y" });
	CHECK("\xef\xbb"
	      "data: x\n\ndata: y\n\n",
	      { .data = "y" });
	CHECK("\xef\xbb\xbf\xef\xbb"
	      "data: x\n\ndata: y\n\n",
	      { .data = "y" });
}

static void test_reset(void **state)
{
	static const char bom_y[] = "\xef\xbb\xbf"
				    "data: y\n\n";
	struct sse_parser p;
	struct sse_event ev;

	(void)state;
	parser_init(&p, 64);
	assert_int_equal(sse_feed(&p, S("data: partial\r"), &ev), -EAGAIN);
	sse_reset(&p);
	/* The pending event is gone, and so is the '\r' that owned a '\n'. */
	assert_int_equal(sse_feed(&p, S("\n\ndata: x\n\n"), &ev), 11);
	assert_int_equal(ev.data_len, 1);
	assert_memory_equal(ev.data, "x", 1);
	/* A new stream may start with a BOM again. */
	assert_int_equal(sse_feed(&p, S(bom_y), &ev), -EAGAIN);
	sse_reset(&p);
	assert_int_equal(sse_feed(&p, S(bom_y), &ev), sizeof(bom_y) - 1);
	assert_int_equal(ev.data_len, 1);
	assert_memory_equal(ev.data, "y", 1);
}

/* sse_pending: bytes of an unfinished event, however the stream was cut. */
static void test_pending(void **state)
{
	struct sse_parser p;
	struct sse_event ev;

	(void)state;
	parser_init(&p, 64);
	assert_false(sse_pending(&p));
	assert_int_equal(sse_feed(&p, S(": a comment\n"), &ev), -EAGAIN);
	assert_false(sse_pending(&p)); /* comments are no event */
	assert_int_equal(sse_feed(&p, S("data: {\"x\""), &ev), -EAGAIN);
	assert_true(sse_pending(&p)); /* mid-line */
	assert_int_equal(sse_feed(&p, S("}\n"), &ev), -EAGAIN);
	assert_true(sse_pending(&p)); /* a whole field line, no blank line yet */
	assert_int_equal(sse_feed(&p, S("\n"), &ev), 1);
	assert_false(sse_pending(&p));
	assert_int_equal(sse_feed(&p, S("event: e\r\n"), &ev), -EAGAIN);
	assert_true(sse_pending(&p)); /* fields without data still open an event */
	sse_reset(&p);
	assert_false(sse_pending(&p));
}

/* A zero-copy event points into the feed; a gathered one into spill. */
static void test_zero_copy(void **state)
{
	static const char two[] = "event: e\nid: 1\ndata: one\n\ndata: a\ndata: b\n\n";

	(void)state;
	cuts[0] = sizeof(two) - 1;
	run(S(two), 4096, cuts, 1, &got);
	assert_int_equal(got.nr, 2);
	assert_true(got.ev[0].in_feed);
	assert_false(got.ev[1].in_feed);
	/* Cut inside the first event: it is gathered. */
	cuts[0] = 20;
	cuts[1] = sizeof(two) - 1 - 20;
	run(S(two), 4096, cuts, 2, &got);
	assert_int_equal(got.nr, 2);
	assert_false(got.ev[0].in_feed);
	assert_int_equal(got.ev[0].data_len, 3);
	assert_memory_equal(got.ev[0].data, "one", 3);
	assert_memory_equal(got.ev[0].event, "e", 1);
	assert_memory_equal(got.ev[0].id, "1", 1);
}

/* vLLM through uvicorn, and an event much longer than any feed. */
static void test_long_streams(void **state)
{
	static char s[60000], big[3000];
	static struct want w[MAX_EVENTS];
	static char datas[MAX_EVENTS][256];
	size_t len = 0, nr = 0;

	(void)state;
	for (int i = 0; i < 40; i++) {
		snprintf(datas[nr], sizeof(datas[nr]),
			 "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
			 "\"created\":1718000000,\"model\":\"m\",\"choices\":[{\"index\":0,"
			 "\"delta\":{\"content\":\"tok%d\"},\"logprobs\":null,"
			 "\"finish_reason\":null}]}",
			 i);
		w[nr].data = datas[nr];
		len += (size_t)sprintf(s + len, "data: %s\n\n", datas[nr]);
		nr++;
	}
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = (char)('a' + i % 26);
	w[nr++].data = big;
	len += (size_t)sprintf(s + len, ": big\ndata: %s\r\n\r\n", big);
	w[nr++].data = "[DONE]";
	len += (size_t)sprintf(s + len, "data: [DONE]\n\n");
	check(s, len, 4096, w, nr, 0);
}

static void test_overflow(void **state)
{
	static char s[4096];
	static const struct want ok[] = { { .data = "ok" } };
	static const struct want ok2[] = { { .data = "ok" }, { .data = "ok2" } };
	size_t len;

	(void)state;
	/* The event's lines, each line end counted once: "data: " + 9 + 1 = 16. */
	static const struct want fits[] = { { .data = "123456789" } };
	check(S("data: 123456789\r\n\r\n"), 16, fits, 1, 0);
	check(S("data: 123456789\r\n\r\n"), 15, NULL, 0, 1);
	/* Comments do not count; the other lines do. */
	check(S(": a long comment, longer than the spill buffer\ndata: 123456789\n\n"), 16, fits, 1,
	      0);
	check(S("retry: 1\ndata: 123456789\n\n"), 16, NULL, 0, 1);

	/* One -EPROTO, the oversized event skipped, the stream carries on. */
	len = (size_t)sprintf(
	    s, "data: ok\n\nevent: big\ndata: %0200d\ndata: more\n\ndata: ok2\n\n", 7);
	check(s, len, 64, ok2, 2, 1);
	len = (size_t)sprintf(s, "data: %0200d\r\rdata: ok\r\r", 7);
	check(s, len, 64, ok, 1, 1);
	len = (size_t)sprintf(s, "data: %0100d\n\ndata: %0100d\n\ndata: ok\n\n", 1, 2);
	check(s, len, 64, ok, 1, 2);
	/* Many small lines that add up. */
	len = 0;
	for (int i = 0; i < 30; i++)
		len += (size_t)sprintf(s + len, "data: %d\n", i);
	len += (size_t)sprintf(s + len, "\ndata: ok\n\n");
	check(s, len, 64, ok, 1, 1);
	/* A spill buffer too small even for a partial BOM. */
	check(S("\xef\xbb"
		"data: x\n\ndata: ok\n\n"),
	      1, NULL, 0, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_ends),   cmocka_unit_test(test_fields),
		cmocka_unit_test(test_id_with_nul), cmocka_unit_test(test_nul_in_data),
		cmocka_unit_test(test_bom),	    cmocka_unit_test(test_reset),
		cmocka_unit_test(test_zero_copy),   cmocka_unit_test(test_long_streams),
		cmocka_unit_test(test_overflow),    cmocka_unit_test(test_pending),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
