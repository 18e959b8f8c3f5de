"""Join a proposer (train.py --agnostic) and a crop classifier (classify.py) into one two-stage checkpoint.
  join.py --det prop.pt --cls cls.pt [--cls2 cls_lo.pt] --out litter.pt [--k 16] [--tta 4] [--ground-bias D] [--obj-full F]
          [--lit A] [--obj-pow G]
--cls2: a second classifier (e.g. one trained at the proposer's resolution); the two probabilities are averaged,
the second with weight --mix (0.5: the plain mean).
--cls a.pt,b.pt (and --cls2 likewise): a weight soup, the plain mean of the classifiers' weights. They must share
their architecture and crop geometry and be fine-tuned from one checkpoint (classify.py --init), so that their weights
lie in one basin; the soup costs no more at run time than one classifier.
"""
from __future__ import annotations

import argparse
import json

import torch

from model import count_params, from_checkpoint


def load_classifier(spec):
    """One classifier checkpoint, or the weight soup of several (comma-separated paths)."""
    paths = spec.split(",")
    cks = [torch.load(p, map_location="cpu") for p in paths]
    if len(cks) == 1:
        return cks[0]
    first = cks[0]["info"]
    for p, ck in zip(paths, cks):
        i = ck["info"]
        if any(i.get(k) != first.get(k) for k in ("arch", "size", "ctx", "pad", "hires")):
            raise SystemExit(f"{p}: not the architecture and crop geometry of {paths[0]}, cannot be souped")
    sd = {}
    for k, v in cks[0]["model"].items():
        sd[k] = sum(ck["model"][k].double() for ck in cks).div(len(cks)).to(v.dtype) if v.is_floating_point() else v
    return {"model": sd, "info": dict(first, soup=[{"path": p, **{k: ck["info"].get(k) for k in ("init", "seed", "variety", "cache_seed", "epochs")}} for p, ck in zip(paths, cks)])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--det", required=True)
    ap.add_argument("--cls", required=True, help="a crop classifier, or several to soup (comma-separated)")
    ap.add_argument("--cls2", default="", help="a second crop classifier (or soup), whose probabilities are averaged with the first's")
    ap.add_argument("--out", required=True)
    ap.add_argument("--k", type=int, default=16, help="proposals named per frame (frames hold at most 6 items; 16 and 32 scored the same on the dev set)")
    ap.add_argument("--tta", type=int, default=1, choices=[1, 4], help="name each crop from its four quarter turns")
    ap.add_argument("--ground-bias", type=float, default=0.0, help="subtracted from the ground logit (favours naming litter)")
    ap.add_argument("--obj-full", type=float, default=1.0, help="objectness from which a proposal keeps its full class score")
    ap.add_argument("--lit", type=float, default=0.0, help="score = P(litter)^A x P(class)^(1-A) x objectness^G (model.TwoStage)")
    ap.add_argument("--obj-pow", type=float, default=1.0, help="G above")
    ap.add_argument("--mix", type=float, default=0.5, help="weight of --cls2 in the classifiers' mean")
    args = ap.parse_args()
    det, cls = torch.load(args.det, map_location="cpu"), load_classifier(args.cls)
    ci = cls["info"]
    two = {"k": args.k, "size": ci["size"], "ctx": ci["ctx"], "pad": ci["pad"], "hires": ci.get("hires", 1), "obj_full": args.obj_full, "tta": args.tta, "ground_bias": args.ground_bias,
           "lit": args.lit, "obj_pow": args.obj_pow, "mix": args.mix}
    ck = {"det": det["model"], "det_info": det["info"], "cls": cls["model"], "cls_info": ci, "two_stage": two}
    if args.cls2:
        c2 = load_classifier(args.cls2)
        i2 = c2["info"]
        if i2.get("hires", 1) not in (1, two["hires"]):
            raise SystemExit(f"--cls2 hires {i2.get('hires')} must be 1 or the first classifier's {two['hires']}")
        two["second"] = {"size": i2["size"], "ctx": i2["ctx"], "pad": i2["pad"], "hires": i2.get("hires", 1)}
        ck.update({"cls2": c2["model"], "cls2_info": i2})
    m = from_checkpoint(ck)
    info = {"params": count_params(m), "iters": det["info"].get("iters"), "two_stage": two, "proposer": det["info"], "classifier": ci}
    if args.cls2:
        info["classifier2"] = ck["cls2_info"]
    ck["info"] = info
    ck["iters"] = info["iters"]
    torch.save(ck, args.out)
    with open(args.out.rsplit(".", 1)[0] + ".json", "w") as f:
        json.dump(info, f, indent=1)
    print(f"joined {args.det} + {args.cls}{' + ' + args.cls2 if args.cls2 else ''} -> {args.out} ({info['params']} params)")


if __name__ == "__main__":
    main()
