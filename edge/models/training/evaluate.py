"""Evaluate the exported detector exactly as the gateway runs it.

1280x720 frame -> letterbox to 640x384 -> litter.onnx (onnxruntime-node, 2 threads; falls
back to the PyTorch checkpoint when node is missing) -> decode -> per-class NMS IoU 0.5.

Metrics per set:
  mAP50            mean over classes of all-point-interpolated AP at IoU 0.5 (conf >= 0.005, best 300 pre-NMS, 100 per frame)
  precision/recall at confidence 0.5 (class must match, IoU >= 0.5)
  empty-frame FP   detections at confidence 0.5 on frames without litter
Sets:
  generated   frames from generate.frame_sample with a seed range never used for training
  heldout     edge/models/heldout/labels.json (+ JPEG files), when that directory exists
"""
from __future__ import annotations

import os

# On a shared, oversubscribed CPU, OpenMP threads that spin-wait at barriers lose most of their
# time slices; sleeping waits make 2-thread training ~3x faster there (and cost nothing when idle).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import argparse
import json
import os
import time

import numpy as np
from PIL import Image

import generate
from export import MODELS, decode, ort_available, ort_run

CLASSES = generate.CLASSES


def iou_matrix(a, b):
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    aa = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    ab = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (aa[:, None] + ab[None, :] - inter + 1e-9)


def match(dets, gts, iou_thr=0.5):
    """dets: list of (boxes, scores, classes); gts: list of (boxes, classes).
    Returns per-detection records (score, class, tp) and per-class GT counts."""
    recs = []
    npos = np.zeros(len(CLASSES), np.int64)
    for (db, ds, dc), (gb, gc) in zip(dets, gts):
        for c in gc:
            npos[c] += 1
        used = np.zeros(len(gb), bool)
        order = np.argsort(-ds)
        ious = iou_matrix(db, gb)
        for i in order:
            best, bj = 0.0, -1
            for j in range(len(gb)):
                if gc[j] != dc[i] or used[j]:
                    continue
                if ious[i, j] > best:
                    best, bj = ious[i, j], j
            tp = best >= iou_thr
            if tp:
                used[bj] = True
            recs.append((float(ds[i]), int(dc[i]), bool(tp)))
    return recs, npos


def ap_from(recs, npos_c):
    if npos_c == 0:
        return float("nan")
    if not recs:
        return 0.0
    recs = sorted(recs, key=lambda r: -r[0])
    tp = np.cumsum([r[2] for r in recs])
    fp = np.cumsum([not r[2] for r in recs])
    rec = tp / npos_c
    prec = tp / np.maximum(tp + fp, 1e-9)
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[1.0], prec, [0.0]])
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def metrics(outs, metas, gts, conf=0.5, iou=0.5):
    # mAP at low confidence
    dets_lo = [decode(o, 0.005, iou, *m) for o, m in zip(outs, metas)]
    recs, npos = match(dets_lo, gts)
    aps = {CLASSES[c]: ap_from([r for r in recs if r[1] == c], npos[c]) for c in range(len(CLASSES))}
    valid = [v for v in aps.values() if not np.isnan(v)]
    res = {"frames": len(gts), "objects": int(npos.sum()), "mAP50": float(np.mean(valid)) if valid else float("nan"),
           "AP50": {k: round(v, 4) for k, v in aps.items()}}
    for name, agn in (("", False), ("agnostic_nms_", True)):
        dets = [decode(o, conf, iou, *m, agnostic=agn) for o, m in zip(outs, metas)]
        r2, _ = match(dets, gts)
        tp = sum(r[2] for r in r2)
        nd = len(r2)
        empty = [i for i, g in enumerate(gts) if len(g[0]) == 0]
        res[name + "precision"] = tp / nd if nd else 1.0
        res[name + "recall"] = tp / max(1, int(npos.sum()))
        res[name + "detections"] = nd
        res[name + "empty_frames"] = len(empty)
        res[name + "empty_frame_detections"] = int(sum(len(dets[i][0]) for i in empty))
        if not name:
            per = {}
            for c in range(len(CLASSES)):
                rc = [r for r in r2 if r[1] == c]
                tpc = sum(r[2] for r in rc)
                per[CLASSES[c]] = {"precision": round(tpc / len(rc), 4) if rc else None, "recall": round(tpc / max(1, npos[c]), 4), "gt": int(npos[c])}
            res["per_class"] = per
            res["_dets"] = dets
    return res


