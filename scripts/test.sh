#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the whole test suite: the unit and golden tests,
# then every libFuzzer target for a bounded time under ASan and UBSan.
#
#   bash scripts/test.sh
#
# Environment: EMOVEC_FUZZ_SECONDS (seconds per fuzz target, default 60; 0 skips fuzzing).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"

BUILD_DIR=${BUILD_DIR:-$ROOT/build}
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${EMOVEC_FUZZ_SECONDS:-60}

printf '\n== unit and golden tests (set-up and build took %d s)\n' "$SECONDS"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"

if [[ $FUZZ_SECONDS != 0 ]]; then
  printf '\n== fuzz targets, %s s each\n' "$FUZZ_SECONDS"
  FUZZ_DIR=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
  cmake -S "$ROOT" -B "$FUZZ_DIR" -DCMAKE_CXX_COMPILER=clang++ -DEMOVEC_FUZZ=ON \
    -DEMOVEC_FUZZ_SECONDS="$FUZZ_SECONDS" >/dev/null
  cmake --build "$FUZZ_DIR" -j "$JOBS"
  printf '== fuzz targets built (%d s so far)\n' "$SECONDS"
  ctest --test-dir "$FUZZ_DIR" --output-on-failure -j "$JOBS" -L fuzz
fi
printf '\n== all passed in %d s\n' "$SECONDS"
