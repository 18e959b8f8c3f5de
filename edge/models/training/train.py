"""Train LitterNet on procedurally generated scenes.

Step 1 (cached): generate N training samples (320x320 at model resolution) into
/tmp/litter_cache with 2 worker processes (deterministic: sample i uses seed base+i).
Step 2: a fixed number of iterations of AdamW + cosine LR, EMA weights, on random
256x256 crops of the cached samples with dihedral flips and photometric jitter.
--hires 2 (a later phase, --init from a proposer): samples at twice the scale, crops of 2 x --crop pixels; the model
averages them down and learns a stem from the full-resolution pixels (model.LitterNet), targets on its grid.

Loss (YOLOv8 / TOOD flavoured, single scale stride 8):
  - positives: for every box, up to `topk` cells nearest to its centre whose centres lie
    inside the box (always at least the nearest cell); a cell claimed by several boxes
    goes to the smallest box.
  - class target = IoU(pred, gt) / max IoU over that box's positives (detached), so the
    best cell of each object aims at 1 and the others are ranked by box quality.
  - BCE over all cells and classes + GIoU box loss weighted by the class target.
"""
from __future__ import annotations

import os

# On a shared, oversubscribed CPU, OpenMP threads that spin-wait at barriers lose most of their
# time slices; sleeping waits make 2-thread training ~3x faster there (and cost nothing when idle).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import argparse
import json
import math
import os
import time
from multiprocessing import Pool

import numpy as np
import torch
import torch.nn.functional as F

import generate
from model import LitterNet, count_params, from_checkpoint

torch.set_num_threads(2)


# ---------------------------------------------------------------------------- cache
def _chunk(args):
    path, seed, start, count, size, variety, hires = args
    imgs = np.empty((count, size * hires, size * hires, 3), np.uint8)
    boxes, classes = [], []
    for k in range(count):
        img, b, c = generate.train_sample(seed + start + k, size, variety, hires)
        imgs[k] = img
        boxes.append(b)
        classes.append(c)
    tmp = path + ".tmp.npz"
    np.savez(tmp, imgs=imgs, boxes=np.array(boxes + [None], object)[:-1], classes=np.array(classes + [None], object)[:-1])
    os.replace(tmp, path)
    return path


def build_cache(path, n, seed, size=320, workers=2, chunk=50, variety=0, hires=1):
    """Generate samples seed+0 .. seed+n-1 in chunk files (resumable; a file name holds the seed, the chunk start,
    the generator's variety and resolution and a fingerprint of generate.py, so stale chunks are never reused).
    `hires`: samples at that many pixels per model pixel (generate.train_sample)."""
    os.makedirs(path, exist_ok=True)
    fp = _gen_fingerprint()[:10] + (f"_v{variety}" if variety else "") + (f"_x{hires}" if hires > 1 else "")
    jobs = []
    for start in range(0, n, chunk):
        f = os.path.join(path, f"s{seed}_{start:06d}_{min(chunk, n - start)}_{size}_{fp}.npz")
        if not os.path.exists(f):
            jobs.append((f, seed, start, min(chunk, n - start), size, variety, hires))
    t = time.time()
    if jobs:
        print(f"cache: generating {sum(j[3] for j in jobs)} of {n} samples into {path}", flush=True)
        with Pool(workers) as pool:
            for i, _ in enumerate(pool.imap_unordered(_chunk, jobs)):
                print(f"cache: chunk {i + 1}/{len(jobs)} {time.time() - t:.0f}s", flush=True)
    imgs = np.empty((n, size * hires, size * hires, 3), np.uint8)
    boxes, classes = [], []
    for start in range(0, n, chunk):
        f = os.path.join(path, f"s{seed}_{start:06d}_{min(chunk, n - start)}_{size}_{fp}.npz")
        d = np.load(f, allow_pickle=True)
        imgs[start:start + len(d["imgs"])] = d["imgs"]
        boxes += [np.asarray(b, np.float32).reshape(-1, 4) for b in d["boxes"]]
        classes += [np.asarray(c, np.int64) for c in d["classes"]]
    print(f"cache: {n} samples ready ({time.time() - t:.0f}s)", flush=True)
    return imgs, boxes, classes


