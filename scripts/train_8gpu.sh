#!/usr/bin/env bash
# GPT-2 124M (d12) on one node with 8 GPUs: the paper's recipe (llm.c's 124M defaults,
# 524,288 tokens per step = 8 GPUs x --batch 32 x T 1024 x 2 accumulation steps, 18,865 steps
# ~ 10B tokens), data parallel with NCCL and ZeRO-1.
#
#   scripts/train_8gpu.sh [mpirun|env] [ATTN] [extra train_gpt2 flags...]
#     mpirun  launch with `mpirun -np 8` (build with MPI: libopenmpi-dev)            [default]
#     env     launch 8 processes with RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT
#             (torchrun's variables; needs no MPI: the NCCL id goes over a TCP rendezvous)
#   ATTN: softmax | lssa | lssar | ... (train_gpt2 --attn list); default lssa
#
# Data: FineWeb-10B shards from scripts/fineweb.py (needs internet) in $LSSA_DATA_DIR/fineweb10B.
# Out of GPU memory: halve --batch (16, 8): the accumulation doubles, the step stays 524,288 tokens.
set -euo pipefail
cd "$(dirname "$0")/.."
LAUNCH=${1:-mpirun}
ATTN=${2:-lssa}
shift $(( $# > 2 ? 2 : $# ))
NGPU=${NGPU:-8}
DATA=${LSSA_DATA_DIR:-.cache/data}/fineweb10B
OUT=${OUT:-runs/d12_${ATTN}}
FLAGS=(--model d12 --attn "$ATTN" --device cuda
       --train-data "$DATA/fineweb_train_*.bin" --val-data "$DATA/fineweb_val_*.bin"
       --batch 32 --total-batch 524288 --steps 18865 --warmup 700 --lr 6e-4 --final-lr-frac 0
       --weight-decay 0.1 --grad-clip 1.0 --val-every 250 --val-tokens 10485760
       --ckpt-every 1000 --zero 1 --out "$OUT" "$@")

case "$LAUNCH" in
  mpirun)
    # one process per GPU; each takes GPU = its node-local rank
    exec mpirun -np "$NGPU" --bind-to none ./build/train_gpt2 "${FLAGS[@]}"
    ;;
  env)
    export MASTER_ADDR=${MASTER_ADDR:-127.0.0.1} MASTER_PORT=${MASTER_PORT:-29500} WORLD_SIZE=$NGPU
    export LSSA_RUN_ID=${LSSA_RUN_ID:-$(date +%s)-$$}   # this run's id: a stale rank of another run is refused
    pids=()
    for ((r = 0; r < NGPU; r++)); do
      RANK=$r LOCAL_RANK=$r ./build/train_gpt2 "${FLAGS[@]}" &
      pids+=($!)
    done
    # a rank that fails makes the others fail too (closed sockets / NCCL error); report the first
    rc=0
    for p in "${pids[@]}"; do wait "$p" || rc=$?; done
    exit $rc
    ;;
  *)
    echo "usage: $0 [mpirun|env] [ATTN] [train_gpt2 flags...]" >&2
    exit 2
    ;;
esac
