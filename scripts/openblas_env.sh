# Sourced by the benchmark and quickstart scripts (never by tests): OpenBLAS falls back to SSE3
# kernels on CPUs it does not recognise (new ones, VMs), so tell it what this CPU can do, unless
# the user has chosen (OPENBLAS_CORETYPE set). Affects our CPU backend and Debian's PyTorch alike.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -qw avx512bw /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo && grep -qw avx512dq /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=Haswell
  fi
fi