def _gen_fingerprint():
    import hashlib
    with open(generate.__file__, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


# ---------------------------------------------------------------------------- batches
def make_batch(rng, imgs, boxes, classes, bs, crop, band=0.0):
    size = imgs.shape[1]
    xb = np.empty((bs, crop, crop, 3), np.uint8)
    tb = []
    for k in range(bs):
        i = int(rng.integers(0, len(imgs)))
        ox, oy = int(rng.integers(0, size - crop + 1)), int(rng.integers(0, size - crop + 1))
        if len(boxes[i]) and rng.random() < 0.7:  # object-centred crop: keep one item whole
            bx = boxes[i][int(rng.integers(0, len(boxes[i])))]
            lo_x, hi_x = max(0, int(math.ceil(bx[2])) - crop), min(int(bx[0]), size - crop)
            lo_y, hi_y = max(0, int(math.ceil(bx[3])) - crop), min(int(bx[1]), size - crop)
            if lo_x <= hi_x and lo_y <= hi_y:
                ox, oy = int(rng.integers(lo_x, hi_x + 1)), int(rng.integers(lo_y, hi_y + 1))
        im = imgs[i, oy:oy + crop, ox:ox + crop]
        b = boxes[i].copy()
        c = classes[i].copy()
        if len(b):
            area0 = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
            b -= np.array([ox, oy, ox, oy], np.float32)
            b = np.clip(b, 0, crop)
            area1 = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
            keep = area1 > 0.55 * area0
            ign = b[~keep & (area1 > 0)]  # mostly cut off by the crop: neither positive nor negative
            b, c = b[keep], c[keep]
        else:
            ign = np.zeros((0, 4), np.float32)
        # dihedral augmentation
        nb = len(b)
        b = np.concatenate([b.reshape(-1, 4), ign.reshape(-1, 4)], 0)
        if rng.random() < 0.5:
            im = im[:, ::-1]
            b = np.stack([crop - b[:, 2], b[:, 1], crop - b[:, 0], b[:, 3]], 1) if len(b) else b
        if rng.random() < 0.5:
            im = im[::-1]
            b = np.stack([b[:, 0], crop - b[:, 3], b[:, 2], crop - b[:, 1]], 1) if len(b) else b
        if rng.random() < 0.5:
            im = im.transpose(1, 0, 2)
            b = b[:, [1, 0, 3, 2]] if len(b) else b
        im = np.array(im)
        if band and rng.random() < band:  # letterbox padding band (114 grey) at the top or bottom
            pad = int(rng.integers(6, 30))
            if rng.random() < 0.5:
                im[:pad] = 114
                b[:, 1] = np.maximum(b[:, 1], pad)
            else:
                im[crop - pad:] = 114
                b[:, 3] = np.minimum(b[:, 3], crop - pad)
            b[:, 3] = np.maximum(b[:, 3], b[:, 1])
            gone = (b[:nb, 3] - b[:nb, 1]) < 4  # item hidden under the band: drop it
            if gone.any():
                b = np.concatenate([b[:nb][~gone], b[nb:]], 0)
                c = c[~gone]
                nb = len(c)
        xb[k] = im
        b = np.ascontiguousarray(b, np.float32).reshape(-1, 4)
        tb.append((torch.from_numpy(b[:nb]), torch.from_numpy(c).long(), torch.from_numpy(b[nb:])))
    x = torch.from_numpy(xb).permute(0, 3, 1, 2).float().div_(255.0)
    # photometric jitter (on top of the generator's own)
    g = torch.from_numpy(rng.uniform(0.85, 1.15, (bs, 3, 1, 1)).astype(np.float32))
    o = torch.from_numpy(rng.uniform(-0.06, 0.06, (bs, 1, 1, 1)).astype(np.float32))
    x = (x * g + o).clamp_(0, 1)
    return x, tb


# ---------------------------------------------------------------------------- loss
def box_iou_pair(a, b):
    """a, b: [..., 4] xyxy -> (iou, giou)."""
    ix1, iy1 = torch.max(a[..., 0], b[..., 0]), torch.max(a[..., 1], b[..., 1])
    ix2, iy2 = torch.min(a[..., 2], b[..., 2]), torch.min(a[..., 3], b[..., 3])
    inter = (ix2 - ix1).clamp(min=0) * (iy2 - iy1).clamp(min=0)
    aa = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    ab = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = aa + ab - inter + 1e-7
    iou = inter / union
    cx1, cy1 = torch.min(a[..., 0], b[..., 0]), torch.min(a[..., 1], b[..., 1])
    cx2, cy2 = torch.max(a[..., 2], b[..., 2]), torch.max(a[..., 3], b[..., 3])
    carea = (cx2 - cx1) * (cy2 - cy1) + 1e-7
    return iou, iou - (carea - union) / carea


def compute_loss(pred_boxes, pred_logits, targets, h, w, stride=8, topk=9, box_w=5.0, tmin=0.1):
    B, N, nc = pred_logits.shape
    dev = pred_logits.device
    ys = (torch.arange(h, dtype=torch.float32) + 0.5) * stride
    xs = (torch.arange(w, dtype=torch.float32) + 0.5) * stride
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    centers = torch.stack([gx.flatten(), gy.flatten()], 1)  # N,2
    cls_t = torch.zeros(B, N, nc, device=dev)
    cls_w = torch.ones(B, N, 1, device=dev)
    box_losses, weights = [], []
    for bi, (gb, gc, ig) in enumerate(targets):
        if len(ig):
            inside_ig = ((centers[None, :, 0] > ig[:, None, 0]) & (centers[None, :, 0] < ig[:, None, 2]) &
                         (centers[None, :, 1] > ig[:, None, 1]) & (centers[None, :, 1] < ig[:, None, 3])).any(0)
            cls_w[bi, inside_ig] = 0.0
        if len(gb) == 0:
            continue
        M = len(gb)
        gctr = (gb[:, :2] + gb[:, 2:]) / 2  # M,2
        d = ((centers[None] - gctr[:, None]) ** 2).sum(-1)  # M,N
        inside = (centers[None, :, 0] > gb[:, None, 0]) & (centers[None, :, 0] < gb[:, None, 2]) & \
                 (centers[None, :, 1] > gb[:, None, 1]) & (centers[None, :, 1] < gb[:, None, 3])
        dm = torch.where(inside, d, torch.full_like(d, 1e12))
        k = min(topk, N)
        _, idx = dm.topk(k, dim=1, largest=False)
        cand = torch.zeros(M, N, dtype=torch.bool)
        cand.scatter_(1, idx, True)
        cand &= inside
        cand[torch.arange(M), d.argmin(1)] = True  # always the nearest cell
        area = (gb[:, 2] - gb[:, 0]) * (gb[:, 3] - gb[:, 1])
        area_m = torch.where(cand, area[:, None].expand(M, N), torch.full((M, N), 1e12))
        owner = area_m.argmin(0)  # N
        pos = cand.any(0)
        pidx = pos.nonzero().squeeze(1)
        gi = owner[pidx]
        pb = pred_boxes[bi, pidx]
        tbx = gb[gi]
        iou, giou = box_iou_pair(pb, tbx)
        with torch.no_grad():
            miou = torch.zeros(M).scatter_reduce(0, gi, iou.detach(), reduce="amax", include_self=True)
            t = (iou.detach() / miou[gi].clamp(min=1e-6)).clamp(0, 1)
            t = tmin + (1 - tmin) * t  # every positive carries at least tmin
        cls_t[bi, pidx, gc[gi]] = t
        cls_w[bi, pidx] = 1.0
        box_losses.append(((1 - giou) * t).sum())
        weights.append(t.sum())
    tsum = max(float(sum(weights)) if weights else 0.0, 1.0)
    l_cls = (F.binary_cross_entropy_with_logits(pred_logits, cls_t, reduction="none") * cls_w).sum() / tsum
    l_box = (torch.stack(box_losses).sum() / tsum) if box_losses else pred_boxes.sum() * 0
    return l_cls + box_w * l_box, l_cls.detach(), l_box.detach()


# ---------------------------------------------------------------------------- EMA
class EMA:
    def __init__(self, model, decay=0.9995, tau=400):
        import copy
        self.ema = copy.deepcopy(model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.decay, self.tau, self.updates = decay, tau, 0

    @torch.no_grad()
    def update(self, model):
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / self.tau))
        msd = model.state_dict()
        for k, v in self.ema.state_dict().items():
            if v.dtype.is_floating_point:
                v.mul_(d).add_(msd[k].detach(), alpha=1 - d)
            else:
                v.copy_(msd[k])


