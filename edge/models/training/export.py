"""Export the trained LitterNet (EMA weights) to edge/models/litter.onnx with metadata.

Contract: input `images` [1,3,H,W] float32 RGB 0..1 (letterboxed, pad 114/255): 384x640, or 768x1280 for a two-stage
model that names its proposals from the full-resolution frame (model.TwoStage, hires 2);
output `output0` [1, 4+nc, N]: cx, cy, w, h (input pixels), then class scores in 0..1.

Verification: onnx.checker, then one generated 1280x720 frame is letterboxed, run through
the PyTorch model and through onnxruntime (onnxruntime-node, the runtime the gateway
uses, when node and the package are available), and decoded with the numpy reference
decoder below; the two outputs must agree.
"""
from __future__ import annotations

import os

# On a shared, oversubscribed CPU, OpenMP threads that spin-wait at barriers lose most of their
# time slices; sleeping waits make 2-thread training ~3x faster there (and cost nothing when idle).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np
import torch

import generate
from model import count_params, from_checkpoint, input_hw

torch.set_num_threads(2)
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
MODELS = os.path.abspath(os.path.join(HERE, ".."))


# ------------------------------------------------------------------ numpy reference decode
def nms(boxes, scores, iou_thr):
    order = scores.argsort()[::-1]
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        if order.size == 1:
            break
        r = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[r, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[r, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[r, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[r, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        a = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
        b = (boxes[r, 2] - boxes[r, 0]) * (boxes[r, 3] - boxes[r, 1])
        order = r[inter / (a + b - inter + 1e-9) <= iou_thr]
    return np.array(keep, np.int64)


def decode(out, conf=0.5, iou=0.5, scale=1.0, padx=0.0, pady=0.0, agnostic=False, max_det=100, pre_nms=300):
    """out: [4+nc, N] -> (boxes xyxy in frame pixels [k,4], scores [k], classes [k])."""
    xywh = out[:4].T
    cls_scores = out[4:].T
    cls = cls_scores.argmax(1)
    sc = cls_scores[np.arange(len(cls)), cls]
    m = sc >= conf
    xywh, sc, cls = xywh[m], sc[m], cls[m]
    if len(sc) > pre_nms:  # keep the best candidates only (matters at very low thresholds)
        top = np.argsort(-sc)[:pre_nms]
        xywh, sc, cls = xywh[top], sc[top], cls[top]
    b = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], 1)
    off = 0 if agnostic else cls[:, None].astype(np.float32) * 4096.0
    keep = nms(b + off, sc, iou)[:max_det]
    b, sc, cls = b[keep], sc[keep], cls[keep]
    b = (b - np.array([padx, pady, padx, pady], np.float32)) / scale
    return b, sc, cls


# ------------------------------------------------------------------ onnxruntime (node)
ORT_JS = r"""
const ort = require('onnxruntime-node');
const fs = require('fs');
(async () => {
  const [model, inFile, outFile, count, threads] = process.argv.slice(2);
  const s = await ort.InferenceSession.create(model, {intraOpNumThreads: +threads, interOpNumThreads: 1});
  const [H, W] = JSON.parse(process.argv[7]);
  const per = 3 * H * W;
  const buf = fs.readFileSync(inFile);
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const outs = [];
  let ms = 0;
  for (let i = 0; i < +count; i++) {
    const x = new ort.Tensor('float32', all.slice(i * per, (i + 1) * per), [1, 3, H, W]);
    const t = process.hrtime.bigint();
    const r = await s.run({images: x});
    if (i > 0 || +count === 1) ms += Number(process.hrtime.bigint() - t) / 1e6;
    const o = r.output0;
    if (i === 0) process.stderr.write('output0 dims ' + JSON.stringify(o.dims) + '\n');
    outs.push(Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength));
  }
  fs.writeFileSync(outFile, Buffer.concat(outs));
  console.log(JSON.stringify({ms_per_frame: ms / Math.max(1, +count - (+count > 1 ? 1 : 0)), inputs: s.inputNames, outputs: s.outputNames}));
})().catch(e => { console.error(e); process.exit(1); });
"""


def ort_available():
    return shutil.which("node") is not None and os.path.isdir(os.path.join(REPO, "node_modules", "onnxruntime-node"))


def ort_run(onnx_path, x, threads=2, chunk=32):
    """x: float32 [K,3,H,W] -> (outputs [K, 4+nc, N], info dict). Runs onnxruntime-node."""
    outs, infos = [], []
    with tempfile.TemporaryDirectory() as td:
        js = os.path.join(td, "run.cjs")
        with open(js, "w") as f:
            f.write(ORT_JS)
        env = dict(os.environ, NODE_PATH=os.path.join(REPO, "node_modules"))
        for s in range(0, len(x), chunk):
            xi = np.ascontiguousarray(x[s:s + chunk], np.float32)
            xi.tofile(os.path.join(td, "in.bin"))
            r = subprocess.run(["node", js, onnx_path, os.path.join(td, "in.bin"), os.path.join(td, "out.bin"), str(len(xi)), str(threads), json.dumps(list(x.shape[2:]))],
                               env=env, capture_output=True, text=True, check=True)
            infos.append(json.loads(r.stdout.strip().splitlines()[-1]))
            o = np.fromfile(os.path.join(td, "out.bin"), np.float32)
            outs.append(o.reshape(len(xi), 4 + len(generate.CLASSES), -1))
    info = dict(infos[0])
    info["ms_per_frame"] = float(np.mean([i["ms_per_frame"] for i in infos]))
    return np.concatenate(outs), info


# ------------------------------------------------------------------ export
def _first_seed(info):
    while info.get("previous") or info.get("phase1"):
        info = info.get("previous") or info.get("phase1")
    return info.get("seed", "")


def load_model(weights):
    ck = torch.load(weights, map_location="cpu")
    return from_checkpoint(ck), ck


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="/tmp/litter_train/litter.pt")
    ap.add_argument("--out", default=os.path.join(MODELS, "litter.onnx"))
    ap.add_argument("--version", default="1.0.0")
    args = ap.parse_args()
    import onnx

    m, ck = load_model(args.weights)
    m.export = True
    H, W = input_hw(m)
    with torch.no_grad():
        n_out = m(torch.zeros(1, 3, H, W)).shape[-1]
    x0 = torch.zeros(1, 3, H, W)
    tmp = args.out + ".tmp"
    torch.onnx.export(m, x0, tmp, opset_version=17, input_names=["images"], output_names=["output0"],
                      do_constant_folding=True, dynamic_axes=None)
    mp = onnx.load(tmp)
    info = ck.get("info", {})
    meta = {
        "names": json.dumps({str(i): n for i, n in enumerate(generate.CLASSES)}),
        "stride": "8",
        "imgsz": json.dumps([H, W]),
        "description": "Hutong litter detector (%s, %d params). Input images [1,3,%d,%d] float32 RGB 0..1 letterboxed (pad 114/255). "
                       "Output output0 [1,9,%d]: cx,cy,w,h in input pixels, then scores in 0..1 for bottle,can,cup,bag,paper. "
                       "No NMS inside. Trained only on procedurally generated scenes."
                       % ("two-stage: proposer + crop classifier" if hasattr(m, "cls") else "LitterNet, single-scale stride-8 anchor-free", count_params(m), H, W, n_out),
        "version": args.version,
        "task": "detect",
        "nc": str(len(generate.CLASSES)),
        "iterations": str(info.get("iters", ck.get("iters", ""))),  # total over all training phases
        "seed": str(_first_seed(info)),
    }
    del mp.metadata_props[:]
    for k, v in meta.items():
        p = mp.metadata_props.add()
        p.key, p.value = k, v
    mp.producer_name = "hutong-litter"
    onnx.checker.check_model(mp)
    assert mp.opset_import[0].version <= 17
    assert [i.name for i in mp.graph.input] == ["images"] and [o.name for o in mp.graph.output] == ["output0"]
    dims = [d.dim_value for d in mp.graph.output[0].type.tensor_type.shape.dim]
    assert dims == [1, 4 + len(generate.CLASSES), n_out], dims
    onnx.save(mp, args.out)
    os.remove(tmp)
    with open(os.path.join(os.path.dirname(args.out), "litter.labels.txt"), "w") as f:
        f.write("\n".join(generate.CLASSES) + "\n")
    print(f"exported {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB, opset {mp.opset_import[0].version}, params {count_params(m)})")

    # one reference run: generated frame -> letterbox -> torch and onnxruntime -> numpy decode
    img, gb, gc = generate.frame_sample(424242)
    x, r, px, py = generate.letterbox(img, W, H)
    with torch.no_grad():
        ref = m(torch.from_numpy(x)[None]).numpy()
    print(f"frame 424242: {len(gb)} ground-truth items {[generate.CLASSES[c] for c in gc]}")
    b, s, c = decode(ref[0], 0.5, 0.5, r, px, py)
    print("torch decode:", [(generate.CLASSES[ci], round(float(si), 3), [round(float(v)) for v in bi]) for bi, si, ci in zip(b, s, c)])
    if ort_available():
        out, oinfo = ort_run(args.out, x[None])
        diff = float(np.abs(out - ref).max())
        b2, s2, c2 = decode(out[0], 0.5, 0.5, r, px, py)
        print("onnxruntime decode:", [(generate.CLASSES[ci], round(float(si), 3), [round(float(v)) for v in bi]) for bi, si, ci in zip(b2, s2, c2)])
        print(f"onnxruntime-node vs torch: max |diff| = {diff:.2e}; io {oinfo['inputs']} -> {oinfo['outputs']}")
        assert diff < 1e-2, diff
        # latency on 2 threads
        xs = np.repeat(x[None], 21, 0)
        _, tinfo = ort_run(args.out, xs)
        print(f"onnxruntime-node latency (2 threads): {tinfo['ms_per_frame']:.1f} ms/frame")
        with open(os.path.splitext(args.weights)[0] + ".latency.json", "w") as f:
            json.dump({"ms_per_frame": tinfo["ms_per_frame"]}, f)
    else:
        print("onnxruntime-node not available: skipped runtime check")


if __name__ == "__main__":
    main()
