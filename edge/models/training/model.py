"""LitterNet: a small anchor-free single-scale (stride 8) detector, YOLOv8-style output.

backbone  s2 16 -> s4 32 -> s8 64 (s8_res residual blocks) -> s16 128 -> s32 128
neck      top-down: s32 -> s16 (96) -> s8 (64)
head      decoupled branches: one 3x3 conv -> 4 box distances (l,t,r,b, softplus * stride);
          cls_depth 3x3 convs -> nc class logits (telling a cup from a can needs more than finding it)
hires     2: the input is a frame at twice the scale; the network sees it averaged down 2x2 plus a learned stem
          (two small convs on the full-resolution pixels, zero-initialised residual: at the start it is the plain
          network on the averaged frame), and its boxes are in the averaged frame's pixels
ARCH      the default; checkpoints record theirs (`arch`), so older weights still load
output    [N, 4 + nc, H/8 * W/8]: cx, cy, w, h in input pixels (at hires: averaged-frame pixels), then sigmoid class scores
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

NC = 5
STRIDE = 8


class Conv(nn.Module):
    def __init__(self, c1, c2, k=3, s=1):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Res(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a = Conv(c, c, 3)
        self.b = Conv(c, c, 3)

    def forward(self, x):
        return x + self.b(self.a(x))


ARCH = {"s8_res": 2, "cls_depth": 2, "cls_head": 64}
ARCH_V1 = {"s8_res": 1, "cls_depth": 1, "cls_head": 48}  # weights saved before `arch` was recorded


class LitterNet(nn.Module):
    def __init__(self, nc=NC, w=(16, 32, 64, 128, 128), neck=(96, 64), head=48, s8_res=ARCH["s8_res"],
                 cls_depth=ARCH["cls_depth"], cls_head=ARCH["cls_head"], hires=1):
        super().__init__()
        self.arch = {"w": list(w), "neck": list(neck), "head": head, "s8_res": s8_res, "cls_depth": cls_depth, "cls_head": cls_head, "nc": nc}
        if hires != 1:
            if hires != 2:
                raise ValueError(f"hires {hires}: the stem supports 1 or 2")
            self.arch["hires"] = hires
            self.stem = nn.Sequential(Conv(3, 16, 3, 2), Conv(16, 16, 3), nn.Conv2d(16, 3, 1))
            nn.init.zeros_(self.stem[-1].weight)
            nn.init.zeros_(self.stem[-1].bias)
        self.hires = hires
        self.nc = nc
        self.stride = STRIDE
        c1, c2, c3, c4, c5 = w
        self.s2 = Conv(3, c1, 3, 2)
        self.s4 = nn.Sequential(Conv(c1, c2, 3, 2), Conv(c2, c2, 3))
        self.s8 = nn.Sequential(Conv(c2, c3, 3, 2), *[Res(c3) for _ in range(s8_res)])
        self.s16 = nn.Sequential(Conv(c3, c4, 3, 2), Conv(c4, c4, 3))
        self.s32 = nn.Sequential(Conv(c4, c5, 3, 2), Conv(c5, c5, 1))
        self.lat16 = Conv(c5 + c4, neck[0], 1)
        self.n16 = Conv(neck[0], neck[0], 3)
        self.lat8 = Conv(neck[0] + c3, neck[1], 1)
        self.n8 = Conv(neck[1], neck[1], 3)
        self.box_branch = Conv(neck[1], head, 3)
        self.cls_branch = Conv(neck[1], cls_head, 3) if cls_depth == 1 else \
            nn.Sequential(*[Conv(neck[1] if i == 0 else cls_head, cls_head, 3) for i in range(cls_depth)])
        self.box_out = nn.Conv2d(head, 4, 1)
        self.cls_out = nn.Conv2d(cls_head, nc, 1)
        self._init_bias()
        self.export = False

    def _init_bias(self):
        nn.init.constant_(self.box_out.bias, 1.5)  # softplus(1.5) * 8 ~ 14 px per side
        nn.init.normal_(self.box_out.weight, std=0.01)
        nn.init.constant_(self.cls_out.bias, -4.6)  # prior 0.01
        nn.init.normal_(self.cls_out.weight, std=0.01)

    def features(self, x):
        x = self.s2(x)
        x = self.s4(x)
        p3 = self.s8(x)
        p4 = self.s16(p3)
        p5 = self.s32(p4)
        u = F.interpolate(p5, size=p4.shape[-2:], mode="nearest")
        n4 = self.n16(self.lat16(torch.cat([u, p4], 1)))
        u = F.interpolate(n4, size=p3.shape[-2:], mode="nearest")
        return self.n8(self.lat8(torch.cat([u, p3], 1)))

    def forward(self, x):
        if self.hires > 1:
            x = F.avg_pool2d(x, self.hires) + self.stem(x)
        f = self.features(x)
        box = self.box_out(self.box_branch(f))  # N,4,H,W raw
        cls = self.cls_out(self.cls_branch(f))  # N,nc,H,W logits
        n, _, h, w = box.shape
        dist = F.softplus(box) * self.stride  # l,t,r,b in pixels
        ys = (torch.arange(h, dtype=x.dtype) + 0.5) * self.stride
        xs = (torch.arange(w, dtype=x.dtype) + 0.5) * self.stride
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        x1 = gx - dist[:, 0]
        y1 = gy - dist[:, 1]
        x2 = gx + dist[:, 2]
        y2 = gy + dist[:, 3]
        if self.export:
            xywh = torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], 1)
            out = torch.cat([xywh, cls.sigmoid()], 1)
            return out.flatten(2)  # N, 4+nc, H*W
        xyxy = torch.stack([x1, y1, x2, y2], -1).flatten(1, 2)  # N, HW, 4
        return xyxy, cls.flatten(2).transpose(1, 2)  # N, HW, nc logits


def crop_boxes(img, boxes, size=40, ctx=1.5, pad=6.0):
    """img [B,3,H,W], boxes [B,K,4] xyxy in input pixels -> [B*K,3,size,size]: a square around each box (side
    ctx x its longest side + pad), sampled bilinearly at twice the size and averaged 2x2 (a little anti-aliasing).
    The same function cuts the classifier's training crops and runs inside the exported graph."""
    B, _, H, W = img.shape
    K = boxes.shape[1]
    n = 2 * size
    cx = (boxes[..., 0] + boxes[..., 2]) / 2
    cy = (boxes[..., 1] + boxes[..., 3]) / 2
    side = torch.maximum(boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]) * ctx + pad
    t = (torch.arange(n, dtype=img.dtype) + 0.5) / n - 0.5
    gx = (cx[..., None] + side[..., None] * t) * (2.0 / W) - 1  # B,K,n
    gy = (cy[..., None] + side[..., None] * t) * (2.0 / H) - 1
    grid = torch.stack([gx[:, :, None, :].expand(B, K, n, n), gy[:, :, :, None].expand(B, K, n, n)], -1)
    out = F.grid_sample(img, grid.reshape(B, K * n, n, 2), mode="bilinear", padding_mode="border", align_corners=False)
    out = out.reshape(B, 3, K, n, n).permute(0, 2, 1, 3, 4).reshape(B * K, 3, n, n)
    return F.avg_pool2d(out, 2)


