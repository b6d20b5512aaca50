#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the main job on the default model.
#
#   bash scripts/main.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
EMOVEC=${BUILD_DIR:-$ROOT/build}/bin/emovec

"$EMOVEC" models
QUESTION="How did you feel when you received the surprise birthday party from your friends?"
printf '\n== %s\n' "emovec generate -m smollm2-135m-instruct --chat --temp 0 -p \"$QUESTION\""
"$EMOVEC" generate -m smollm2-135m-instruct --chat --temp 0 -n 128 -p "$QUESTION"
