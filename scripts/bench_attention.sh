#!/usr/bin/env bash
# Attention kernel benchmark (issue 6, DESIGN §11), for a GPU machine:
#   our fused kernels (build/flash_bench, the production kernels) for every fused variant,
#   our reference path (when this tree has it: attention/cuda/attention_reference.*),
#   PyTorch SDPA (flash backend) and cuDNN SDPA, eager PyTorch LSSA / LSSAR,
# at T = 1K, 2K, 4K, 8K, 16K, HS = 64, NH = 12, B·T = 16K tokens; fwd and bwd TFLOP/s
# (FlashAttention's FLOP count) and peak memory, side by side as ratios, written to
# results/attention_<gpu>_<date>.md (raw JSON lines next to it).
#
# Needs: a CUDA GPU, the CUDA toolkit, and a python with torch built with CUDA
# (PYTHON=/path/to/python to choose; `pip install torch` on the GPU machine).
# Usage: scripts/bench_attention.sh [build-dir]      env: ITERS (default 10), TS, VARIANTS
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
PYTHON=${PYTHON:-python3}
ITERS=${ITERS:-10}
TOKENS=16384
NH=12
HS=64
TS=${TS:-"1024 2048 4096 8192 16384"}
VARIANTS=${VARIANTS:-"softmax lssa lssar softplus_l1 sigmoid_l1 relu_l1 relu2_l1 relu6_l1 gelu_l1 mish_l1 \
sigmoid_rowbias_l1 l1_only sigmoid sigmoid_rowbias relu_seqlen linear"}

command -v nvidia-smi >/dev/null || { echo "error: no nvidia-smi: this benchmark needs a CUDA GPU" >&2; exit 1; }
"$PYTHON" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null ||
  { echo "error: $PYTHON has no torch with CUDA (set PYTHON=...)" >&2; exit 1; }

cmake -S . -B "$BUILD" -G Ninja >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target flash_bench
BENCH=$(find "$BUILD" -name flash_bench -type f -perm -u+x | head -1)

GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' /' '__')
DATE=$(date +%Y-%m-%d)
mkdir -p results
RAW=results/attention_${GPU}_${DATE}.jsonl
: > "$RAW"

for T in $TS; do
  B=$((TOKENS / T))
  for v in $VARIANTS; do
    "$BENCH" --attn "$v" --B "$B" --T "$T" --NH "$NH" --HS "$HS" --iters "$ITERS" >> "$RAW" ||
      echo "{\"impl\":\"fused\",\"variant\":\"$v\",\"T\":$T,\"B\":$B,\"NH\":$NH,\"HS\":$HS,\"error\":\"flash_bench failed\"}" >> "$RAW"
  done
  "$BENCH" --attn softmax --reweight-p 15 --B "$B" --T "$T" --NH "$NH" --HS "$HS" --iters "$ITERS" >> "$RAW" || true
  # our reference path: flash_bench --impl reference once the CUDA backend's reference kernels are
  # merged (attention/cuda/attention_reference.*); until then this column is absent.
  "$PYTHON" scripts/bench_attention.py torch --T "$T" --tokens "$TOKENS" --NH "$NH" --HS "$HS" --iters "$ITERS" >> "$RAW"
done

"$PYTHON" scripts/bench_attention.py combine "$RAW" --gpu "$GPU" --date "$DATE" --tokens "$TOKENS" \
  --out "results/attention_${GPU}_${DATE}.md"
