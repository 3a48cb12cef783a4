#!/usr/bin/env bash
# CPU benchmark, side by side in one run: tokens/s of one training step (forward + backward +
# AdamW) of the same config for our CPU backend (train_gpt2 --device cpu) and for the PyTorch
# model of test/reference/bench_step.py (Debian's torch, same thread count): both the plain
# oracle model and its "native" form (PyTorch's fused LayerNorm/GELU/cross-entropy + torch AdamW).
#
#   scripts/bench_cpu.sh [--threads N] [--steps K] [--attn softmax,lssa]
# Config: L=4, NH=4, C=256, T=256, B=4, V=50257 (as GPT-2). Prints a table with ratios
# (ours / PyTorch; > 1 means we are faster). Needs a built ./build (scripts/test.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=$(nproc); STEPS=6; ATTNS=softmax,lssa
while [ $# -gt 0 ]; do
  case $1 in
    --threads) THREADS=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --attn) ATTNS=$2; shift 2 ;;
    *) echo "usage: $0 [--threads N] [--steps K] [--attn a,b]" >&2; exit 2 ;;
  esac
done
. scripts/openblas_env.sh   # the same BLAS kernels for both sides
B=${LSSA_BUILD_DIR:-build}
[ -x "$B/train_gpt2" ] || { echo "bench_cpu.sh: build first (scripts/test.sh or cmake --build build)" >&2; exit 1; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
"$B/test/tools/make_test_shards" --out "$W/b" --vocab 50257 --train-tokens 400000 --val-tokens 2000
L=4; NH=4; C=256; T=256; BS=4
median() { sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
printf "machine: %s, %s threads, %s, OPENBLAS_CORETYPE=%s\n" "$(lscpu | sed -n 's/^Model name: *//p')" "$THREADS" \
  "$(date -u +%F)" "${OPENBLAS_CORETYPE:-auto}"
printf "config : L=%d NH=%d C=%d T=%d B=%d V=50257, one step = %d tokens\n" $L $NH $C $T $BS $((BS * T))
printf "%-8s %12s %14s %14s %10s %10s\n" attn "ours tok/s" "torch oracle" "torch native" "x oracle" "x native"
for a in ${ATTNS//,/ }; do
  OMP_NUM_THREADS=$THREADS "$B/train_gpt2" --device cpu --threads "$THREADS" --model small --layers $L --heads $NH \
    --channels $C --seq-len $T --batch $BS --total-batch $((BS * T)) --steps $((STEPS + 1)) --warmup 1 --val-every 0 \
    --attn "$a" --train-data "$W/b_train_000000.bin" --out "$W/run_$a" >/dev/null
  ours=$(grep '"event":"step"' "$W/run_$a/log.jsonl" | tail -n "$STEPS" | sed 's/.*"tok_s":\([0-9.e+]*\).*/\1/' | median)
  t_or=$(/usr/bin/python3 test/reference/bench_step.py --layers $L --channels $C --heads $NH --seq-len $T --batch $BS \
    --threads "$THREADS" --steps "$STEPS" --attn "$a" --impl oracle | sed -n 's/^tok_per_s=//p')
  t_na=$(/usr/bin/python3 test/reference/bench_step.py --layers $L --channels $C --heads $NH --seq-len $T --batch $BS \
    --threads "$THREADS" --steps "$STEPS" --attn "$a" --impl native | sed -n 's/^tok_per_s=//p')
  printf "%-8s %12.0f %14.0f %14.0f %9.2fx %9.2fx\n" "$a" "$ours" "$t_or" "$t_na" \
    "$(awk "BEGIN{print $ours/$t_or}")" "$(awk "BEGIN{print $ours/$t_na}")"
done
