"""The second stage: CropNet names what the proposer found (bottle, can, cup, bag, paper, or ground).

  classify.py --cache DIR --cache-n N --cache-seed S --out cls.pt [--epochs E] [--dev DIR]

Crops are cut from the detector's cached training scenes with `model.crop_boxes`, the very function the exported
graph runs, around each item's box shaken the way proposals miss (centre and size), and around boxes of bare
ground that keep clear of every item. Softmax cross-entropy, dihedral flips and photometric jitter; deterministic
for a given seed (2 torch threads). `--dev` reports accuracy on a labelled frame folder (e.g. a simulator dev set);
it is never trained on.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

import generate
from model import STRIDE, CropNet, count_params, crop_boxes, peaks

torch.set_num_threads(2)
GROUND = len(generate.CLASSES)
SIZE, CTX, PAD = 40, 1.5, 6.0


def shaken(rng, b, n):
    """n copies of box b (xyxy) with the centre moved and the sides scaled as a proposal might."""
    w, h = b[2] - b[0], b[3] - b[1]
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    s = max(w, h)
    out = []
    for _ in range(n):
        x = cx + rng.normal(0, 0.07) * s
        y = cy + rng.normal(0, 0.07) * s
        ww, hh = w * math.exp(rng.normal(0, 0.12)), h * math.exp(rng.normal(0, 0.12))
        out.append([x - ww / 2, y - hh / 2, x + ww / 2, y + hh / 2])
    return out


def ground_boxes(rng, b, size, n, k=1):
    """n boxes of bare ground, 10-70 model px long (k image px per model px), clear of every item box in b."""
    out = []
    for _ in range(n * 20):
        if len(out) == n:
            break
        L = math.exp(rng.uniform(math.log(10), math.log(70))) * k
        ar = rng.uniform(0.35, 1.0)
        w, h = (L, L * ar) if rng.random() < 0.5 else (L * ar, L)
        x0, y0 = rng.uniform(0, size - w), rng.uniform(0, size - h)
        q = [x0, y0, x0 + w, y0 + h]
        if all(q[2] + 3 < g[0] or g[2] + 3 < q[0] or q[3] + 3 < g[1] or g[3] + 3 < q[1] for g in b):
            out.append(q)
    return out


def mine(proposer, imgs, boxes, thr=0.1, per_scene=4, bs=16, hires=1):
    """Per scene, the proposer's peaks (objectness >= thr) that overlap no item: the ground it mistakes for litter.
    hires: the scenes have that many pixels per model pixel; the proposer sees them averaged down, as in TwoStage."""
    import evaluate
    from model import from_checkpoint
    det = from_checkpoint(torch.load(proposer, map_location="cpu"))
    det.export = True
    out = []
    with torch.no_grad():
        for s in range(0, len(imgs), bs):
            x = torch.from_numpy(imgs[s:s + bs]).permute(0, 3, 1, 2).float() / 255
            xd = F.avg_pool2d(x, hires) if hires > 1 else x
            o = det(x if getattr(det, "hires", 1) > 1 else xd)  # a stem proposer (hires) averages the input itself
            scores, xywh = peaks(o, xd.shape[2] // STRIDE, xd.shape[3] // STRIDE, per_scene * 3)
            for k in range(len(xd)):
                sc, c = scores[k].numpy(), xywh[k].T.numpy() * hires
                cand = np.concatenate([c[:, :2] - c[:, 2:] / 2, c[:, :2] + c[:, 2:] / 2], 1)[sc >= thr]
                gt = boxes[s + k]
                iou = evaluate.iou_matrix(cand.astype(np.float32), np.asarray(gt, np.float32).reshape(-1, 4))
                far = iou.max(1) < 0.2 if len(gt) else np.ones(len(cand), bool)
                out.append(cand[far][:per_scene].tolist())
    return out


def item_boxes(rng, boxes, classes, n, min_side=0):
    """n shaken copies of each item box at least `min_side` px long, and their labels."""
    bs, ys = [], []
    for b, c in zip(boxes, classes):
        if max(b[2] - b[0], b[3] - b[1]) >= min_side:
            bs += shaken(rng, b, n)
            ys += [int(c)] * n
    return bs, ys


def build_crops(imgs, boxes, classes, seed, per_item=2, per_scene=2, hard=None, small=0, size=SIZE, hires=1):
    """uint8 crops [M,3,size,size] and labels [M]; `hard`: per scene, extra ground boxes (mined); `small`: per
    scene, that many more crops of each item and of bare ground cut from the scene shrunk (antialiased) so that
    its items are 9-20 model px long, the sizes at which a camera's far items arrive. `hires`: image pixels per
    model pixel of the scenes (and of the boxes)."""
    rng = np.random.default_rng(seed)
    X, Y = [], []

    def cut(img, bs, ys):
        if bs:
            cr = crop_boxes(img, torch.tensor(bs, dtype=torch.float32)[None], size, CTX, PAD * hires)
            X.append((cr * 255 + 0.5).clamp(0, 255).to(torch.uint8))
            Y.extend(ys)

    for i in range(len(imgs)):
        bs, ys = item_boxes(rng, boxes[i], classes[i], per_item)
        g = ground_boxes(rng, boxes[i], imgs.shape[1], per_scene, hires) + (hard[i] if hard else [])
        bs += g
        ys += [GROUND] * len(g)
        img = torch.from_numpy(imgs[i]).permute(2, 0, 1)[None].float() / 255
        cut(img, bs, ys)
        if small and len(boxes[i]):
            longest = max(max(b[2] - b[0], b[3] - b[1]) for b in boxes[i])
            f = min(1.0, rng.uniform(9, 20) * hires / longest)
            n = max(16, round(img.shape[-1] * f))
            f = n / img.shape[-1]
            sm = F.interpolate(img, size=(n, n), mode="bilinear", align_corners=False, antialias=True)
            # items under 7 px are too small to name, as in the proposer's targets
            bs, ys = item_boxes(rng, [[v * f for v in b] for b in boxes[i]], classes[i], small, min_side=7 * hires)
            g = [[v * f for v in q] for q in ground_boxes(rng, boxes[i], imgs.shape[1], small, hires)]
            cut(sm, bs + g, ys + [GROUND] * len(g))
    return torch.cat(X), torch.tensor(Y)


def frame_crops(folder, size=SIZE, hires=1):
    """Crops of a labelled frame folder's items at their true boxes, cut from the letterboxed model input."""
    import evaluate
    it, _ = evaluate.heldout_frames(folder)
    X, Y = [], []
    for img, gb, gc, _ in it:
        if not len(gb):
            continue
        x, r, px, py = generate.letterbox(img, generate.IN_W * hires, generate.IN_H * hires)
        b = torch.tensor(gb, dtype=torch.float32) * r + torch.tensor([px, py, px, py], dtype=torch.float32)
        X.append(crop_boxes(torch.from_numpy(x)[None], b[None], size, CTX, PAD * hires))
        Y += list(gc)
    return torch.cat(X), torch.tensor(Y)


