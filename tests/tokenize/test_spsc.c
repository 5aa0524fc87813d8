/* SPDX-License-Identifier: MIT */
/*
 * spsc: record boundaries and bytes survive, order holds, a full ring
 * refuses without writing, wrap-around pads, and two threads pushing and
 * popping concurrently lose nothing they did not report (run under TSan in
 * the tsan pass).
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spsc.h"

static void test_init_args(void **state)
{
	struct spsc r;

	(void)state;
	assert_int_equal(spsc_init(&r, 1000), -EINVAL);
	assert_int_equal(spsc_init(&r, 2048), -EINVAL);
	assert_int_equal(spsc_init(&r, 4096 + 8), -EINVAL);
	assert_int_equal(spsc_init(&r, (size_t)SPSC_MAX_BYTES * 2), -EINVAL);
	assert_int_equal(spsc_init(&r, 4096), 0);
	assert_int_equal(spsc_used(&r), 0);
	spsc_close(&r);
}

static void test_push_pop(void **state)
{
	struct spsc r;
	const char *p;
	size_t len;

	(void)state;
	assert_int_equal(spsc_init(&r, 4096), 0);
	assert_null(spsc_peek(&r, &len));
	assert_true(spsc_push(&r, "hello", 5));
	assert_true(spsc_push(&r, "", 0));
	assert_true(spsc_push2(&r, "ab", 2, "cde", 3));
	assert_int_equal(spsc_used(&r), 16 + 8 + 16);

	p = spsc_peek(&r, &len);
	assert_non_null(p);
	assert_int_equal(len, 5);
	assert_memory_equal(p, "hello", 5);
	assert_int_equal((uintptr_t)p % 8, 0);
	/* peek twice: the same record until popped */
	assert_ptr_equal(spsc_peek(&r, &len), p);
	spsc_pop(&r);
	p = spsc_peek(&r, &len);
	assert_non_null(p);
	assert_int_equal(len, 0);
	spsc_pop(&r);
	p = spsc_peek(&r, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(p, "abcde", 5);
	spsc_pop(&r);
	assert_null(spsc_peek(&r, &len));
	assert_int_equal(spsc_used(&r), 0);
	spsc_close(&r);
}

/* A full ring says no and writes nothing; room comes back with a pop. */
static void test_full(void **state)
{
	struct spsc r;
	char rec[100];
	unsigned n = 0;
	size_t len;
	const char *p;

	(void)state;
	assert_int_equal(spsc_init(&r, 4096), 0);
	for (;;) {
		memset(rec, (char)n, sizeof(rec));
		if (!spsc_push(&r, rec, sizeof(rec)))
			break;
		n++;
	}
	/* 112 bytes a record: 36 fit in 4096 */
	assert_int_equal(n, 4096 / 112);
	assert_false(spsc_push(&r, rec, sizeof(rec)));
	assert_true(spsc_push(&r, rec, 4096 - 36 * 112 - 8)); /* the last 64 bytes fit */
	assert_false(spsc_push(&r, "", 0));
	p = spsc_peek(&r, &len);
	assert_int_equal(len, 100);
	assert_int_equal(p[0], 0);
	assert_int_equal(p[99], 0);
	spsc_pop(&r);
	/* The end is exactly full, so head has wrapped to 0, where the pop
	 * freed room: no pad needed. */
	memset(rec, 0x55, sizeof(rec));
	assert_true(spsc_push(&r, rec, 100));
	for (unsigned i = 1; i < n; i++) {
		p = spsc_peek(&r, &len);
		assert_non_null(p);
		assert_int_equal(len, 100);
		assert_int_equal((unsigned char)p[50], i & 0xff);
		spsc_pop(&r);
	}
	p = spsc_peek(&r, &len);
	assert_int_equal(len, 4096 - 36 * 112 - 8);
	spsc_pop(&r);
	p = spsc_peek(&r, &len);
	assert_int_equal(len, 100);
	assert_int_equal((unsigned char)p[0], 0x55);
	spsc_pop(&r);
	assert_null(spsc_peek(&r, &len));
	/* Too large ever: half the ring is the limit. */
	static char big[2048];
	assert_false(spsc_push(&r, big, 2048 - 8 + 1));
	assert_true(spsc_push(&r, big, 2048 - 8));
	spsc_close(&r);
}

