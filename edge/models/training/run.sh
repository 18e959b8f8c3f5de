#!/usr/bin/env bash
# Hutong litter detector: generate -> train -> export -> evaluate -> model card, in one command.
#   bash edge/models/training/run.sh
# Needs Debian's python3-torch (1.13), python3-onnx, python3-numpy, python3-pil; node + the
# repo's onnxruntime-node for the runtime check. No network access, no downloaded weights/data.
# Deterministic given the seeds below (2 torch threads): the scene cache is seeded per sample, phase 1
# (warm-up, constant LR) does not depend on its total length, phase 2 fine-tunes with a cosine decay.
# Resumable: every phase keeps its training state in $WORK; run the same command again after an interruption
# and it continues where it stopped, ending with the weights an uninterrupted run gives (about 3 h on 2 cores).
# Small crops in large batches: per unit of compute a batch of 36 item-centred 128x128 crops carries about twice
# the class signal of 16 crops of 192x192, most of whose cells are plain ground (docs in MODEL_CARD.md).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-/usr/bin/python3}
SEED=${SEED:-1234}
ITERS1=${ITERS1:-16000}
ITERS2=${ITERS2:-10000}
BATCH=${BATCH:-36}
CROP=${CROP:-128}
CACHE_N=${CACHE_N:-3000}
CACHE=${CACHE:-/tmp/litter_cache}
WORK=${WORK:-/tmp/litter_train}
if ! "$PY" -c "import torch, onnx, numpy, PIL" 2>/dev/null; then
  echo "missing python packages: apt-get install -y python3-torch python3-onnx python3-numpy python3-pil" >&2
  exit 1
fi
mkdir -p "$WORK"
T0=$(date +%s)
COMMON=(--batch "$BATCH" --crop "$CROP" --tmin 0.5 --band 0.2 --cache-n "$CACHE_N" --cache "$CACHE")
# 1) scenes (cached, resumable) + phase 1: warm-up, then a constant LR
"$PY" train.py --iters "$ITERS1" --lr 2e-3 --seed "$SEED" "${COMMON[@]}" --out "$WORK/phase1.pt" --state "$WORK/phase1.state" 2>&1 | grep --line-buffered -v -i warn | tee -a "$WORK/train1.log"
# 2) phase 2: from phase 1's EMA weights, a cosine-decayed LR and a new batch order
"$PY" train.py --init "$WORK/phase1.pt" --decay --iters "$ITERS2" --lr 2e-3 --seed $((SEED + 1)) "${COMMON[@]}" --out "$WORK/litter.pt" --state "$WORK/phase2.state" 2>&1 | grep --line-buffered -v -i warn | tee -a "$WORK/train2.log"
# 3) export + runtime check, 4) evaluate on both held-out sets and write the model card
"$PY" export.py --weights "$WORK/litter.pt" --out ../litter.onnx 2>&1 | grep --line-buffered -v -i warn | tee "$WORK/export.log"
"$PY" evaluate.py --weights "$WORK/litter.pt" --onnx ../litter.onnx --out "$WORK/metrics.json" --card ../MODEL_CARD.md 2>&1 | tee "$WORK/eval.log"
echo "total wall time: $(( $(date +%s) - T0 ))s"