def peaks(o, h, w, k):
    """From a proposer's export output o [B, 5, h*w] (cx, cy, w, h, objectness): the k strongest local maxima (3x3)
    of the objectness map -> (objectness [B, k], cx/cy/w/h [B, 4, k])."""
    B = o.shape[0]
    obj = o[:, 4]
    m = obj.reshape(B, 1, h, w)
    peak = (F.max_pool2d(m, 3, 1, 1) == m).to(obj.dtype).reshape(B, -1)
    s, idx = (obj * peak).topk(k, dim=1)
    return s, torch.gather(o[:, :4], 2, idx[:, None, :].expand(B, 4, k))


class CropNet(nn.Module):
    """Names a proposal from a crop around it: the five litter classes and `ground` (no litter)."""

    def __init__(self, nc=NC + 1, w=(24, 48, 96, 128)):
        super().__init__()
        self.arch = {"w": list(w), "nc": nc}
        a, b, c, d = w
        self.body = nn.Sequential(Conv(3, a), Conv(a, a), nn.MaxPool2d(2), Conv(a, b), Conv(b, b), nn.MaxPool2d(2),
                                  Conv(b, c), Conv(c, c), nn.MaxPool2d(2), Conv(c, d), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out = nn.Linear(d, nc)

    def forward(self, x):
        return self.out(self.body(x))


class TwoStage(nn.Module):
    """Export graph: LitterNet (one class, `litter here`) proposes; the K strongest local peaks of its map are cut
    out of the input and named by CropNet. Output [B, 4 + nc, K]: cx, cy, w, h, then per class
    P(class | crop) x min(1, objectness / obj_full). Same layout as the single-stage model, only N = K.
    lit a, obj_pow g (score): class c scores P(litter)^a x P(c)^(1 - a) x min(1, objectness / obj_full)^g, where
    P(litter) = 1 - P(ground). a > 0 keeps an item the classifiers split between two litter classes (a can half
    called a bottle) from falling under the threshold; g < 1 lets the classifiers confirm a clear item the proposer
    is unsure of. The class ranking within a crop is unchanged (a monotone in P(c)). Defaults: the plain product.
    hires h > 1: the input has h pixels per proposer pixel (h x 384 by h x 640: a 1280x720 frame is letterboxed at
    full resolution when h = 2). The proposer sees it averaged down h x h; the crops are cut from the full input, so
    the classifier sees the creases of a bag and the facets of crumpled paper that the downscaled frame blurs away.
    cls2 (optional, with second = {size, ctx, pad, hires}): a second CropNet whose probabilities are averaged with the
    first's, with weight mix (0.5: the plain mean); hires 1 cuts its crops from the averaged-down input (shape at the
    proposer's scale, where bottles, cans and cups are told apart best), hires h from the full input like the first."""

    def __init__(self, det, cls, k=16, size=40, ctx=1.5, pad=6.0, obj_full=1.0, tta=1, ground_bias=0.0, hires=1, cls2=None, second=None,
                 lit=0.0, obj_pow=1.0, mix=0.5):
        super().__init__()
        self.mix = float(mix)
        self.lit, self.obj_pow = float(lit), float(obj_pow)
        self.det, self.cls, self.cls2 = det, cls, cls2
        self.k, self.size, self.ctx, self.pad, self.obj_full, self.tta, self.hires = k, size, ctx, pad, obj_full, tta, hires
        self.second = dict(second or {})
        # subtracted from the ground logit: the classifier's training prior for ground (about 40 % of its crops) is not
        # the share of ground among a frame's strongest proposals
        self.register_buffer("shift", torch.tensor([0.0] * (cls.out.out_features - 1) + [float(ground_bias)]))
        self.export = True  # always the export graph (there is no training forward)

    def name(self, crops, net=None):
        """Class probabilities [M, nc + 1], averaged over the crop's quarter turns when tta is 4 (ground from
        above has no up: the four views are as likely, and their mean errs less than any one)."""
        net = self.cls if net is None else net
        if self.tta == 1:
            return F.softmax(net(crops) - self.shift, 1)
        views = torch.cat([crops, crops.transpose(2, 3).flip(3), crops.flip(2).flip(3), crops.transpose(2, 3).flip(2)])
        return F.softmax(net(views) - self.shift, 1).reshape(4, crops.shape[0], -1).mean(0)

    def propose_and_name(self, x):
        """The proposals and what each classifier calls them: objectness [B, K], cx/cy/w/h [B, 4, K] in input pixels,
        class probabilities [B, K, nc + 1] of the first classifier and of the second (None without one)."""
        self.det.export = True
        B, h = x.shape[0], self.hires
        xd = F.avg_pool2d(x, h) if h > 1 else x
        o = self.det(x if getattr(self.det, "hires", 1) > 1 else xd)  # a hires proposer averages the input itself
        s, xywh = peaks(o, xd.shape[2] // STRIDE, xd.shape[3] // STRIDE, self.k)  # B,K and B,4,K
        xywh = xywh * h if h > 1 else xywh
        c = xywh.permute(0, 2, 1)
        xyxy = torch.cat([c[..., :2] - c[..., 2:] / 2, c[..., :2] + c[..., 2:] / 2], -1)
        p = self.name(crop_boxes(x, xyxy, self.size, self.ctx, self.pad * h)).reshape(B, self.k, -1)
        p2 = None
        if self.cls2 is not None:
            q = self.second
            h2 = q.get("hires", 1)
            src, bx = (x, xyxy) if h2 == h else (xd, xyxy / h)
            p2 = self.name(crop_boxes(src, bx, q["size"], q["ctx"], q["pad"] * h2), self.cls2).reshape(B, self.k, -1)
        return s, xywh, p, p2

    def forward(self, x):
        s, xywh, p, p2 = self.propose_and_name(x)
        scores = score_rule(s, p, p2, self.mix, self.lit, self.obj_pow, self.obj_full)
        return torch.cat([xywh, scores.permute(0, 2, 1)], 1)


def score_rule(s, p, p2=None, mix=0.5, lit=0.0, obj_pow=1.0, obj_full=1.0):
    """Class scores [B, K, nc] from objectness s [B, K] and the classifiers' probabilities p, p2 [B, K, nc + 1] (the
    last class is ground): P(litter)^lit x P(class)^(1 - lit) x min(1, s / obj_full)^obj_pow (TwoStage)."""
    if p2 is not None:
        p = p * (1.0 - mix) + p2 * mix
    obj = (s / obj_full).clamp(max=1.0)[..., None]
    if lit == 0.0 and obj_pow == 1.0:
        return p[..., :-1] * obj
    pl = (1.0 - p[..., -1:]).clamp(min=1e-6)
    return pl ** lit * p[..., :-1] ** (1.0 - lit) * obj.clamp(min=1e-6) ** obj_pow


def from_checkpoint(ck):
    """The checkpoint's model with its architecture and weights (eval mode): a LitterNet, or a TwoStage when the
    checkpoint holds a proposer and a crop classifier."""
    if "cls" in ck:
        det = LitterNet(**ck["det_info"]["arch"])
        det.load_state_dict(ck["det"])
        cls = CropNet(**ck["cls_info"]["arch"])
        cls.load_state_dict(ck["cls"])
        cls2 = None
        if "cls2" in ck:
            cls2 = CropNet(**ck["cls2_info"]["arch"])
            cls2.load_state_dict(ck["cls2"])
        return TwoStage(det, cls, cls2=cls2, **ck.get("two_stage", {})).eval()
    m = LitterNet(**ck.get("info", {}).get("arch", ARCH_V1))
    m.load_state_dict(ck["model"])
    return m.eval()


def input_hw(m):
    """(H, W) of the model's input: 384 x 640, times the two-stage model's `hires`."""
    h = getattr(m, "hires", 1)
    return 384 * h, 640 * h


def count_params(m):
    return sum(p.numel() for p in m.parameters())


if __name__ == "__main__":
    m = LitterNet()
    print("params", count_params(m))
    m.export = True
    print(m(torch.zeros(1, 3, 384, 640)).shape)
