#!/usr/bin/env bash
# gpu_check.sh — the first thing to run whenever a GPU is at hand. ONE command that:
#   1. configures and builds the project (Release, CUDA for this GPU's architecture),
#   2. runs every GPU test (ctest -L gpu) and fails if any of them failed OR skipped,
#   3. benchmarks training of the 124M model (d12) at T = 1024 with softmax and with lssa on
#      synthetic shards it writes itself (tokens/s and MFU, mean over the steps after warm-up),
#   4. trains a small model for ~150 steps on synthetic structured tokens and checks the loss falls,
#   5. optionally builds llm.c (LLMC_DIR=/path/to/llm.c checkout) and benchmarks it the same way,
# and prints a short table last. Exit status: 0 only if every step passed.
#
#   scripts/gpu_check.sh                      # from the repository root
#   BUILD_DIR=build-gpu STEPS=20 scripts/gpu_check.sh
#
# Environment: BUILD_DIR (default build-gpu), CUDA_ARCH (default native), BENCH_BATCH (16),
# BENCH_STEPS (12), TRAIN_STEPS (150), LLMC_DIR (optional), LSSA_DEPS_DIR (see below).
#
# Offline machines (no package registry): the build needs CLI11 headers, nlohmann_json and
# GoogleTest. Pack them from a machine that has them (Debian: libcli11-dev, nlohmann-json3-dev,
# libgtest-dev) into the ignored folder .deps/ of the checkout:
#   scripts/gpu_check.sh --pack-deps          # writes .deps/prefix (headers + CMake config) and
#                                             # .deps/googletest (sources, built here on use)
# then carry that folder to the GPU machine (device tool: carry [".deps"]), where the script
# picks it up by itself, or point LSSA_DEPS_DIR at such a folder elsewhere.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEPS=${LSSA_DEPS_DIR:-$ROOT/.deps}

if [[ "${1:-}" == "--pack-deps" ]]; then
  set -e
  mkdir -p "$DEPS/prefix/include" "$DEPS/prefix/share/cmake"
  cp -r /usr/include/CLI "$DEPS/prefix/include/"
  cp -r /usr/include/nlohmann "$DEPS/prefix/include/"
  cp -r /usr/share/cmake/nlohmann_json "$DEPS/prefix/share/cmake/"
  rm -rf "$DEPS/googletest" && cp -r /usr/src/googletest "$DEPS/googletest"
  du -sh "$DEPS"
  echo "packed into $DEPS; carry it as .deps (it is git-ignored)"
  exit 0
fi

BUILD=${BUILD_DIR:-build-gpu}
ARCH=${CUDA_ARCH:-native}
BENCH_B=${BENCH_BATCH:-16}
BENCH_STEPS=${BENCH_STEPS:-12}
TRAIN_STEPS=${TRAIN_STEPS:-150}
JOBS=$(nproc 2>/dev/null || echo 4)
WORK=$BUILD/gpu_check
mkdir -p "$WORK"
declare -a ROWS=()
FAILED=0
row() { ROWS+=("$(printf '%-34s %-6s %s' "$1" "$2" "$3")"); [[ "$2" == "FAIL" ]] && FAILED=1; }
say() { printf '\n=== %s\n' "$*"; }

finish() {
  printf '\n==================== gpu_check summary ====================\n'
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/GPU: /'
  printf '%-34s %-6s %s\n' "check" "result" "detail"
  for r in "${ROWS[@]}"; do echo "$r"; done
  if [[ $FAILED -ne 0 ]]; then echo "gpu_check: FAILED"; exit 1; fi
  echo "gpu_check: all passed"
  exit 0
}

# ---- 1. dependencies (offline) and build
PREFIXES=""
if [[ -d "$DEPS/prefix" ]]; then PREFIXES="$DEPS/prefix"; fi
if [[ -d "$DEPS/googletest" ]]; then
  say "building GoogleTest from $DEPS/googletest"
  if cmake -S "$DEPS/googletest" -B "$BUILD/_deps/gtest-build" -DCMAKE_BUILD_TYPE=Release -DBUILD_GMOCK=OFF \
       -DCMAKE_INSTALL_PREFIX="$ROOT/$BUILD/_deps/gtest-prefix" >"$WORK/gtest.log" 2>&1 &&
     cmake --build "$BUILD/_deps/gtest-build" -j"$JOBS" >>"$WORK/gtest.log" 2>&1 &&
     cmake --install "$BUILD/_deps/gtest-build" >>"$WORK/gtest.log" 2>&1; then
    PREFIXES="${PREFIXES:+$PREFIXES;}$ROOT/$BUILD/_deps/gtest-prefix"
  else
    row "deps: googletest" FAIL "see $WORK/gtest.log"; finish
  fi