def infer(xs, onnx_path, weights, backend):
    if backend == "ort" or (backend == "auto" and ort_available()):
        out, info = ort_run(onnx_path, xs)
        return out, "onnxruntime-node (%s)" % os.path.basename(onnx_path), info["ms_per_frame"]
    import torch
    from export import load_model
    m, _ = load_model(weights)
    m.export = True
    outs = []
    t = time.time()
    with torch.no_grad():
        for i in range(0, len(xs), 8):
            outs.append(m(torch.from_numpy(xs[i:i + 8])).numpy())
    return np.concatenate(outs), "torch checkpoint", (time.time() - t) * 1000 / len(xs)


def model_input_hw(weights):
    """(H, W) of the checkpoint's input (model.input_hw); the exported ONNX has the same."""
    from export import load_model
    from model import input_hw
    return input_hw(load_model(weights)[0])


def eval_frames(frames_iter, n, onnx_path, weights, backend):
    H, W = model_input_hw(weights)
    xs = np.empty((n, 3, H, W), np.float32)
    metas, gts, files = [], [], []
    for i, (img, gb, gc, name) in enumerate(frames_iter):
        x, r, px, py = generate.letterbox(img, W, H)
        xs[i] = x
        metas.append((r, px, py))
        gts.append((np.asarray(gb, np.float32).reshape(-1, 4), np.asarray(gc, np.int64)))
        files.append(name)
    out, how, ms = infer(xs, onnx_path, weights, backend)
    res = metrics(out, metas, gts)
    res["runtime"] = how
    res["ms_per_frame"] = round(ms, 2)
    return res, files, gts


def generated_frames(seed, n, cache_dir="/tmp/litter_eval"):
    path = os.path.join(cache_dir, f"gen_{seed}_{n}.npz")
    if os.path.exists(path):
        d = np.load(path, allow_pickle=True)
        for i in range(n):
            yield d["imgs"][i], d["boxes"][i], d["classes"][i], f"gen_{seed + i}"
        return
    os.makedirs(cache_dir, exist_ok=True)
    imgs, boxes, classes = [], [], []
    for i in range(n):
        img, b, c = generate.frame_sample(seed + i)
        imgs.append(img)
        boxes.append(b)
        classes.append(c)
    ob = np.empty(n, object)
    oc = np.empty(n, object)
    for i in range(n):
        ob[i], oc[i] = boxes[i], classes[i]
    np.savez(path, imgs=np.stack(imgs), boxes=ob, classes=oc)
    for i in range(n):
        yield imgs[i], boxes[i], classes[i], f"gen_{seed + i}"


def heldout_frames(d):
    with open(os.path.join(d, "labels.json")) as f:
        lab = json.load(f)
    frames = lab["frames"]

    def it():
        for fr in frames:
            img = np.asarray(Image.open(os.path.join(d, fr["file"])).convert("RGB"))
            b = [[bx["x"], bx["y"], bx["x"] + bx["w"], bx["y"] + bx["h"]] for bx in fr["boxes"]]
            c = [CLASSES.index(bx["label"]) for bx in fr["boxes"]]
            yield img, b, c, fr["file"]
    return it(), len(frames)


def fmt(name, r):
    s = (f"[{name}] frames {r['frames']} objects {r['objects']} | mAP50 {r['mAP50']:.4f} | P@0.5 {r['precision']:.4f} "
         f"R@0.5 {r['recall']:.4f} | empty frames {r['empty_frames']} with {r['empty_frame_detections']} detections | "
         f"agnostic-NMS P {r['agnostic_nms_precision']:.4f} R {r['agnostic_nms_recall']:.4f} | {r['runtime']} {r['ms_per_frame']} ms/frame")
    s += "\n  AP50 " + " ".join(f"{k} {v:.3f}" for k, v in r["AP50"].items())
    s += "\n  P/R  " + " ".join(f"{k} {v['precision']}/{v['recall']} (n={v['gt']})" for k, v in r["per_class"].items())
    return s


