// SPDX-License-Identifier: MIT
//
// tokenize/hfjson.cc: a Hugging Face tokenizer.json with a byte-level BPE
// model (GPT-2, Llama 3, Qwen 2/3, GPT-4o style), read through simdjson's
// DOM API into the C byte-level BPE of bpe.c. This file only reads JSON;
// tokenising is C.
//
// Supported: model BPE without byte_fallback or subword affixes;
// pre_tokenizer ByteLevel (GPT-2 pattern) or Sequence[Split(Regex), ByteLevel
// (use_regex false)]; normalizer none or NFC; added tokens matched in the
// text before pre-tokenisation, leftmost-longest, as HF does. Anything else is
// one line naming what is not supported. Only simdjson's error-code API is
// used, and a catch-all keeps any C++ exception (bad_alloc) out of C.
#include <errno.h>
#include <string.h>

#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "tok_int.h"

using namespace simdjson;
using std::string_view;

namespace
{

// GPT-2's bytes_to_unicode, reversed: code point -> byte, -1 if none.
struct byte_level {
	int byte_of[324];

	byte_level()
	{
		int n = 0;

		for (int &b : byte_of)
			b = -1;
		for (int b = 0; b < 256; b++) {
			bool self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;

			if (self)
				byte_of[b] = b;
			else
				byte_of[256 + n++] = b;
		}
	}

	// Bytes of a vocabulary string; false if it holds a code point outside the map.
	bool decode(string_view s, std::string &out) const
	{
		out.clear();
		for (size_t i = 0; i < s.size();) {
			unsigned char c = (unsigned char)s[i];
			uint32_t cp;
			size_t n;

			if (c < 0x80) {
				cp = c;
				n = 1;
			} else if ((c & 0xe0) == 0xc0 && i + 1 < s.size()) {
				cp = (c & 0x1fu) << 6 | ((unsigned char)s[i + 1] & 0x3fu);
				n = 2;
			} else {
				return false; // the map needs two bytes of UTF-8 at most
			}
			if (cp >= 324 || byte_of[cp] < 0)
				return false;
			out.push_back((char)byte_of[cp]);
			i += n;
		}
		return !out.empty();
	}
};

const byte_level bl;

// An optional boolean field: def when absent or not a boolean.
bool opt_bool(dom::element e, const char *key, bool def)
{
	bool v;

	return e[key].get(v) ? def : v;
}

struct loader {
	const char *path;
	char *err;
	size_t err_len;
	std::vector<std::string> patterns;
	bool nfc = false;

	int fail(int ret, const char *what)
	{
		tok_errf(err, err_len, "%s: %s", path, what);
		return ret;
	}

	int read_normalizer(dom::element doc)
	{
		dom::element n;
		string_view type;

		if (doc["normalizer"].get(n) || n.is_null())
			return 0;
		if (n["type"].get(type))
			return fail(-EINVAL, "normalizer without a type");
		if (type == "NFC") {
			nfc = true;
			return 0;
		}
		dom::array seq;

		// A Sequence of none (DeepSeek V3) or of NFC alone.
		if (type == "Sequence" && !n["normalizers"].get(seq) && seq.size() <= 1) {
			string_view t;

			if (seq.size() == 0)
				return 0;
			if (!seq.at(0)["type"].get(t) && t == "NFC") {
				nfc = true;
				return 0;
			}
			type = "Sequence";
		}
		tok_errf(err, err_len, "%s: normalizer %.*s is not supported (none or NFC)", path,
			 (int)type.size(), type.data());
		return -ENOTSUP;
	}

	// A ByteLevel pre-tokenizer: alone it brings GPT-2's pattern.
	int read_byte_level(dom::element p, bool alone)
	{
		bool prefix = opt_bool(p, "add_prefix_space", false);
		bool use_regex = opt_bool(p, "use_regex", true);
		if (prefix)
			return fail(-ENOTSUP, "ByteLevel add_prefix_space is not supported");
		if (use_regex != alone)
			return fail(-ENOTSUP, alone ? "ByteLevel without its regex and no Split"
						    : "a Split and a ByteLevel regex both");
		if (alone)
			patterns.push_back(tok_pat_r50k);
		return 0;
	}

	int read_split(dom::element p)
	{
		string_view re, behavior;
		bool invert = opt_bool(p, "invert", false);

		if (p["pattern"]["Regex"].get(re))
			return fail(-ENOTSUP, "only Split with a Regex pattern is supported");
		if (p["behavior"].get(behavior))
			return fail(-EINVAL, "Split without a behavior");
		// Isolated keeps the matches and what lies between as pieces;
		// Removed + invert keeps the matches. The patterns of byte-level
		// BPEs match all valid text, so both give the same pieces.
		if (!(behavior == "Isolated" && !invert) && !(behavior == "Removed" && invert))
			return fail(-ENOTSUP,
				    "Split behaviour other than Isolated, or inverted Removed");
		patterns.push_back(std::string(re));
		return 0;
	}