/* Odd sizes around the wrap point: a pad record is skipped, bytes intact. */
static void test_wrap(void **state)
{
	static char big[2048];
	struct spsc r;
	uint64_t pushed = 0, popped = 0;

	(void)state;
	assert_int_equal(spsc_init(&r, 4096), 0);
	for (unsigned i = 0; i < 20000; i++) {
		size_t len = (i * 37) % 700;
		const unsigned char *p;
		size_t got = 0;

		memset(big, (char)i, len);
		while (!spsc_push(&r, big, len)) {
			p = spsc_peek(&r, &got);
			assert_non_null(p);
			spsc_pop(&r);
			popped++;
		}
		pushed++;
		if (i % 3 == 0) {
			p = spsc_peek(&r, &got);
			assert_non_null(p);
			assert_int_equal(got, ((popped * 37) % 700));
			for (size_t k = 0; k < got; k++)
				assert_int_equal(p[k], popped & 0xff);
			spsc_pop(&r);
			popped++;
		}
	}
	while (spsc_peek(&r, &(size_t){ 0 }))
		spsc_pop(&r), popped++;
	assert_int_equal(pushed, popped);
	spsc_close(&r);
}

/* ---- two threads ---- */

#define STRESS_RECORDS 400000u

struct stress {
	struct spsc r;
	bool drop;	/* the producer drops on full, as a shard does */
	uint64_t drops; /* producer's count */
};

struct rec_head {
	uint64_t seq;
	uint32_t len;
	uint32_t check;
};

static uint32_t check_of(uint64_t seq, uint32_t len)
{
	return (uint32_t)(seq * 2654435761u) ^ len;
}

static void *producer(void *arg)
{
	struct stress *st = arg;
	unsigned char body[300];

	for (uint64_t seq = 0; seq < STRESS_RECORDS; seq++) {
		struct rec_head h = { .seq = seq, .len = (uint32_t)(seq * 7919 % 300) };

		h.check = check_of(seq, h.len);
		memset(body, (int)(seq & 0xff), h.len);
		while (!spsc_push2(&st->r, &h, sizeof(h), body, h.len)) {
			if (st->drop) {
				st->drops++;
				break;
			}
			sched_yield();
		}
	}
	/* the end marker: always delivered */
	struct rec_head end = { .seq = UINT64_MAX };
	while (!spsc_push(&st->r, &end, sizeof(end)))
		sched_yield();
	return NULL;
}

static void run_stress(bool drop)
{
	struct stress st = { .drop = drop };
	uint64_t next = 0, got = 0;
	pthread_t t;

	assert_int_equal(spsc_init(&st.r, 16384), 0);
	assert_int_equal(pthread_create(&t, NULL, producer, &st), 0);
	for (;;) {
		const unsigned char *p;
		struct rec_head h;
		size_t len;

		p = spsc_peek(&st.r, &len);
		if (!p) {
			sched_yield();
			continue;
		}
		memcpy(&h, p, sizeof(h));
		if (h.seq == UINT64_MAX) {
			spsc_pop(&st.r);
			break;
		}
		/* in order; gaps only where the producer dropped */
		if (!drop)
			assert_int_equal(h.seq, next);
		else
			assert_true(h.seq >= next);
		assert_int_equal(len, sizeof(h) + h.len);
		assert_int_equal(h.check, check_of(h.seq, h.len));
		for (uint32_t k = 0; k < h.len; k++)
			if (p[sizeof(h) + k] != (h.seq & 0xff))
				fail_msg("record %llu byte %u corrupt", (unsigned long long)h.seq,
					 k);
		next = h.seq + 1;
		got++;
		spsc_pop(&st.r);
	}
	pthread_join(t, NULL);
	assert_int_equal(got + st.drops, STRESS_RECORDS);
	assert_null(spsc_peek(&st.r, &(size_t){ 0 }));
	spsc_close(&st.r);
}

static void test_two_threads(void **state)
{
	(void)state;
	run_stress(false);
}

static void test_two_threads_dropping(void **state)
{
	(void)state;
	run_stress(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_args),   cmocka_unit_test(test_push_pop),
		cmocka_unit_test(test_full),	    cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_two_threads), cmocka_unit_test(test_two_threads_dropping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
