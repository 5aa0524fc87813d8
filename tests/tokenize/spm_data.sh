#!/usr/bin/env bash
# Trains the sentencepiece test models from text in Debian's fortune packages
# (English, German, Russian, Chinese, Spanish) and writes the reference ids,
# from spm_encode, for the test lines. Usage: spm_data.sh OUTDIR
#   OUTDIR/spm_unigram8k.model, spm_bpe32k.model   the models
#   OUTDIR/spm_lines.txt                           held-out corpus lines + spm_lines.txt
#   OUTDIR/spm_{unigram8k,bpe32k}.{ids,pieces}     spm_encode's output per line
# Fixed arguments; the work is skipped when OUTDIR holds a run with the same
# packages and arguments (about a minute on 2 cores otherwise).
set -euo pipefail
out=$1
src=$(cd "$(dirname "$0")" && pwd)
fort=/usr/share/games/fortunes
fail() { echo "spm_data: $*: run scripts/setup.sh" >&2; exit 1; }
command -v spm_train >/dev/null && command -v spm_encode >/dev/null || fail "spm_train/spm_encode missing"
[ -d "$fort/de" ] && [ -d "$fort/ru" ] && [ -f "$fort/chinese" ] && [ -f "$fort/fortunes" ] ||
	fail "fortune texts missing in $fort"

args="--character_coverage=0.9995 --num_threads=2 --minloglevel=1 --input_sentence_size=0 --shuffle_input_sentence=false"
stamp="v1 $args $(dpkg-query -W -f='${Version} ' sentencepiece fortunes fortunes-de fortunes-ru fortunes-zh 2>/dev/null) $(cksum <"$src/spm_lines.txt")"
mkdir -p "$out"
[ -f "$out/spm.stamp" ] && [ "$(cat "$out/spm.stamp")" = "$stamp" ] && exit 0
rm -f "$out/spm.stamp"

# One third of the lines trains; a sample of the rest is held out for tests.
find "$fort" -type f ! -name '*.dat' ! -name '*.u8' | LC_ALL=C sort | xargs cat |
	iconv -f UTF-8 -t UTF-8 -c | tr -d '\r' >"$out/spm_all.txt"
awk 'NR % 3 == 0' "$out/spm_all.txt" >"$out/spm_corpus.txt"
{ awk 'NR % 150 == 1 && length($0) > 0' "$out/spm_all.txt"; cat "$src/spm_lines.txt"; } >"$out/spm_lines.txt"
rm -f "$out/spm_all.txt"

# shellcheck disable=SC2086
spm_train --input="$out/spm_corpus.txt" $args --model_prefix="$out/spm_unigram8k" \
	--model_type=unigram --vocab_size=8000
# shellcheck disable=SC2086
spm_train --input="$out/spm_corpus.txt" $args --model_prefix="$out/spm_bpe32k" \
	--model_type=bpe --vocab_size=32000
for m in unigram8k bpe32k; do
	spm_encode --model="$out/spm_$m.model" --output_format=id <"$out/spm_lines.txt" >"$out/spm_$m.ids"
	spm_encode --model="$out/spm_$m.model" --output_format=piece <"$out/spm_lines.txt" >"$out/spm_$m.pieces"
done
echo "$stamp" >"$out/spm.stamp"
