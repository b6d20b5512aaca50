#!/usr/bin/env bash
# Sets up everything emovec needs on a fresh Debian 12 machine: system packages, the Python tools
# used by tests (in a virtual environment in the cache), the shipped models, and the build.
#
#   bash scripts/setup.sh [--golden] [--peer]
#
# --golden also installs the reference implementations (sentence-transformers, nade, scikit-learn
# and the rest of tools/requirements-golden.txt) that the scripts in tools/golden/ use to
# regenerate golden files; tests do not need them. (torch, transformers and accelerate are in
# tools/requirements.txt: a test extracts vectors with them beside emovec.)
# --peer also installs llama.cpp (llama-cpp-python, compiled from source: several minutes), the
# peer implementation that tools/peer/ compares emovec with; never an emovec dependency.
# Environment: EMOVEC_CACHE_DIR (default ~/.cache/emovec), EMOVEC_MODELS_DIR (default
# $EMOVEC_CACHE_DIR/models), BUILD_DIR (default build), JOBS (default: number of cores).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EMOVEC_CACHE_DIR=${EMOVEC_CACHE_DIR:-$HOME/.cache/emovec}
export EMOVEC_MODELS_DIR=${EMOVEC_MODELS_DIR:-$EMOVEC_CACHE_DIR/models}
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
JOBS=${JOBS:-$(nproc)}
GOLDEN=0
PEER=0
for arg in "$@"; do
  case $arg in
    --golden) GOLDEN=1 ;;
    --peer) PEER=1 ;;
    *) echo "usage: bash scripts/setup.sh [--golden] [--peer]" >&2; exit 2 ;;
  esac
done

# System packages: compilers, build tools and the C++ libraries emovec builds against
# (OpenBLAS for float32 matrix-matrix products, cpp-httplib for emovec serve, fastText for the
# nade emotion scorer, Google Benchmark for bench/), and Chromium with its WebDriver for the test
# of the server's web page.

APT_PACKAGES=(
  build-essential cmake g++ git pkg-config
  python3 python3-venv python3-pip
  libgtest-dev nlohmann-json3-dev libcli11-dev libopenblas-dev libbenchmark-dev
  libcpp-httplib-dev libfasttext-dev
  clang libclang-rt-14-dev clang-format
  chromium chromium-driver
)

log() { printf '\n== %s\n' "$*"; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing system packages: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

log "python tools in $EMOVEC_CACHE_DIR/venv"
VENV=$EMOVEC_CACHE_DIR/venv
if [[ ! -x $VENV/bin/python ]]; then
  mkdir -p "$EMOVEC_CACHE_DIR"
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/tools/requirements.txt"
if ((GOLDEN)); then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/tools/requirements-golden.txt"
fi
if ((PEER)); then
  log "llama.cpp peer (llama-cpp-python from source, several minutes)"
  CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$JOBS} \
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/tools/requirements-peer.txt"
fi

log "models in $EMOVEC_MODELS_DIR"
"$VENV/bin/python" "$ROOT/scripts/fetch_models.py" --models-dir "$EMOVEC_MODELS_DIR"

log "building in $BUILD_DIR"
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DEMOVEC_WERROR=ON \
  -DEMOVEC_PYTHON="$VENV/bin/python" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
echo "emovec is at $BUILD_DIR/bin/emovec"
