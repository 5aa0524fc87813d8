// SPDX-License-Identifier: MIT
//
// The receive path of one streamed token, as vLLM sends it through uvicorn:
// an HTTP chunk "<hex>\r\ndata: {chat.completion.chunk}\n\n\r\n", decoded by
// http1_chunked_feed, cut into events by sse_feed, read by json_parse_event.
// Figures are per chunk (one token), over 4 KiB receive buffers (chunks cut
// across buffers included) and with each chunk received on its own; then
// each stage alone.
#include <benchmark/benchmark.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <string>
#include <vector>

extern "C" {
#include "http1.h"
#include "json.h"
#include "sse.h"
}

namespace
{

constexpr size_t recv_buf_bytes = 4096;
constexpr size_t nr_chunks = 2048;
constexpr size_t spill_cap_bytes = 16384;

const char *const words[] = { " the", " model",		 " answered",	",",   " and",
			      "\\n",  " \\\"quoted\\\"", " caf\\u00e9", " 42", "." };

std::string event_json(size_t i)
{
	char buf[512];

	snprintf(
	    buf, sizeof(buf),
	    "{\"id\":\"chatcmpl-3f9a1c0e8b7d4a6e9c2b5d8f1a4e7c0b\",\"object\":\"chat.completion."
	    "chunk\",\"created\":1718000000,\"model\":\"meta-llama/Llama-3.1-8B-Instruct\","
	    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},\"logprobs\":null,"
	    "\"finish_reason\":null}]}",
	    words[i % (sizeof(words) / sizeof(words[0]))]);
	return buf;
}

std::string sse_text(size_t i)
{
	return "data: " + event_json(i) + "\n\n";
}

std::string http_chunk(size_t i)
{
	std::string ev = sse_text(i);
	char size[32];

	snprintf(size, sizeof(size), "%zx\r\n", ev.size());
	return size + ev + "\r\n";
}

// A byte stream cut into receive buffers, each followed by JSON_PADDING bytes.
struct stream {
	std::vector<std::vector<char>> bufs;
	std::vector<size_t> lens;

	stream(const std::string &s, size_t buf_bytes)
	{
		for (size_t off = 0; off < s.size(); off += buf_bytes) {
			size_t n = std::min(buf_bytes, s.size() - off);

			bufs.emplace_back(n + JSON_PADDING, '\0');
			memcpy(bufs.back().data(), s.data() + off, n);
			lens.push_back(n);
		}
	}
};

std::string body_of(std::string (*make)(size_t), size_t n)
{
	std::string s;

	for (size_t i = 0; i < n; i++)
		s += make(i);
	return s;
}

struct pipeline {
	http1_chunked chunked;
	sse_parser sse;
	std::vector<char> spill = std::vector<char>(spill_cap_bytes + JSON_PADDING);
	size_t nr_tokens = 0;

	pipeline()
	{
		http1_chunked_init(&chunked);
		sse_init(&sse, spill.data(), spill_cap_bytes);
	}

	void events(const char *data, size_t len)
	{
		size_t off = 0;

		while (off < len) {
			sse_event ev;
			json_event je;
			ssize_t n = sse_feed(&sse, data + off, len - off, &ev);

			if (n < 0)
				break;
			off += (size_t)n;
			if (json_parse_event(ev.data, ev.data_len, &je) == 0 &&
			    je.delta == JSON_DELTA_CONTENT)
				nr_tokens++;
		}
	}

	void recv(const char *buf, size_t len)
	{
		size_t off = 0;

		while (off < len) {
			const char *data;
			size_t data_len;
			ssize_t n =
			    http1_chunked_feed(&chunked, buf + off, len - off, &data, &data_len);

			if (n <= 0)
				break;
			off += (size_t)n;
			if (data_len)
				events(data, data_len);
		}
	}
};

