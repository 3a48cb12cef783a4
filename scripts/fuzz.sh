#!/usr/bin/env bash
# Longer fuzzing by hand (CI runs each target 10 s: scripts/test.sh --sanitize).
#
#   scripts/fuzz.sh                 # every target, 10 minutes each
#   scripts/fuzz.sh fuzz_shard 3600 # one target, one hour
#   LSSA_FUZZ_JOBS=2 scripts/fuzz.sh fuzz_checkpoint 600   # parallel workers
#
# Builds the sanitizer build (build-sanitize) when needed. New inputs go to
# build-sanitize/test/fuzz/scratch/<target>/ (the committed seeds in test/fuzz/corpus/ stay as
# they are: copy an interesting input there by hand); a crash is written to
# build-sanitize/fuzz-artifacts/ and ends the run with a non-zero exit. The tokenizer round-trip
# target needs the GPT-2 tokenizer files ($LSSA_TOKENIZER_DIR, default .cache/tokenizer).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${LSSA_SANITIZE_BUILD_DIR:-$ROOT/build-sanitize}
TARGETS=(fuzz_safetensors fuzz_checkpoint fuzz_shard fuzz_tokenizer_files fuzz_tokenizer_roundtrip fuzz_config)
[ $# -ge 1 ] && TARGETS=("$1")
SECONDS_EACH=${2:-600}
JOBS=${LSSA_FUZZ_JOBS:-1}

if [ ! -f "$BUILD/build.ninja" ]; then
  scripts/install_deps.sh
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 \
    -DCMAKE_CXX_COMPILER=clang++-14 -DLSSA_SANITIZE=ON -DLSSA_CUDA=OFF -DLSSA_MPI=OFF
fi
cmake --build "$BUILD" --target "${TARGETS[@]}"
export LSSA_TOKENIZER_DIR=${LSSA_TOKENIZER_DIR:-$ROOT/.cache/tokenizer}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
for t in "${TARGETS[@]}"; do
  scratch=$BUILD/test/fuzz/scratch/$t
  mkdir -p "$scratch" "$BUILD/fuzz-artifacts"
  echo "fuzz.sh: $t for $SECONDS_EACH s ($JOBS worker(s))"
  par=()
  [ "$JOBS" -gt 1 ] && par=(-jobs="$JOBS" -workers="$JOBS")
  "$BUILD/test/fuzz/$t" -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=2048 "${par[@]}" \
    -artifact_prefix="$BUILD/fuzz-artifacts/$t-" -print_final_stats=1 "$scratch" "test/fuzz/corpus/$t"
done
