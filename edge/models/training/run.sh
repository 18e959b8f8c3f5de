#!/usr/bin/env bash
# Hutong litter detector: generate -> train -> export -> evaluate -> model card, in one command.
#   bash edge/models/training/run.sh
# Needs Debian's python3-torch (1.13), python3-onnx, python3-numpy, python3-pil; node + the
# repo's onnxruntime-node for the runtime check. No network access, no downloaded weights/data.
# Everything is deterministic given the seeds below (2 torch threads).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-/usr/bin/python3}
SEED=${SEED:-1234}
ITERS=${ITERS:-3000}
CACHE_N=${CACHE_N:-1250}
WORK=${WORK:-/tmp/litter_train}
if ! "$PY" -c "import torch, onnx, numpy, PIL" 2>/dev/null; then
  echo "missing python packages: apt-get install -y python3-torch python3-onnx python3-numpy python3-pil" >&2
  exit 1
fi
mkdir -p "$WORK"
T0=$(date +%s)
"$PY" train.py --iters "$ITERS" --seed "$SEED" --cache-n "$CACHE_N" --cache /tmp/litter_cache --out "$WORK/litter.pt" 2>&1 | tee "$WORK/train.log"
"$PY" export.py --weights "$WORK/litter.pt" --out ../litter.onnx 2>&1 | grep -v -i warn | tee "$WORK/export.log"
"$PY" evaluate.py --weights "$WORK/litter.pt" --onnx ../litter.onnx --out "$WORK/metrics.json" --card ../MODEL_CARD.md 2>&1 | tee "$WORK/eval.log"
echo "total wall time: $(( $(date +%s) - T0 ))s"
