"""Dev-set analysis of a joined two-stage checkpoint, for decisions (never on the committed held-out set).
  analyse.py cache  --weights litter.pt --frames .tmp/dev --out dev.npz   every frame's proposals, once (~2 min)
  analyse.py rules  --cache dev.npz [--grid "[(0.5, 0.5, 0.25)]"]      score rules (lit a, obj_pow g, mix) on it
  analyse.py misses --cache dev.npz [--a 0.5 --g 0.5 --mix 0.25]      why each missed item is missed
The cache holds, per frame, the proposer's K boxes and objectness and both classifiers' probabilities, so a score
rule is scored in a second with `evaluate.metrics`, exactly as the exported graph would score it (model.TwoStage).
Make the dev set with `npx tsx simulators/src/camera/make-heldout.ts --out .tmp/dev --seed 777 --count 300`.
"""
from __future__ import annotations

import argparse

import numpy as np

import evaluate

NAMES = evaluate.CLASSES


def build_cache(weights, frames, out, threads=2):
    import torch
    import generate
    import model
    from export import load_model
    torch.set_num_threads(threads)
    m, _ = load_model(weights)
    if m.cls2 is None:
        raise SystemExit("analyse.py needs a checkpoint with two classifiers (join.py --cls2)")
    H, W = model.input_hw(m)
    it, _ = evaluate.heldout_frames(frames)
    cols = {k: [] for k in ("xywh", "s", "p", "p2", "meta", "gb", "gc")}
    for img, gb, gc, _name in it:
        x, r, px, py = generate.letterbox(img, W, H)
        with torch.no_grad():
            s, xywh, p, p2 = m.propose_and_name(torch.from_numpy(x[None]))
        for k, v in (("xywh", xywh), ("s", s), ("p", p), ("p2", p2)):
            cols[k].append(v[0].numpy())
        cols["meta"].append((r, px, py))
        cols["gb"].append(np.asarray(gb, np.float32).reshape(-1, 4))
        cols["gc"].append(np.asarray(gc, np.int64))
    gb, gc = np.empty(len(cols["gb"]), object), np.empty(len(cols["gc"]), object)
    gb[:], gc[:] = cols["gb"], cols["gc"]
    np.savez(out, X=np.stack(cols["xywh"]), S=np.stack(cols["s"]), P=np.stack(cols["p"]), P2=np.stack(cols["p2"]),
             M=np.asarray(cols["meta"]), GB=gb, GC=gc, OF=np.float32(m.obj_full))
    print(f"cached {len(gb)} frames of {frames} -> {out}")


def load(path):
    z = np.load(path, allow_pickle=True)
    return {k: z[k] for k in z.files}


def probs(c, mix):
    return c["P"] * (1 - mix) + c["P2"] * mix


def scores(c, a, g, mix):
    """[N, nc, K] class scores under a score rule, computed by the graph's own function (model.score_rule)."""
    import torch
    from model import score_rule
    t = {k: torch.from_numpy(np.asarray(c[k])) for k in ("S", "P", "P2")}
    return score_rule(t["S"], t["P"], t["P2"], mix, a, g, float(c.get("OF", 1.0))).numpy().transpose(0, 2, 1)


def rules(c, grid):
    metas = [tuple(m) for m in c["M"]]
    gts = list(zip(c["GB"], c["GC"]))
    for a, g, mix in grid:
        r = evaluate.metrics(np.concatenate([c["X"], scores(c, a, g, mix)], 1), metas, gts)
        per = " ".join(f"{k} {v['recall']:.2f}" for k, v in r["per_class"].items())
        print(f"a {a} g {g} mix {mix}: mAP50 {r['mAP50']:.4f} P {r['precision']:.4f} R {r['recall']:.4f} "
              f"litter-free detections {r['empty_frame_detections']} | recall {per}")


def misses(c, a, g, mix, thr=0.5):
    """Per class: the items with no detection >= thr at IoU 0.5, by the first reason at their best proposal."""
    p, sc = probs(c, mix), scores(c, a, g, mix)
    rows = {n: {"items": 0, "missed": 0, "no proposal": 0, "objectness < 0.3": 0, "named ground": 0,
                "named another class": 0, "unsure class": 0, "sides": []} for n in NAMES}
    for i, (gb, gc) in enumerate(zip(c["GB"], c["GC"])):
        r, px, py = c["M"][i]
        cx, cy, w, h = c["X"][i]
        boxes = np.stack([cx - w / 2 - px, cy - h / 2 - py, cx + w / 2 - px, cy + h / 2 - py], 1) / r
        for b, k in zip(gb, gc):
            row = rows[NAMES[k]]
            row["items"] += 1
            iou = evaluate.iou_matrix(b[None], boxes)[0]
            j = int(iou.argmax())
            if iou[j] >= 0.5 and sc[i, k, j] >= thr:
                continue
            row["missed"] += 1
            row["sides"].append(float(np.sqrt((b[2] - b[0]) * (b[3] - b[1]))))
            q = p[i, j]
            if iou[j] < 0.5:
                row["no proposal"] += 1
            elif c["S"][i, j] < 0.3:
                row["objectness < 0.3"] += 1
            elif q[-1] >= q[:-1].max():
                row["named ground"] += 1
            elif q[:-1].argmax() != k:
                row["named another class"] += 1
            else:
                row["unsure class"] += 1
    for n, row in rows.items():
        sides = row.pop("sides")
        why = ", ".join(f"{k} {v}" for k, v in list(row.items())[2:] if v)
        print(f"{n}: {row['missed']} of {row['items']} missed ({why or 'none'}), median side "
              f"{np.median(sides) if sides else 0:.0f} px")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["cache", "rules", "misses"])
    ap.add_argument("--weights", default="/tmp/litter_train/litter.pt")
    ap.add_argument("--frames", default=".tmp/dev", help="a folder of frames + labels.json (make-heldout.ts)")
    ap.add_argument("--out", default="/tmp/litter_train/dev.npz")
    ap.add_argument("--cache", default="/tmp/litter_train/dev.npz")
    ap.add_argument("--grid", default="[(0.5, 0.5, 0.25)]", help="list of (lit a, obj_pow g, mix)")
    ap.add_argument("--a", type=float, default=0.5)
    ap.add_argument("--g", type=float, default=0.5)
    ap.add_argument("--mix", type=float, default=0.25)
    args = ap.parse_args()
    if args.what == "cache":
        build_cache(args.weights, args.frames, args.out)
    elif args.what == "rules":
        import ast
        rules(load(args.cache), ast.literal_eval(args.grid))
    else:
        misses(load(args.cache), args.a, args.g, args.mix)


if __name__ == "__main__":
    main()