def _metrics_md(r):
    lines = [f"| frames / objects | {r['frames']} / {r['objects']} (litter-free frames: {r['empty_frames']}) |",
             f"| mAP50 | {r['mAP50']:.4f} |",
             f"| precision @ conf 0.5, NMS IoU 0.5 | {r['precision']:.4f} |",
             f"| recall @ conf 0.5, NMS IoU 0.5 | {r['recall']:.4f} |",
             f"| detections on litter-free frames | {r['empty_frame_detections']} |",
             f"| precision / recall with class-agnostic NMS | {r['agnostic_nms_precision']:.4f} / {r['agnostic_nms_recall']:.4f} |",
             "| AP50 per class | " + ", ".join(f"{k} {v:.3f}" for k, v in r["AP50"].items()) + " |",
             "| P / R per class | " + ", ".join(f"{k} {v['precision']}/{v['recall']}" for k, v in r["per_class"].items()) + " |"]
    return "| metric | value |\n| --- | --- |\n" + "\n".join(lines)


def _status(r):
    if not r:
        return "Not yet checked against the committed held-out set."
    ok = r["mAP50"] >= 0.90 and r["precision"] >= 0.90 and r["recall"] >= 0.85 and r["empty_frame_detections"] == 0
    if ok:
        return "Meets the gateway's quality bar on the committed held-out set (mAP50 >= 0.90, precision >= 0.90, recall >= 0.85, no detections on litter-free frames)."
    return (f"**Does NOT meet the gateway's quality bar** on the committed held-out set: mAP50 {r['mAP50']:.3f} (bar 0.90), "
            f"precision {r['precision']:.3f} (0.90), recall {r['recall']:.3f} (0.85), {r['empty_frame_detections']} detections on "
            f"litter-free frames (0). Do not ship it.")


def _phases(info):
    chain = []
    cur = info
    while cur:
        chain.append(cur)
        cur = cur.get("previous") or cur.get("phase1")
    rows = []
    done = 0
    for k, ph in enumerate(reversed(chain)):
        n = ph.get("phase_iters") or ph.get("phase2_iters") or ph.get("iters")
        done += n
        rows.append(f"  {k + 1}. {n} iterations, seed {ph.get('seed')}, lr {ph.get('lr')}, {ph.get('schedule', 'warm-up + constant')}, "
                    f"min positive class target {ph.get('tmin', 0.1)}, extra letterbox bands {ph.get('band', 0.0)}"
                    + (f", {ph.get('cache_n')} variety-{ph.get('variety')} scenes at {ph['hires']} px per model px through the stem" if ph.get("hires", 1) > 1 else "")
                    + f" (total {done})")
    return "\n".join(rows)


def _weights(two):
    m = two.get("mix", 0.5)
    return "" if m == 0.5 else f" with weights {1 - m:g} (first) and {m:g} (second)"


def _score_rule(two):
    obj = "objectness" + (f" / {two['obj_full']} (at most 1)" if two.get("obj_full", 1.0) != 1.0 else "")
    a, g = two.get("lit", 0.0), two.get("obj_pow", 1.0)
    if a == 0.0 and g == 1.0:
        return f"P(class) x {obj}"
    return (f"P(litter)^{a:g} x P(class)^{1 - a:g} x ({obj})^{g:g}, with P(litter) = 1 - P(ground): an item the classifiers split "
            "between two litter classes keeps its score, and the classifiers can confirm an item the proposer is unsure of")


