#!/usr/bin/env bash
# Train the expert model on a lent GPU machine inside a wall-clock budget (docs/expert-gpu.md).
#
# Needs the training pack written here first (python scripts/device/train_expert_gpu.py pack)
# and carried to the machine (runs/device-pack). Extra arguments go to
# `train_expert_gpu.py run` (e.g. --budget 540 --size 256 --arch resnet18w64, or --smoke
# --device cpu for a CPU check). Results and the model folder go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-runs/device-out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
else
    echo "nvidia-smi: not on this machine"
fi
"$PY" scripts/device/train_expert_gpu.py run --out "$OUT" "$@" 2>&1 | tee "$OUT/run.log"
exit "${PIPESTATUS[0]}"
