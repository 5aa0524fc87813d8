// SPDX-License-Identifier: MIT
// ns per hist_record on the brood latency shape (1 ns discernible, 1 h,
// 3 digits), over pre-drawn log-uniform values so the loop times the record
// alone. Run: build/bench/bench_hist --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <vector>

extern "C" {
#include "hist.h"
#include "live.h"
}

namespace
{

std::vector<uint64_t> draw_values(size_t n, double lo, double hi)
{
	std::vector<uint64_t> v(n);
	uint64_t s = 42;

	for (auto &x : v) {
		s += 0x9e3779b97f4a7c15ULL; // splitmix64
		uint64_t z = s;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		double u = (double)(z >> 11) / (double)(1ULL << 53);
		x = (uint64_t)std::exp(std::log(lo) + u * (std::log(hi) - std::log(lo)));
	}
	return v;
}

void run(benchmark::State &state, double lo, double hi)
{
	// 4096 values: they stay in L1 while the counts they touch spread out.
	const std::vector<uint64_t> vals = draw_values(4096, lo, hi);
	struct hist h;
	size_t i = 0;

	if (hist_init_latency(&h)) {
		state.SkipWithError("hist_init_latency failed");
		return;
	}
	for (auto _ : state) {
		hist_record(&h, vals[i]);
		i = (i + 1) & (vals.size() - 1);
	}
	benchmark::DoNotOptimize(h.total);
	state.SetItemsProcessed(state.iterations());
	hist_close(&h);
}

// Values from 1 us to 1 h: every bucket, scattered counts.
void BM_hist_record_1us_1h(benchmark::State &state)
{
	run(state, 1e3, 3.6e12);
}

// LLM-like latencies, 5 ms .. 2 s: a few hot buckets.
void BM_hist_record_5ms_2s(benchmark::State &state)
{
	run(state, 5e6, 2e9);
}

// What a shard pays per latency since issue 5: the exact record plus the
// live bucket (relaxed stores) that the watch loop and /metrics read.
void run_both(benchmark::State &state, double lo, double hi)
{
	const std::vector<uint64_t> vals = draw_values(4096, lo, hi);
	struct live_hist *lh = new struct live_hist();
	struct hist h;
	size_t i = 0;

	if (hist_init_latency(&h)) {
		state.SkipWithError("hist_init_latency failed");
		return;
	}
	for (auto _ : state) {
		hist_record(&h, vals[i]);
		live_record(lh, vals[i]);
		i = (i + 1) & (vals.size() - 1);
	}
	benchmark::DoNotOptimize(h.total);
	benchmark::DoNotOptimize(lh->sum_ns);
	state.SetItemsProcessed(state.iterations());
	hist_close(&h);
	delete lh;
}

void BM_hist_and_live_record_1us_1h(benchmark::State &state)
{
	run_both(state, 1e3, 3.6e12);
}

void BM_hist_and_live_record_5ms_2s(benchmark::State &state)
{
	run_both(state, 5e6, 2e9);
}

// The watch loop's per-shard cost each second: summing one live histogram.
void BM_live_hist_add(benchmark::State &state)
{
	struct live_hist *a = new struct live_hist(), *b = new struct live_hist();

	for (auto _ : state) {
		live_hist_add(a, b);
		benchmark::DoNotOptimize(a->sum_ns);
	}
	delete a;
	delete b;
}

void BM_hist_percentile(benchmark::State &state)
{
	const std::vector<uint64_t> vals = draw_values(100000, 1e3, 3.6e12);
	struct hist h;

	if (hist_init_latency(&h)) {
		state.SkipWithError("hist_init_latency failed");
		return;
	}
	for (uint64_t v : vals)
		hist_record(&h, v);
	for (auto _ : state)
		benchmark::DoNotOptimize(hist_percentile(&h, 99));
	hist_close(&h);
}

} // namespace

BENCHMARK(BM_hist_record_1us_1h);
BENCHMARK(BM_hist_record_5ms_2s);
BENCHMARK(BM_hist_and_live_record_1us_1h);
BENCHMARK(BM_hist_and_live_record_5ms_2s);
BENCHMARK(BM_live_hist_add);
BENCHMARK(BM_hist_percentile);
BENCHMARK_MAIN();