# ---------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=192)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--cache", default="/tmp/litter_cache")
    ap.add_argument("--cache-n", type=int, default=1250)
    ap.add_argument("--cache-seed", type=int, default=1234000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (1: two runs side by side on two cores)")
    ap.add_argument("--out", default="/tmp/litter_train/litter.pt")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--ckpt-every", type=int, default=50)
    ap.add_argument("--cache-only", action="store_true")
    ap.add_argument("--variety", type=int, default=0, help="generator variety of the scenes (generate.render_scene)")
    ap.add_argument("--init", default="", help="phase 2: start from this checkpoint (its EMA weights)")
    ap.add_argument("--hires", type=int, default=1, choices=[1, 2], help="scenes at 2 px per model px; the model averages "
                    "them down and adds a learned stem from the full-resolution pixels (model.LitterNet hires)")
    ap.add_argument("--tmin", type=float, default=0.1, help="minimum class target of a positive cell")
    ap.add_argument("--band", type=float, default=0.0, help="probability of an extra letterbox band per crop")
    ap.add_argument("--agnostic", action="store_true", help="one class, `litter here`: the proposer of the two-stage model")
    ap.add_argument("--ema", type=float, default=0.999, help="EMA decay of the exported weights")
    ap.add_argument("--decay", action="store_true", help="cosine-decay the LR to 2%% over --iters (phase 2)")
    ap.add_argument("--state", default="", help="resumable training state, saved with every checkpoint: a run "
                    "interrupted and started again with the same arguments continues where it stopped, and ends with "
                    "the same weights as an uninterrupted run (same batches, same optimiser state)")
    ap.add_argument("--arch", default="", help='model shape overrides as JSON, e.g. {"w": [16, 32, 96, 128, 128], "neck": [96, 96]}')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t_all = time.time()
    imgs, boxes, classes = build_cache(args.cache, args.cache_n, args.cache_seed, workers=args.workers, variety=args.variety, hires=args.hires)
    if args.cache_only:
        return
    # the generator's decoys (variety 5: ground, class len(CLASSES)) are for the crop classifiers only
    keep = [c < len(generate.CLASSES) for c in classes]
    boxes, classes = [b[k] for b, k in zip(boxes, keep)], [c[k] for c, k in zip(classes, keep)]
    t_gen = time.time() - t_all

    if args.agnostic:
        classes = [np.zeros_like(c) for c in classes]
    nc = 1 if args.agnostic else len(generate.CLASSES)
    model = LitterNet(**{**(json.loads(args.arch) if args.arch else {}), "nc": nc, "hires": args.hires})
    prev = {}
    if args.init:
        ck = torch.load(args.init, map_location="cpu")
        src = from_checkpoint(ck)
        if src.nc == nc and src.hires == args.hires:
            model = src.train()
        else:  # e.g. a proposer from a five-class detector (all but the class output), or a stem added (zero-initialised)
            model = LitterNet(**{**src.arch, "nc": nc, "hires": args.hires})
            sd = {k: v for k, v in src.state_dict().items() if src.nc == nc or not k.startswith("cls_out.")}
            model.load_state_dict(sd, strict=False)
            model.train()
        prev = ck.get("info", {})
        print(f"init from {args.init} ({prev.get('iters')} iterations)", flush=True)
    print(f"params: {count_params(model)}", flush=True)
    ema = EMA(model, decay=args.ema, tau=200 if not args.init else 1)
    decay, no_decay = [], []
    for n_, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.999))
    warm = 100 if not args.init else 30

    def lr_at(it):
        # phase 1: warm-up, then constant: the schedule does not depend on the total number of
        # iterations, so the checkpoint after K iterations of a longer run is exactly the
        # result of `--iters K` (EMA weights do the averaging).
        # phase 2 (--decay): short warm-up, then cosine decay to 2% over --iters.
        w = min(1.0, (it + 1) / warm)
        if not args.decay:
            return args.lr * w
        p = it / max(1, args.iters - 1)
        return args.lr * w * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * p)))

    os.makedirs(os.path.dirname(args.out), exist_ok=True)

    def save(iters, t_train):
        info = {"params": count_params(model), "iters": iters, "batch": args.batch, "crop": args.crop, "seed": args.seed,
                "lr": args.lr, "cache_n": args.cache_n, "cache_seed": args.cache_seed, "variety": args.variety, "hires": args.hires, "train_seconds": round(t_train, 1),
                "generate_seconds": round(t_gen, 1), "torch": torch.__version__, "threads": torch.get_num_threads(),
                "schedule": "cosine decay" if args.decay else "warm-up + constant", "tmin": args.tmin, "band": args.band, "nc": nc, "ema": args.ema, "arch": model.arch}
        if prev:  # later phase: keep the totals
            info = {**info, "previous": prev, "iters": prev.get("iters", 0) + iters, "phase_iters": iters,
                    "train_seconds": round(prev.get("train_seconds", 0) + t_train, 1),
                    "generate_seconds": prev.get("generate_seconds", 0)}
        torch.save({"model": ema.ema.state_dict(), "iters": iters, "info": info}, args.out + ".tmp")
        os.replace(args.out + ".tmp", args.out)
        with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump(info, f, indent=1)
        print("checkpoint", json.dumps(info), flush=True)

    # what must match for a saved state to be continued; a constant-LR phase may be lengthened (its schedule does
    # not depend on --iters), a cosine decay may not
    keys = ("batch", "crop", "lr", "seed", "cache_n", "cache_seed", "init", "tmin", "band", "ema", "decay") + (("agnostic",) if args.agnostic else ()) + (("iters",) if args.decay else ()) + (("arch",) if args.arch else ()) + (("hires", "variety") if args.hires > 1 else ())
    same = {k: getattr(args, k) for k in keys}
    start, t_before = 0, 0.0
    gen = _gen_fingerprint()  # the scenes this state was trained on
    if args.state and os.path.exists(args.state):
        st = torch.load(args.state, map_location="cpu")
        if st["args"] != same:
            raise SystemExit(f"{args.state} was saved by a run with other arguments: {st['args']} (now {same}); remove it to start afresh")
        if st.get("gen", gen) != gen:  # states saved before the fingerprint was recorded carry none
            raise SystemExit(f"{args.state} was saved on scenes of another generate.py; remove it to start afresh")
        model.load_state_dict(st["model"])
        ema.ema.load_state_dict(st["ema"])
        ema.updates = st["ema_updates"]
        opt.load_state_dict(st["opt"])
        rng.bit_generator.state = st["rng"]
        torch.set_rng_state(st["torch_rng"])
        start, t_before = st["it"], st["train_seconds"]
        print(f"resumed from {args.state} at iteration {start}", flush=True)
        if start > args.iters:
            raise SystemExit(f"{args.state} is at iteration {start}, past --iters {args.iters}")
        if start == args.iters:
            print(f"{args.out}: already complete", flush=True)
            return

    def save_state(it_done, t_train):
        st = {"model": model.state_dict(), "ema": ema.ema.state_dict(), "ema_updates": ema.updates, "opt": opt.state_dict(),
              "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "it": it_done, "train_seconds": t_train, "args": same, "gen": gen}
        torch.save(st, args.state + ".tmp")
        os.replace(args.state + ".tmp", args.state)

    t0 = time.time() - t_before
    hw = args.crop // 8
    run = [0.0, 0.0, 0.0]
    model.train()
    for it in range(start, args.iters):
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        x, tb = make_batch(rng, imgs, boxes, classes, args.batch, args.crop * args.hires, args.band)
        if args.hires > 1:  # the loss works on the averaged-down grid
            tb = [(b / args.hires, c, ig / args.hires) for b, c, ig in tb]
        pb, pl = model(x)
        loss, lc, lb = compute_loss(pb, pl, tb, hw, hw, tmin=args.tmin)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        ema.update(model)
        run = [r * 0.9 + v * 0.1 for r, v in zip(run, (float(loss), float(lc), float(lb)))] if it > start else [float(loss), float(lc), float(lb)]
        if (it + 1) % args.log_every == 0 or it == 0:
            el = time.time() - t0
            print(f"it {it + 1}/{args.iters} loss {run[0]:.3f} cls {run[1]:.3f} box {run[2]:.3f} lr {lr_at(it):.2e} "
                  f"{el / (it + 1):.2f}s/it elapsed {el / 60:.1f}min eta {(args.iters - it - 1) * el / (it + 1) / 60:.1f}min", flush=True)
        if (it + 1) % args.ckpt_every == 0 or it + 1 == args.iters:
            save(it + 1, time.time() - t0)
            if args.state:
                save_state(it + 1, time.time() - t0)



if __name__ == "__main__":
    main()
