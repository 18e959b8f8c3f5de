#!/usr/bin/env bash
# Hutong litter detector: generate -> train -> export -> evaluate -> model card, in one command.
#   bash edge/models/training/run.sh
# Needs Debian's python3-torch (1.13), python3-onnx, python3-numpy, python3-pil; node + the
# repo's onnxruntime-node for the runtime check. No network access, no downloaded weights/data.
# Deterministic given the seeds below (2 torch threads): the scene cache is seeded per sample,
# phase 1 (constant LR) does not depend on its total length, phases 2-4 fine-tune with cosine decays.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-/usr/bin/python3}
SEED=${SEED:-1234}
ITERS1=${ITERS1:-2000}
ITERS2=${ITERS2:-800}
ITERS3=${ITERS3:-1800}
ITERS4=${ITERS4:-3000}
CACHE_N=${CACHE_N:-3000}
CACHE=${CACHE:-/tmp/litter_cache}
WORK=${WORK:-/tmp/litter_train}
if ! "$PY" -c "import torch, onnx, numpy, PIL" 2>/dev/null; then
  echo "missing python packages: apt-get install -y python3-torch python3-onnx python3-numpy python3-pil" >&2
  exit 1
fi
mkdir -p "$WORK"
T0=$(date +%s)
# 1) scenes (cached, resumable) + phase 1: warm-up then constant LR
"$PY" train.py --iters "$ITERS1" --seed "$SEED" --cache-n "$CACHE_N" --cache "$CACHE" --out "$WORK/phase1.pt" 2>&1 | grep -v -i warn | tee "$WORK/train1.log"
# 2) phase 2: continue from phase 1's EMA weights with a cosine-decayed LR and a new batch order
"$PY" train.py --init "$WORK/phase1.pt" --decay --iters "$ITERS2" --seed $((SEED + 1)) --cache-n "$CACHE_N" --cache "$CACHE" --out "$WORK/phase2.pt" 2>&1 | grep -v -i warn | tee "$WORK/train2.log"
# 3) phase 3: lower LR, cosine decay, positives' class target at least 0.5, extra letterbox bands
"$PY" train.py --init "$WORK/phase2.pt" --decay --iters "$ITERS3" --lr 1e-3 --tmin 0.5 --band 0.2 --seed $((SEED + 2)) --cache-n "$CACHE_N" --cache "$CACHE" --out "$WORK/phase3.pt" 2>&1 | grep -v -i warn | tee "$WORK/train3.log"
# 3b) phase 4: same settings, a longer cosine decay, new batch order
"$PY" train.py --init "$WORK/phase3.pt" --decay --iters "$ITERS4" --lr 1e-3 --tmin 0.5 --band 0.2 --seed $((SEED + 3)) --cache-n "$CACHE_N" --cache "$CACHE" --out "$WORK/litter.pt" 2>&1 | grep -v -i warn | tee "$WORK/train4.log"
# 4) export + runtime check, 5) evaluate on both held-out sets and write the model card
"$PY" export.py --weights "$WORK/litter.pt" --out ../litter.onnx 2>&1 | grep -v -i warn | tee "$WORK/export.log"
"$PY" evaluate.py --weights "$WORK/litter.pt" --onnx ../litter.onnx --out "$WORK/metrics.json" --card ../MODEL_CARD.md 2>&1 | tee "$WORK/eval.log"
echo "total wall time: $(( $(date +%s) - T0 ))s"