fi

say "configure + build ($BUILD, CUDA arch $ARCH)"
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
t0=$(date +%s)
if cmake -S . -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$ARCH" \
     ${PREFIXES:+-DCMAKE_PREFIX_PATH="$PREFIXES"} >"$WORK/configure.log" 2>&1 &&
   grep -q "CUDA backend: ON" "$WORK/configure.log" &&
   cmake --build "$BUILD" -j"$JOBS" >"$WORK/build.log" 2>&1; then
  row "build (Release, $ARCH)" PASS "$(( $(date +%s) - t0 )) s"
else
  grep -q "CUDA backend: ON" "$WORK/configure.log" || echo "no CUDA compiler found (CUDA backend OFF)" >>"$WORK/configure.log"
  tail -20 "$WORK/configure.log" "$WORK/build.log" 2>/dev/null
  row "build (Release, $ARCH)" FAIL "see $WORK/configure.log, $WORK/build.log"; finish
fi

# ---- 2. GPU tests: none may fail, none may skip (a skip here means the device was not seen)
say "GPU tests (ctest -L gpu)"
ctest --test-dir "$BUILD" -L gpu --output-on-failure -j1 >"$WORK/ctest_gpu.log" 2>&1
rc=$?
tail -5 "$WORK/ctest_gpu.log"
total=$(grep -oE 'tests passed, [0-9]+ tests failed out of [0-9]+' "$WORK/ctest_gpu.log" | grep -oE '[0-9]+$' || echo 0)
failed=$(grep -oE '[0-9]+ tests failed' "$WORK/ctest_gpu.log" | grep -oE '^[0-9]+' || echo "?")
skipped=$(grep -cE '\*\*\*Skipped|Not Run' "$WORK/ctest_gpu.log")
if [[ $rc -eq 0 && "$skipped" == "0" && "${total:-0}" != "0" ]]; then
  row "GPU tests" PASS "$total tests"
else
  row "GPU tests" FAIL "$failed failed, $skipped skipped of ${total:-?} (see $WORK/ctest_gpu.log)"
fi
say "CPU tests (ctest -LE gpu)"
if ctest --test-dir "$BUILD" -LE gpu -j"$JOBS" >"$WORK/ctest_cpu.log" 2>&1; then
  row "CPU tests" PASS "$(grep -oE '[0-9]+ tests failed out of [0-9]+' "$WORK/ctest_cpu.log")"
else
  row "CPU tests" FAIL "see $WORK/ctest_cpu.log"
fi

