// SPDX-License-Identifier: MIT
// SPSC ring operations/s: one push + one pop of a content-delta-sized record
// on one thread (the cost a shard and a tokenizer thread each pay per
// chunk, without cache-line transfers), and a producer thread streaming to
// a consumer thread (the real hand-off; on a shared 2-vCPU box this mostly
// measures the scheduler). Run: build/bench/bench_spsc --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <thread>

extern "C" {
#include "spsc.h"
}

namespace
{

// A record as a shard pushes it: a 32-byte header and the delta's bytes.
struct hdr {
	uint64_t a, b, c, d;
};

void BM_push_pop(benchmark::State &state)
{
	const size_t len = (size_t)state.range(0);
	char body[4096];
	struct spsc r;
	hdr h{};
	size_t got;

	std::memset(body, 'x', sizeof(body));
	if (spsc_init(&r, 1 << 20))
		state.SkipWithError("spsc_init");
	for (auto _ : state) {
		h.a++;
		benchmark::DoNotOptimize(spsc_push2(&r, &h, sizeof(h), body, len));
		const void *p = spsc_peek(&r, &got);
		benchmark::DoNotOptimize(p);
		spsc_pop(&r);
	}
	state.SetItemsProcessed(state.iterations());
	state.SetBytesProcessed(state.iterations() * (int64_t)(sizeof(h) + len));
	spsc_close(&r);
}
BENCHMARK(BM_push_pop)->Arg(8)->Arg(32)->Arg(256);

// Producer on another thread; this thread pops and touches every record.
void BM_two_threads(benchmark::State &state)
{
	const size_t len = (size_t)state.range(0);
	struct spsc r;
	std::atomic<bool> stop{ false };
	uint64_t popped = 0, sum = 0;
	size_t got;

	if (spsc_init(&r, 1 << 20))
		state.SkipWithError("spsc_init");
	std::thread prod([&] {
		char body[4096];
		hdr h{};

		std::memset(body, 'y', sizeof(body));
		while (!stop.load(std::memory_order_relaxed)) {
			h.a++;
			if (!spsc_push2(&r, &h, sizeof(h), body, len))
				std::this_thread::yield();
		}
	});
	for (auto _ : state) {
		const void *p;

		while (!(p = spsc_peek(&r, &got)))
			;
		sum += ((const hdr *)p)->a;
		spsc_pop(&r);
		popped++;
	}
	stop.store(true);
	prod.join();
	benchmark::DoNotOptimize(sum);
	state.SetItemsProcessed((int64_t)popped);
	state.SetBytesProcessed((int64_t)popped * (int64_t)(sizeof(hdr) + len));
	spsc_close(&r);
}
BENCHMARK(BM_two_threads)->Arg(8)->Arg(32)->Arg(256)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
