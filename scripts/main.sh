#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the main job on the default model: one question
# answered without steering and under each of the five shipped emotion vectors, side by side
# (one batch, greedy).
#
#   bash scripts/main.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
EMOVEC=${BUILD_DIR:-$ROOT/build}/bin/emovec

"$EMOVEC" models
QUESTION="How was your weekend?"
MIX="anger=1.25,disgust=1.25,fear=1.25,joy=1.25,sadness=1.25"
printf '\n== %s\n' "emovec generate -m smollm2-135m-instruct --chat --temp 0 -n 48 --compare --emotion $MIX -p \"$QUESTION\""
"$EMOVEC" generate -m smollm2-135m-instruct --chat --temp 0 -n 48 --compare --emotion "$MIX" \
  -p "$QUESTION"