# ---- synthetic llm.c token shards (header: 256 int32, magic 20240520, version 1, count; uint16 tokens)
write_shards() {  # dir, tokens, kind (random | structured)
  python3 - "$1" "$2" "$3" <<'PY'
import os, struct, sys, random
d, n, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(d, exist_ok=True)
rng = random.Random(1234)
def tokens(count):
    if kind == "random":
        return [rng.randrange(50257) for _ in range(count)]
    out = []  # documents of interleaved arithmetic progressions: learnable in a few hundred steps
    while len(out) < count:
        k, a, L = rng.randrange(1, 7), rng.randrange(1000), rng.randrange(64, 512)
        out.append(50256)
        out += [(a + k * i) % 1000 for i in range(L)]
    return out[:count]
for name, count in (("train_000001.bin", n), ("val_000000.bin", max(n // 10, 65536))):
    toks = tokens(count)
    hdr = [0] * 256
    hdr[0], hdr[1], hdr[2] = 20240520, 1, len(toks)
    with open(os.path.join(d, name), "wb") as f:
        f.write(struct.pack("<256i", *hdr))
        f.write(struct.pack("<%dH" % len(toks), *toks))
PY
}

# mean tok/s and MFU of the steps after the first two, from a run's log.jsonl
log_stats() {
  python3 - "$1" <<'PY'
import json, sys
steps = [json.loads(l) for l in open(sys.argv[1]) if '"event":"step"' in l.replace(" ", "")]
steps = steps[2:] or steps
tok = sum(s["tok_s"] for s in steps) / max(1, len(steps))
mfu = [s["mfu"] for s in steps if s.get("mfu") is not None]
print("%.0f %s" % (tok, ("%.1f" % (100 * sum(mfu) / len(mfu))) if mfu else "n/a"))
PY
}

# ---- 3. benchmark: 124M at T = 1024, softmax and lssa
say "benchmark data"
write_shards "$WORK/bench_data" 4000000 random || { row "benchmark data" FAIL "python3 shard writer"; finish; }
for attn in softmax lssa; do
  say "benchmark d12 T=1024 --attn $attn"
  out="$WORK/bench_$attn"
  rm -rf "$out"
  if "$BUILD/train_gpt2" --device cuda --model d12 --attn "$attn" --batch "$BENCH_B" --total-batch $((BENCH_B * 1024)) \
       --steps "$BENCH_STEPS" --warmup 2 --val-every 0 --train-data "$WORK/bench_data/train_*.bin" --out "$out" \
       >"$out.log" 2>&1; then
    read -r tok mfu < <(log_stats "$out/log.jsonl")
    row "bench d12 T1024 B$BENCH_B $attn" PASS "$tok tok/s, MFU ${mfu}%"
    declare "TOK_$attn=$tok"
  else
    tail -3 "$out.log"
    row "bench d12 T1024 B$BENCH_B $attn" FAIL "see $out.log"
  fi
done

# ---- 4. a short real training run: the loss must fall
say "training run (small model, structured tokens, $TRAIN_STEPS steps)"
write_shards "$WORK/train_data" 2000000 structured || { row "training data" FAIL "python3 shard writer"; finish; }
out="$WORK/train_small"
rm -rf "$out"
if "$BUILD/train_gpt2" --device cuda --model small --attn lssa --batch 16 --total-batch $((16 * 256)) \
     --steps "$TRAIN_STEPS" --lr 1e-3 --warmup 10 --val-every 50 --val-tokens 65536 \
     --train-data "$WORK/train_data/train_*.bin" --val-data "$WORK/train_data/val_*.bin" --out "$out" >"$out.log" 2>&1; then
  verdict=$(python3 - "$out/log.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
loss = [e["loss"] for e in ev if e.get("event") == "step"]
val = [e["loss"] for e in ev if e.get("event") == "val"]
first, last = sum(loss[:5]) / 5, sum(loss[-10:]) / 10
ok = last < first - 1.0 and (len(val) < 2 or val[-1] < val[0] - 1.0)
print("%s train %.3f -> %.3f, val %s" % ("PASS" if ok else "FAIL", first, last,
      " -> ".join("%.3f" % v for v in (val[0], val[-1])) if val else "n/a"))
PY
)
  row "train small lssa ${TRAIN_STEPS} steps" "${verdict%% *}" "${verdict#* }"
else
  tail -3 "$out.log"
  row "train small lssa ${TRAIN_STEPS} steps" FAIL "see $out.log"
fi

# ---- 5. optional: llm.c on the same GPU, same shards (its non-cuDNN path)
if [[ -n "${LLMC_DIR:-}" ]]; then
  say "llm.c from $LLMC_DIR"
  if make -C "$LLMC_DIR" train_gpt2cu USE_CUDNN=0 >"$WORK/llmc_build.log" 2>&1; then
    (cd "$LLMC_DIR" && ./train_gpt2cu -e d12 -b "$BENCH_B" -t 1024 -d $((BENCH_B * 1024)) -x "$BENCH_STEPS" -v 0 -s 0 \
       -i "$ROOT/$WORK/bench_data/train_*.bin" -j "$ROOT/$WORK/bench_data/val_*.bin" -o "" ) >"$WORK/llmc.log" 2>&1
    llmc=$(grep -oE '[0-9]+ tok/s' "$WORK/llmc.log" | tail -n +3 | awk '{s+=$1; n++} END {if (n) printf "%.0f", s/n}')
    if [[ -n "$llmc" ]]; then
      ratio=$(python3 -c "print('%.2f' % (${TOK_softmax:-0} / $llmc))")
      row "llm.c d12 T1024 B$BENCH_B" PASS "$llmc tok/s; ours/llm.c (softmax) = $ratio"
    else
      row "llm.c d12 T1024 B$BENCH_B" FAIL "no tok/s in $WORK/llmc.log"
    fi
  else
    row "llm.c build" FAIL "see $WORK/llmc_build.log"
  fi
fi

finish