def write_card(path, args, results):
    import torch
    info_path = os.path.splitext(args.weights)[0] + ".json"
    info = json.load(open(info_path)) if os.path.exists(info_path) else {}
    lat_path = os.path.splitext(args.weights)[0] + ".latency.json"
    lat = json.load(open(lat_path)) if os.path.exists(lat_path) else {}
    from model import ARCH_V1
    two = info.get("two_stage")  # a joined proposer + crop classifier (join.py)
    cls = info.get("classifier", {})
    c2 = info.get("classifier2", {})
    if two:
        info = {**info["proposer"], "params": info["params"], "iters": info["iters"]}
    arch = info.get("arch", ARCH_V1)
    n_out = two["k"] if two else 3840
    hr = two.get("hires", 1) if two else 1
    H, W = 384 * hr, 640 * hr
    fit = "1280x720 plus 24 px top and bottom (no resampling)" if hr == 2 else f"{W}x{H * 360 // 384} plus {H // 32} px top and bottom"
    sec = two.get("second") if two else None
    second = (f""" A second CropNet, trained the same way on crops of {c2.get('size')}x{c2.get('size')} cut from the
{"input averaged down to the proposer's 640x384" if sec.get('hires', 1) == 1 else 'full input'} ({c2.get('crops', '?')} crops, {c2.get('epochs', '?')} epochs, {c2.get('train_seconds', 0) / 60:.1f} min), names the same
proposals; the two classifiers' probabilities are averaged{_weights(two)} (the full-resolution one tells bags and paper from
stones, the other cans from cups and bottles).""" if sec else "")
    views = ", averaging the softmax over the crop's four quarter turns" if two and two.get("tta", 1) == 4 else ""
    stage2 = (f"""
Two stages in one graph (`model.TwoStage`): this LitterNet is trained class-agnostic (one score: litter here) and
proposes{f" from the input averaged down {hr} x {hr} (640x384)" if hr > 1 else ""}{" plus a learned stem on the full-resolution pixels (3x3 conv stride 2, 16 ch; 3x3 conv, 16 ch; 1x1 conv to 3 ch, added to the averaged frame)" if arch.get("hires", 1) > 1 else ""}; the {two['k']} strongest local peaks (3x3 max) of its map are
cut out of the {"full-resolution " if hr > 1 else ""}input ({two['size']}x{two['size']} crops of {two['ctx']} x the box's longest side + {two['pad'] * hr:g} px, `GridSample`) and named by CropNet
({cls.get('params', '?')} parameters: conv pairs of {cls.get('arch', {}).get('w')} channels with 2x2 max-pooling, global mean, linear) as
bottle, can, cup, bag, paper or ground{views}.{second}
A class's
score is {_score_rule(two)}.
""" if two else "")
    small = f", and {cls['small']} more from the scene shrunk (antialiased) until its items are 9-20 px long" if cls.get("small") else ""
    scenes = (f"{cls.get('cache_n', '?')} scenes of the same generator drawn with its wider variety (`variety` 1: smooth pebbles and dashed\n  painted lines among the distractors; bags creased from one gathered point or with no knot or loops in sight; paper\n  crumpled into lit facets, flat sheets nearly always printed" + ("; variety 2 also: carrier bags with two broad handle loops\n  beyond the body, fewer knots and glossy bags, opaque white film, loopless bags creased from one gathered point" if cls.get("variety", 0) >= 2 else "") + ")" if cls.get("variety") else "the same scenes")
    if cls.get("hires", 1) > 1:
        scenes += f", rendered at {cls['hires']} pixels per proposer pixel (a camera frame's own resolution)"
    cls_train = (f"""- Classifier: crops of {scenes} (each item twice, shaken as proposals miss: centre +-7 %, sides +-12 %{small}), bare
  ground{" and the proposer's peaks on ground" if cls.get('mined') else ''} (ground class), {cls.get('crops', '?')} crops; {cls.get('epochs', '?')} epochs, batch
  {cls.get('batch', '?')}, softmax cross-entropy, flips, quarter turns and colour jitter, {cls.get('train_seconds', 0) / 60:.1f} min.
""" if two else "")
    if two and cls.get("init"):
        cls_train += (f"  That is a fine-tune (run.sh phase 3c): the weights start from `{cls['init']}` (phase 3, trained like the second\n"
                      f"  classifier below but on full-resolution crops), lr {cls.get('lr')}, seed {cls.get('seed')}, scenes {cls.get('cache_seed')}..+{cls.get('cache_n', 0) - 1},\n"
                      f"  the ground crops mined from the proposer that ships.\n")
    if two and cls.get("soup"):
        parts = "; ".join(f"`{os.path.basename(c['path'])}` (from `{c.get('init')}`, variety {c.get('variety')}, scenes {c.get('cache_seed')}.., seed {c.get('seed')})" for c in cls["soup"])
        cls_train += (f"  The classifier that ships is a weight soup (join.py --cls a,b): the mean of the weights of {len(cls['soup'])} fine-tunes of one\n"
                      f"  checkpoint, {parts}. It costs no more to run than one.\n")
    gen = results.get("generated")
    held = results.get("heldout")
    md = f"""# Litter detector model card

`edge/models/litter.onnx` — the litter detector shipped with the Hutong edge gateway.
Generated by `bash edge/models/training/run.sh` (generate -> train -> export -> evaluate -> this card).

## Status
{_status(held)}

## Contract
- Input `images`: float32 `[1, 3, {H}, {W}]` (N, C, H, W), RGB scaled to 0..1. Frames are letterboxed:
  aspect kept, scaled to fit, centred, padding value 114/255 (a 1280x720 frame becomes {fit}).
- Output `output0`: float32 `[1, 9, {n_out}]` (YOLOv8 layout). Rows 0..3: cx, cy, w, h in input pixels ({W}x{H} space);
  rows 4..8: per-class scores in 0..1. {'One row per proposal' if two else 'One prediction per stride-8 cell (80 x 48 = 3840)'}. No NMS inside the model.
- Classes (`edge/models/litter.labels.txt`): 0 bottle, 1 can, 2 cup, 3 bag, 4 paper — all litter.
- ONNX opset 17; metadata_props: `names`, `stride` (8), `imgsz` ([{H}, {W}]), `description`, `version`, `task`, `nc`, `iterations`, `seed`.
- Intended post-processing: score = max class score, keep >= 0.5, NMS IoU 0.5, map boxes back with (x - pad) / scale.

## Architecture
{'Proposer + classifier' if two else 'LitterNet'}, {info.get('params', '?')} parameters. LitterNet: plain conv blocks (Conv 3x3 + BatchNorm + SiLU, BN folded at export).
Backbone stride 2 (16 ch) -> 4 (32) -> 8 (64, {arch['s8_res']} residual block(s)) -> 16 (128) -> 32 (128); top-down neck 32 -> 16 (96) -> 8 (64);
decoupled head (one 3x3 box branch, 48 ch; {arch['cls_depth']} 3x3 class conv(s), {arch['cls_head']} ch) -> 4 distances l,t,r,b = softplus * 8 from the cell centre
and {'one objectness logit' if two else '5 class logits'}; the graph converts to cx, cy, w, h and applies the sigmoid.
{stage2}Latency: {lat.get('ms_per_frame', float('nan')):.1f} ms/frame measured with onnxruntime-node on 2 intra-op threads at export time
(on a shared 2-core machine, so an upper-ish figure; `bench/detect.ts` measures the gateway's per-frame cost, docs/camera.md).

## Training
- Data: only procedurally generated scenes (`generate.py`, numpy + PIL), nothing downloaded, no pretrained weights.
  {info.get('cache_n', '?')} training scenes (320x320 at model resolution, seeds {info.get('cache_seed', '?')}..+{info.get('cache_n', 0) - 1}), each rendered at a
  random scale (1x-2.3x, then resized down with a random resampling filter), seen as random {info.get('crop', '?')}x{info.get('crop', '?')} crops
  (mostly centred on an item; items cut by the crop are ignored in the loss) with flips/transposes and colour jitter. Scenes: top-down ground textures (asphalt with speckle and cracks, paving tiles and brick in many colours /
  sizes / angles, grass, concrete slabs, gravel, soil, two surfaces split by a curb), distractors that are not litter (leaves,
  stones, twigs, drain covers, painted lines and dashes, puddles, soft shadows of trees/poles/buildings), 0-8 litter items
  (about 20% of scenes have none) 12-80 px long at model scale, any rotation, rarely worn (opacity 0.75-0.9) or
  slightly blurred, often with a drop shadow; bottles, cans (lying, both ends seen obliquely: domed bottom, lid with
  rim and tab; or standing, seen from the top), cups (lying, tapered, the open end seen obliquely: dark inside, a thick
  rim), carrier bags (mostly tied, with two handle loops), paper (sheets and crumpled); global lighting gradients,
  moderate brightness/contrast/colour/saturation/gamma shifts, light Gaussian noise, rare slight blur, JPEG quality 60-95.
{cls_train}- Loss{' (proposer)' if two else ''}: center-sampled positives (up to 9 cells inside each box nearest its centre), IoU-aware class targets, BCE + GIoU.
- Optimiser: AdamW, batch {info.get('batch', '?')}, EMA weights (the exported ones), {info.get('iters', '?')} iterations in total,
  torch {info.get('torch', torch.__version__)} with {info.get('threads', 2)} threads. Phases (each starts from the previous one's EMA weights):
{_phases(info)}
- Wall time: training {info.get('train_seconds', 0) / 60:.1f} min (sum over phases) + scene generation {info.get('generate_seconds', 0) / 60:.1f} min
  {'(the scene cache was reused from an earlier run of the same generator; building it takes 6-12 min with 2 workers) ' if info.get('generate_seconds', 0) < 60 else ''}on a
  2-core CPU.

## Metrics
Evaluated on the exported ONNX through the gateway's pipeline (letterbox -> model -> decode -> per-class NMS IoU 0.5).

### Generated held-out set ({gen['frames'] if gen else 0} frames of 1280x720 from seeds {args.seed}.., never used in training)
{_metrics_md(gen) if gen else 'not evaluated'}

### Committed held-out set (`edge/models/heldout/`, made by a different generator)
{_metrics_md(held) if held else 'not available when this card was written'}

## Caveats
- The model has seen only generated scenes, never a frame from a real camera. Real litter, real ground, real lighting,
  rain, night/IR images, camera perspective and lens effects are all out of distribution; expect lower accuracy on real
  footage until it is fine-tuned on labelled real frames.
- Objects much smaller than ~25 px or larger than ~180 px in a 1280x720 frame were not in the training data.
- Class boundaries follow the synthetic renderings. Cups are only seen lying: a standing cup seen from straight above
  (a disc) is left out on purpose, since at these sizes it cannot be told from a can's top.
"""
    with open(path, "w") as f:
        f.write(md)
    print(f"wrote {path}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx", default=os.path.join(MODELS, "litter.onnx"))
    ap.add_argument("--weights", default="/tmp/litter_train/litter.pt")
    ap.add_argument("--backend", default="auto", choices=["auto", "ort", "torch"])
    ap.add_argument("--seed", type=int, default=900_000_000)
    ap.add_argument("--n", type=int, default=150)
    ap.add_argument("--heldout", default=os.path.join(MODELS, "heldout"))
    ap.add_argument("--out", default="/tmp/litter_train/metrics.json")
    ap.add_argument("--skip-generated", action="store_true")
    ap.add_argument("--dump-errors", default="")
    ap.add_argument("--card", default="", help="write the model card (MODEL_CARD.md) here")
    ap.add_argument("--card-from", default="", help="with --card: take the metrics from this metrics.json")
    args = ap.parse_args()
    if args.card_from:  # rewrite the card from a saved metrics.json without re-running the model
        with open(args.card_from) as f:
            write_card(args.card, args, json.load(f))
        return
    results = {}
    if not args.skip_generated:
        r, _, _ = eval_frames(generated_frames(args.seed, args.n), args.n, args.onnx, args.weights, args.backend)
        r.pop("_dets")
        r["seed"] = args.seed
        results["generated"] = r
        print(fmt("generated held-out", r), flush=True)
    if os.path.exists(os.path.join(args.heldout, "labels.json")):
        it, n = heldout_frames(args.heldout)
        r, files, gts = eval_frames(it, n, args.onnx, args.weights, args.backend)
        dets = r.pop("_dets")
        results["heldout"] = r
        print(fmt("committed held-out" if os.path.abspath(args.heldout) == os.path.join(MODELS, "heldout") else f"held-out {args.heldout}", r), flush=True)
        if args.dump_errors:  # per-frame error listing, for diagnosing (never for training)
            with open(args.dump_errors, "w") as f:
                for fn, (db, ds, dc), (gb, gc) in zip(files, dets, gts):
                    f.write(json.dumps({"file": fn, "gt": [[CLASSES[c]] + [round(float(v)) for v in b] for b, c in zip(gb, gc)],
                                        "det": [[CLASSES[c], round(float(s), 3)] + [round(float(v)) for v in b] for b, s, c in zip(db, ds, dc)]}) + "\n")
    else:
        print(f"no committed held-out set at {args.heldout}", flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    if args.card:
        write_card(args.card, args, results)


if __name__ == "__main__":
    main()
