#!/usr/bin/env bash
# Forward + backward time of the CPU attention (attention/attention_cpu.cpp, fp32) for every
# registered variant on one shape, relative to CPU softmax. Target: every variant within 1.5×.
#
#   scripts/bench_attention_cpu.sh [BUILD_DIR=build] [B T NH HS ROUNDS]   (default 4 512 4 64 5)
#
# Builds the bench_attention_cpu target, then runs it; set OMP_NUM_THREADS to pin the threads.
# Timings are the minimum over interleaved rounds: on a machine shared with other jobs that is the
# least disturbed run, and all variants see the same disturbances.
set -euo pipefail
BUILD=${1:-build}
shift || true
cmake --build "$BUILD" --target bench_attention_cpu -j2 > /dev/null
exec "$BUILD/test/attention/bench_attention_cpu" "$@"