def augment(g, x):
    bs = len(x)
    if torch.rand(1, generator=g) < 0.5:
        x = x.flip(3)
    x = torch.rot90(x, int(torch.randint(0, 4, (1,), generator=g)), (2, 3))
    gain = 0.8 + 0.4 * torch.rand(bs, 3, 1, 1, generator=g)
    off = (torch.rand(bs, 1, 1, 1, generator=g) - 0.5) * 0.12
    return (x * gain + off).clamp(0, 1)


def accuracy(net, X, Y):
    """X: float crops (frame_crops)."""
    net.eval()
    with torch.no_grad():
        P = torch.cat([net(X[i:i + 256]).argmax(1) for i in range(0, len(X), 256)])
    net.train()
    return float((P == Y).float().mean()), P


def main():
    import train
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default="/tmp/litter_cache")
    ap.add_argument("--cache-n", type=int, default=3000)
    ap.add_argument("--cache-seed", type=int, default=1234000)
    ap.add_argument("--seed", type=int, default=4321)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--out", default="/tmp/litter_train/cls.pt")
    ap.add_argument("--mine", default="", help="a proposer checkpoint: its peaks on bare ground become ground crops")
    ap.add_argument("--dev", default="", help="labelled frame folder to report accuracy on (never trained on)")
    ap.add_argument("--small", type=int, default=0, help="crops per item from the scene shrunk to far-item sizes")
    ap.add_argument("--variety", type=int, default=1, help="generator variety of the scenes (generate.render_scene)")
    ap.add_argument("--hires", type=int, default=1, help="crops from scenes at that many pixels per model pixel (TwoStage.hires)")
    ap.add_argument("--size", type=int, default=SIZE, help="crop side in pixels")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--init", default="", help="start from this classifier checkpoint (fine-tuning)")
    ap.add_argument("--per-scene", type=int, default=4, help="mined ground boxes per scene, at most")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    imgs, boxes, classes = train.build_cache(args.cache, args.cache_n, args.cache_seed, variety=args.variety, hires=args.hires)
    hard = mine(args.mine, imgs, boxes, per_scene=args.per_scene, hires=args.hires) if args.mine else None
    if hard:
        print(f"mined {sum(len(h) for h in hard)} ground boxes the proposer takes for litter ({time.time() - t0:.0f}s)", flush=True)
    X, Y = build_crops(imgs, boxes, classes, args.seed, hard=hard, small=args.small, size=args.size, hires=args.hires)
    del imgs
    print(f"crops {len(X)} per class {np.bincount(Y.numpy()).tolist()} ({time.time() - t0:.0f}s)", flush=True)
    dev = frame_crops(args.dev, args.size, args.hires) if args.dev else None
    net = CropNet()
    if args.init:  # fine-tune: start from a trained classifier (same architecture)
        net.load_state_dict(torch.load(args.init, map_location="cpu")["model"])
    print(f"params: {count_params(net)}", flush=True)
    opt = torch.optim.AdamW(net.parameters(), args.lr, weight_decay=5e-4)
    steps = args.epochs * (len(X) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=steps, pct_start=0.15)
    g = torch.Generator().manual_seed(args.seed)
    t1 = time.time()
    for ep in range(args.epochs):
        perm = torch.randperm(len(X), generator=g)
        tot = 0.0
        for k in range(len(X) // args.batch):
            idx = perm[k * args.batch:(k + 1) * args.batch]
            loss = F.cross_entropy(net(augment(g, X[idx].float() / 255)), Y[idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss)
        msg = f"epoch {ep + 1}/{args.epochs} loss {tot / max(1, len(X) // args.batch):.3f} {time.time() - t1:.0f}s"
        if dev is not None:
            msg += f" dev acc {accuracy(net, dev[0], dev[1])[0]:.3f}"
        print(msg, flush=True)
    info = {"params": count_params(net), "arch": net.arch, "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "seed": args.seed,
            "cache_n": args.cache_n, "cache_seed": args.cache_seed, "crops": len(X), "mined": bool(args.mine), "init": os.path.basename(args.init) if args.init else "", "small": args.small, "variety": args.variety, "size": args.size, "hires": args.hires, "ctx": CTX, "pad": PAD,
            "train_seconds": round(time.time() - t1, 1), "torch": torch.__version__}
    net.eval()
    torch.save({"model": net.state_dict(), "info": info}, args.out)
    print("saved", args.out, json.dumps(info), flush=True)
    if dev is not None:
        acc, P = accuracy(net, dev[0], dev[1])
        cm = np.zeros((GROUND, GROUND + 1), int)
        for a, b in zip(dev[1].numpy(), P.numpy()):
            cm[a, b] += 1
        print("dev rows=truth", generate.CLASSES, "cols + ground")
        print(cm)


if __name__ == "__main__":
    main()
