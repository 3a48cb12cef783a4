#!/usr/bin/env bash
# The test command (README, CI): installs what it needs, builds everything — the CUDA code too,
# for sm_80 and sm_90, where a CUDA toolkit exists (no GPU needed: GPU tests skip) — and runs
# every test. Exits non-zero when anything fails.
#
#   scripts/test.sh            # build in ./build, run all tests
#   LSSA_BUILD_DIR=b scripts/test.sh -R oracle   # extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${LSSA_BUILD_DIR:-$ROOT/build}
JOBS=${LSSA_JOBS:-$(nproc)}

scripts/install_deps.sh
# The CUDA toolkit lives outside PATH on our machines; CMake finds nvcc through PATH.
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH; fi

t0=$(date +%s)
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD" -j"$JOBS"
t1=$(date +%s)
echo "test.sh: build took $((t1 - t0)) s"
# Two threads per test process (the CLI and oracle tests are the long ones), and idle OpenMP
# threads sleep instead of spinning: ctest runs several test processes at once, and spinning
# threads of one starve the others (measured: a 0.14 s gradient check took 5 s under ctest -j2).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS" "$@"
echo "test.sh: tests took $(($(date +%s) - t1)) s"
