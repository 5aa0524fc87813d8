// SPDX-License-Identifier: MIT
//
// tokenize/spm.cc: sentencepiece .model files through libsentencepiece, as a
// thin extern "C" wrapper. Each token's end is the end of its piece's byte
// span in the original text (SentencePieceText begin/end), so normalisation
// (whitespace folding, NFKC) does not shift the offsets.
//
// Allocation: each state keeps one SentencePieceText, reused by every encode,
// so the proto's storage is recycled; libsentencepiece still allocates
// internally while normalising and searching (std::string/vector), which no
// wrapper can avoid. Exceptions stay on this side of the C boundary.
#include <errno.h>
#include <string.h>

#include <memory>
#include <new>

#include <sentencepiece_processor.h>

#include "tok_int.h"

struct spm {
	sentencepiece::SentencePieceProcessor sp;
};

struct spm_state {
	const struct spm *m;
	size_t max_text;
	sentencepiece::ImmutableSentencePieceText spt;
};

extern "C" int spm_load(const char *path, struct spm **out, char *err, size_t err_len)
{
	try {
		std::unique_ptr<spm> m(new spm);
		auto status = m->sp.Load(path);

		if (!status.ok()) {
			tok_errf(err, err_len, "%s: not a sentencepiece model: %s", path,
				 status.ToString().c_str());
			return -EINVAL;
		}
		*out = m.release();
		return 0;
	} catch (...) {
		tok_errf(err, err_len, "%s: out of memory", path);
		return -ENOMEM;
	}
}

extern "C" void spm_free(struct spm *m)
{
	delete m;
}

extern "C" int spm_state_new(const struct spm *m, size_t max_text, struct spm_state **out)
{
	try {
		spm_state *st = new spm_state;

		st->m = m;
		st->max_text = max_text;
		*out = st;
		return 0;
	} catch (...) {
		return -ENOMEM;
	}
}

extern "C" void spm_state_free(struct spm_state *st)
{
	delete st;
}

extern "C" long spm_encode(struct spm_state *st, const char *text, size_t len, uint32_t *ids,
			   uint32_t *ends, size_t cap)
{
	if (len > st->max_text)
		return -E2BIG;
	try {
		auto status =
		    st->m->sp.Encode(absl::string_view(text, len), st->spt.mutable_proto());

		if (!status.ok())
			return -EINVAL;
		size_t n = st->spt.pieces_size();
		uint32_t prev = 0;

		for (size_t i = 0; i < n && i < cap; i++) {
			auto p = st->spt.pieces((int)i);
			// Pieces of no bytes (a lone word-boundary mark) end where
			// the previous one did: ends stay non-decreasing.
			uint32_t end = p.end() > prev ? p.end() : prev;

			// Text past the last piece (trailing whitespace the model
			// folds away) still belongs to the last token.
			if (i + 1 == n)
				end = (uint32_t)len;
			if (ids)
				ids[i] = p.id();
			if (ends)
				ends[i] = end;
			prev = end;
		}
		return (long)n;
	} catch (...) {
		return -ENOMEM;
	}
}
