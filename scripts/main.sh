#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the main job on the default model.
#
#   bash scripts/main.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
EMOVEC=${BUILD_DIR:-$ROOT/build}/bin/emovec

"$EMOVEC" models
"$EMOVEC" inspect smollm2-135m-instruct --tensors 12
"$EMOVEC" template smollm2-135m-instruct --system "You are a cheerful assistant." \
  --user "How did you feel when you received the surprise birthday party from your friends?"
"$EMOVEC" tokenize smollm2-135m-instruct "How did you feel when you received the surprise party?"