	// ByteLevel alone, or Sequence[Split, ..., ByteLevel]: the Splits apply in
	// turn, each to the pieces of the one before (DeepSeek V3 has three).
	int read_pre_tokenizer(dom::element doc)
	{
		static const char *const shape =
		    "pre_tokenizer is not ByteLevel or Sequence[Split..., ByteLevel]";
		dom::element p;
		dom::array seq;
		string_view type;
		size_t n, i = 0;

		if (doc["pre_tokenizer"].get(p) || p.is_null() || p["type"].get(type))
			return fail(-ENOTSUP, "no pre_tokenizer: not a byte-level BPE");
		if (type == "ByteLevel")
			return read_byte_level(p, true);
		if (type != "Sequence" || p["pretokenizers"].get(seq))
			return fail(-ENOTSUP, shape);
		n = seq.size();
		if (n < 2 || n - 1 > BPE_MAX_SPLITS)
			return fail(-ENOTSUP, shape);
		for (dom::element e : seq) {
			string_view t;
			int ret;

			if (e["type"].get(t))
				return fail(-ENOTSUP, shape);
			if (++i < n)
				ret = t == "Split" ? read_split(e) : fail(-ENOTSUP, shape);
			else
				ret = t == "ByteLevel" ? read_byte_level(e, false)
						       : fail(-ENOTSUP, shape);
			if (ret)
				return ret;
		}
		return 0;
	}

	int read_model(dom::element model, struct bpe **out)
	{
		string_view type;
		dom::object vocab;
		dom::array merges;
		bool ignore_merges = opt_bool(model, "ignore_merges", false);
		bool byte_fallback = opt_bool(model, "byte_fallback", false);
		std::string a, c;
		int ret;

		if (model["type"].get(type) || type != "BPE")
			return fail(-ENOTSUP, "model is not BPE");
		if (byte_fallback)
			return fail(-ENOTSUP, "BPE with byte_fallback (sentencepiece-style) is not "
					      "supported: use the sentencepiece .model");
		for (const char *k : { "continuing_subword_prefix", "end_of_word_suffix" }) {
			string_view v;

			if (!model[k].get(v) && !v.empty())
				return fail(-ENOTSUP,
					    "BPE subword prefixes/suffixes are not supported");
		}
		if (model["vocab"].get(vocab) || model["merges"].get(merges))
			return fail(-EINVAL, "model without vocab or merges");

		struct bpe *b = bpe_new(vocab.size(), merges.size(), 1);

		if (!b)
			return fail(-ENOMEM, "out of memory");
		*out = b;
		for (auto kv : vocab) {
			uint64_t id;

			if (kv.value.get(id) || id >= TOK_NONE)
				return fail(-EINVAL, "vocab id is not a 32-bit number");
			if (!bl.decode(kv.key, a))
				continue; // not byte-level text: no piece can become it
			ret = bpe_add_token(b, (const uint8_t *)a.data(), a.size(), (uint32_t)id);
			if (ret && ret != -EEXIST)
				return fail(ret, "out of memory");
		}
		for (dom::element m : merges) {
			string_view s, l, r;
			dom::array pair;

			if (!m.get(s)) {
				size_t sp = s.find(' ');

				if (sp == string_view::npos)
					return fail(-EINVAL, "a merge is not \"left right\"");
				l = s.substr(0, sp);
				r = s.substr(sp + 1);
			} else if (!m.get(pair) && pair.size() == 2 && !pair.at(0).get(l) &&
				   !pair.at(1).get(r)) {
			} else {
				return fail(-EINVAL,
					    "a merge is neither \"left right\" nor [left, right]");
			}
			// A merge of tokens outside the vocabulary can never apply; HF
			// refuses the file, brood keeps the merge's rank and skips it.
			if (!bl.decode(l, a) || !bl.decode(r, c))
				continue;
			ret = bpe_add_merge(b, (const uint8_t *)a.data(), a.size(),
					    (const uint8_t *)c.data(), c.size());
			if (ret && ret != -ENOENT)
				return fail(ret, "out of memory");
		}
		whole_first = ignore_merges;
		return 0;
	}

	int read_added(dom::element doc, struct bpe *b)
	{
		dom::array added;

		if (doc["added_tokens"].get(added))
			return 0;
		for (dom::element t : added) {
			string_view content;
			uint64_t id;

			if (t["content"].get(content) || t["id"].get(id) || id >= TOK_NONE)
				return fail(-EINVAL, "an added token without content or id");
			if (content.empty())
				continue;
			int ret = bpe_add_special(b, (const uint8_t *)content.data(),
						  content.size(), (uint32_t)id);

			if (ret)
				return fail(ret, "out of memory");
		}
		return 0;
	}

	bool whole_first = false;

	int load(struct bpe **out)
	{
		dom::parser parser;
		dom::element doc;
		dom::element model;
		struct bpe *b = nullptr;
		int ret;

		auto e = parser.load(path).get(doc);
		if (e == IO_ERROR) {
			tok_errf(err, err_len, "%s: cannot read the file", path);
			return -ENOENT;
		}
		if (e) {
			tok_errf(err, err_len, "%s: not JSON: %s", path, error_message(e));
			return -EINVAL;
		}
		string_view type;

		if (doc["model"].get(model))
			return fail(-EINVAL, "no model: not a tokenizer.json");
		if (model["type"].get(type) || type != "BPE")
			return fail(-ENOTSUP, "model is not BPE");
		ret = read_normalizer(doc);
		if (!ret)
			ret = read_pre_tokenizer(doc);
		if (!ret)
			ret = read_model(model, &b);
		if (!ret)
			ret = read_added(doc, b);
		if (!ret) {
			std::vector<const char *> pats;

			for (const std::string &pat : patterns)
				pats.push_back(pat.c_str());
			ret = bpe_finish(b, pats.data(), (int)pats.size(), whole_first, nfc, err,
					 err_len);
		}
		if (ret) {
			bpe_free(b);
			return ret;
		}
		*out = b;
		return 0;
	}
};

} // namespace

extern "C" int hfjson_load(const char *path, struct bpe **out, char *err, size_t err_len)
{
	try {
		loader l{ path, err, err_len, {}, false };

		return l.load(out);
	} catch (...) {
		tok_errf(err, err_len, "%s: out of memory", path);
		return -ENOMEM;
	}
}