// Reports the time per chunk: the rate of chunks, inverted.
void per_chunk(benchmark::State &state)
{
	state.counters["per_chunk"] =
	    benchmark::Counter((double)(state.iterations() * nr_chunks),
			       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
	state.SetItemsProcessed((int64_t)(state.iterations() * nr_chunks));
}

void run_pipeline(benchmark::State &state, const stream &st)
{
	for (auto _ : state) {
		pipeline p;

		for (size_t i = 0; i < st.bufs.size(); i++)
			p.recv(st.bufs[i].data(), st.lens[i]);
		if (p.nr_tokens != nr_chunks)
			state.SkipWithError("lost tokens");
		benchmark::DoNotOptimize(p.nr_tokens);
	}
	per_chunk(state);
}

// Chunks as they arrive in 4 KiB receive buffers.
void BM_Pipeline_RecvBuf4K(benchmark::State &state)
{
	json_thread_init();
	stream st(body_of(http_chunk, nr_chunks), recv_buf_bytes);
	run_pipeline(state, st);
}
BENCHMARK(BM_Pipeline_RecvBuf4K);

// Each chunk received on its own, as when tokens trickle in.
void BM_Pipeline_ChunkPerRecv(benchmark::State &state)
{
	json_thread_init();
	stream st(std::string(), 1);
	for (size_t i = 0; i < nr_chunks; i++) {
		std::string c = http_chunk(i);

		st.bufs.emplace_back(c.size() + JSON_PADDING, '\0');
		memcpy(st.bufs.back().data(), c.data(), c.size());
		st.lens.push_back(c.size());
	}
	run_pipeline(state, st);
}
BENCHMARK(BM_Pipeline_ChunkPerRecv);

// Stage 1 alone: chunked framing over 4 KiB buffers.
void BM_Chunked_RecvBuf4K(benchmark::State &state)
{
	stream st(body_of(http_chunk, nr_chunks), recv_buf_bytes);

	for (auto _ : state) {
		http1_chunked c;
		size_t bytes = 0;

		http1_chunked_init(&c);
		for (size_t i = 0; i < st.bufs.size(); i++) {
			const char *buf = st.bufs[i].data(), *data;
			size_t off = 0, len = st.lens[i], data_len;

			while (off < len) {
				ssize_t n =
				    http1_chunked_feed(&c, buf + off, len - off, &data, &data_len);
				if (n <= 0)
					break;
				off += (size_t)n;
				bytes += data_len;
			}
		}
		benchmark::DoNotOptimize(bytes);
	}
	per_chunk(state);
}
BENCHMARK(BM_Chunked_RecvBuf4K);

// Stage 2 alone: SSE events over 4 KiB buffers of de-chunked body.
void BM_SSE_RecvBuf4K(benchmark::State &state)
{
	stream st(body_of(sse_text, nr_chunks), recv_buf_bytes);
	std::vector<char> spill(spill_cap_bytes + JSON_PADDING);

	for (auto _ : state) {
		sse_parser p;
		size_t nr = 0;

		sse_init(&p, spill.data(), spill_cap_bytes);
		for (size_t i = 0; i < st.bufs.size(); i++) {
			const char *buf = st.bufs[i].data();
			size_t off = 0, len = st.lens[i];

			while (off < len) {
				sse_event ev;
				ssize_t n = sse_feed(&p, buf + off, len - off, &ev);

				if (n < 0)
					break;
				off += (size_t)n;
				nr++;
			}
		}
		if (nr != nr_chunks)
			state.SkipWithError("lost events");
	}
	per_chunk(state);
}
BENCHMARK(BM_SSE_RecvBuf4K);

// Stage 3 alone: one chat.completion.chunk.
void BM_JSON_Event(benchmark::State &state)
{
	std::string s = event_json(0);
	std::vector<char> buf(s.size() + JSON_PADDING);
	json_event ev;

	json_thread_init();
	memcpy(buf.data(), s.data(), s.size());
	for (auto _ : state) {
		if (json_parse_event(buf.data(), s.size(), &ev) != 0)
			state.SkipWithError("parse failed");
		benchmark::DoNotOptimize(ev);
	}
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JSON_Event);

// Once per response: uvicorn's head for a streamed completion.
void BM_ResponseHead(benchmark::State &state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\n"
				   "date: Tue, 14 May 2024 10:00:00 GMT\r\n"
				   "server: uvicorn\r\n"
				   "content-type: text/event-stream; charset=utf-8\r\n"
				   "transfer-encoding: chunked\r\n\r\n";
	http1_response r;

	for (auto _ : state) {
		int n = http1_parse_response(head, sizeof(head) - 1, &r);

		benchmark::DoNotOptimize(n);
		benchmark::DoNotOptimize(r);
	}
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ResponseHead);

} // namespace

BENCHMARK_MAIN();
