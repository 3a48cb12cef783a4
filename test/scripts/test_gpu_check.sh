#!/usr/bin/env bash
# scripts/gpu_check.sh --run in its dry mode, on the CPU machine, so the kit cannot rot between
# GPU sessions: every GPU stage must report "skipped: no GPU", the CPU-side stages (the memory
# plan of a 16K evaluation of 124M, the synthetic shards) must pass with the real programs, and
# the logs and the summary table must be written under --out. Also: --pack and --run refuse bad
# arguments with one error line.
# Usage: test_gpu_check.sh BUILD_DIR
set -u
BUILD=$(cd "${1:?usage: test_gpu_check.sh BUILD_DIR}" && pwd)
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
W=$(mktemp -d /tmp/lssa_gpucheck.XXXXXX)
trap 'rm -rf "$W"' EXIT
. "$SRC/test/lib.sh"

LSSA_HOST_BIN="$BUILD:$BUILD/test/tools" RUN_BUDGET=60 "$SRC/scripts/gpu_check.sh" --run --dry --pack "$W/nopack" \
  --out "$W/out" >"$W/run.log" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "dry --run exits 0" || { bad "dry --run exit $rc"; cat "$W/run.log"; }
S=$W/out/summary.md
[ -f "$S" ] && ok "summary.md written" || bad "no summary.md"
[ -f "$W/out/logs/environment.txt" ] && grep -q '^date: ' "$W/out/logs/environment.txt" &&
  grep -q 'dry' "$W/out/logs/environment.txt" && ok "environment log (date, mode)" || bad "environment log"
[ -f "$W/out/logs/libs.txt" ] && grep -q '^libcublasLt.so.13: ' "$W/out/logs/libs.txt" && ok "library discovery log" ||
  bad "library discovery log"
for stage in "tests: test_cuda_layers" "tests: flash_gpu_test" "tests: test_attention_reference" "bench d12 T1024" \
             "attention bench 1K-16K" "eval 124M T=16384 peak memory" "train small lssa" "resume bit-exact"; do
  grep -F "| $stage" "$S" | grep -q "skipped: no GPU" && ok "'$stage' skipped: no GPU" || bad "'$stage' not skipped"
done
plan=$(grep -F "| plan 124M T=16384 (CPU) | PASS |" "$S" | grep -oE '[0-9.]+ GiB planned' | grep -oE '^[0-9.]+')
[ -n "$plan" ] && awk -v g="$plan" 'BEGIN {exit !(g < 7.45)}' && ok "memory plan row: $plan GiB (< 8 GB)" ||
  bad "memory plan row: '$(grep -F 'plan 124M' "$S")'"
grep -F "| synthetic shards (CPU) | PASS |" "$S" >/dev/null && ls "$W"/out/work/bench_train_*.bin >/dev/null 2>&1 &&
  ok "synthetic shards written" || bad "synthetic shards"
grep -q "FAIL" "$S" && bad "a FAIL row in the dry run: $(grep FAIL "$S")" || ok "no FAIL row"

"$SRC/scripts/gpu_check.sh" --run --bogus >"$W/o.txt" 2>"$W/e.txt"
[ $? -ne 0 ] && grep -q '^error: ' "$W/e.txt" && ok "unknown --run option refused" || bad "unknown --run option"
"$SRC/scripts/gpu_check.sh" >"$W/o.txt" 2>"$W/e.txt"
[ $? -ne 0 ] && grep -q '^error: ' "$W/e.txt" && ok "no mode refused" || bad "no mode"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
