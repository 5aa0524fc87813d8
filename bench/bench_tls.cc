// SPDX-License-Identifier: MIT
// tls/ costs on the client side, in memory (no sockets, no kernel): a full
// and a resumed handshake (TLS 1.2 and 1.3, P-256 certificate verified
// against a CA), and taking in one record of a streamed SSE chunk. Only the
// client's calls are timed, in thread CPU time (manual time); the server's
// work runs outside. Everything stays in cache here: the engine, with
// thousands of connections, pays cache misses on top.
//
//   build/bench/bench_tls --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <cerrno>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" {
#include "certs.h"
#include "tls.h"
}

namespace
{

struct certs g_certs;
bool g_ready;

// The calling thread's CPU time, in seconds: on a shared machine wall time
// would count other processes' turns too.
double cpu_now()
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void setup_certs()
{
	if (g_ready)
		return;
	char dir[] = "/tmp/brood-bench-tls-XXXXXX";
	if (!mkdtemp(dir) || certs_make(&g_certs, dir) < 0) {
		std::fprintf(stderr, "cannot make certificates (is openssl installed?)\n");
		std::exit(1);
	}
	g_ready = true;
}

struct Pair {
	tls_ctx *cctx = nullptr, *sctx = nullptr;
	tls_conn c{}, s{};
	std::vector<char> buf = std::vector<char>(1 << 16);
	double client_s = 0; // time spent in client calls

	explicit Pair(int version, bool tickets = true)
	{
		setup_certs();
		tls_ctx_opts co{};
		co.ca_file = g_certs.ca;
		co.version = version;
		tls_ctx_opts so{};
		so.cert_file = g_certs.cert;
		so.key_file = g_certs.key;
		so.version = version;
		so.no_tickets = !tickets;
		char err[256];
		if (tls_ctx_client(&cctx, &co, err, sizeof(err)) < 0 ||
		    tls_ctx_server(&sctx, &so, err, sizeof(err)) < 0) {
			std::fprintf(stderr, "%s\n", err);
			std::exit(1);
		}
		tls_conn_init(&c, cctx);
		tls_conn_init(&s, sctx);
	}
	~Pair()
	{
		tls_conn_close(&c);
		tls_conn_close(&s);
		tls_ctx_free(cctx);
		tls_ctx_free(sctx);
	}

	// Client -> server: untimed except the client's take.
	size_t c2s()
	{
		size_t moved = 0, n;
		for (;;) {
			double t0 = cpu_now();
			n = tls_take(&c, buf.data(), buf.size());
			client_s += cpu_now() - t0;
			if (!n)
				return moved;
			tls_feed(&s, buf.data(), n);
			if (!s.established)
				tls_handshake(&s);
			moved += n;
		}
	}
	// Server -> client: the client's feed and handshake step are timed.
	size_t s2c()
	{
		size_t moved = 0, n;
		while ((n = tls_take(&s, buf.data(), buf.size())) > 0) {
			double t0 = cpu_now();
			tls_feed(&c, buf.data(), n);
			if (!c.established)
				tls_handshake(&c);
			client_s += cpu_now() - t0;
			moved += n;
		}
		return moved;
	}
	// One connection: handshake, then the client reads a first response
	// (which carries the TLS 1.3 ticket), then both end cleanly.
	bool connect()
	{
		double t0 = cpu_now();
		tls_conn_start(&c, "127.0.0.1");
		tls_handshake(&c);
		client_s += cpu_now() - t0;
		tls_conn_start(&s, nullptr);
		for (int i = 0; i < 16 && (c2s() + s2c()) > 0; i++) {
		}
		if (!c.established || !s.established) {
			std::fprintf(stderr, "handshake failed: %s / %s\n", tls_reason(&c),
				     tls_reason(&s));
			std::exit(1);
		}
		tls_write(&s, "HTTP/1.1 200 OK\r\n\r\n", 19);
		s2c();
		t0 = cpu_now();
		char out[256];
		while (tls_read(&c, out, sizeof(out)) > 0) {
		}
		bool resumed = tls_resumed(&c);
		tls_conn_end(&c, true);
		client_s += cpu_now() - t0;
		tls_conn_end(&s, true);
		return resumed;
	}
};

// Client CPU per handshake; state.range(0): 12 or 13; range(1): resumed.
void BM_Handshake(benchmark::State &state)
{
	bool resumed = state.range(1);
	Pair p((int)state.range(0), resumed);

	p.connect(); // the first is always full; it leaves the session
	for (auto _ : state) {
		p.client_s = 0;
		if (p.connect() != resumed)
			state.SkipWithError("resumption not as asked");
		state.SetIterationTime(p.client_s);
	}
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Handshake)
    ->ArgsProduct({ { 12, 13 }, { 0, 1 } })
    ->ArgNames({ "tls", "resumed" })
    ->UseManualTime();

// Client CPU to take in one record carrying one SSE chunk as vLLM frames it
// (about 230 bytes with chunk framing): feed the ciphertext, read until
// "nothing more" - what the shard does per recv CQE.
void BM_RecordRead(benchmark::State &state)
{
	Pair p(13);
	const std::string chunk =
	    "e0\r\ndata: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":"
	    "1700000000,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" "
	    "token\"},\"logprobs\":null,\"finish_reason\":null}]}\r\n\r\n\r\n";
	const size_t batch = 4096;
	std::vector<char> wire;
	std::vector<size_t> rec_len;
	char out[TLS_RECORD_MAX];

	tls_conn_start(&p.c, "127.0.0.1");
	tls_handshake(&p.c);
	tls_conn_start(&p.s, nullptr);
	for (int i = 0; i < 16 && (p.c2s() + p.s2c()) > 0; i++) {
	}
	size_t i = batch;
	for (auto _ : state) {
		if (i == batch) {
			state.PauseTiming();
			wire.clear();
			rec_len.clear();
			for (size_t k = 0; k < batch; k++) {
				tls_write(&p.s, chunk.data(), chunk.size());
				size_t n = tls_take(&p.s, p.buf.data(), p.buf.size());
				wire.insert(wire.end(), p.buf.data(), p.buf.data() + n);
				rec_len.push_back(n);
			}
			i = 0;
			state.ResumeTiming();
		}
		static size_t off;
		if (i == 0)
			off = 0;
		tls_feed(&p.c, wire.data() + off, rec_len[i]);
		off += rec_len[i];
		ssize_t n, got = 0;
		while ((n = tls_read(&p.c, out, sizeof(out))) > 0)
			got += n;
		if (got != (ssize_t)chunk.size())
			state.SkipWithError("short read");
		i++;
	}
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordRead);

} // namespace

BENCHMARK_MAIN();
