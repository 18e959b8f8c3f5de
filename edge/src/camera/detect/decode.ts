import type { Letterbox } from './letterbox.js';

/**
 * Output decoding for the three YOLO-style export layouts, then class-wise NMS and the letterbox undone, so
 * boxes come back in frame pixels.
 *  - `yolov8`: [1, 4+nc, N], rows cx, cy, w, h (input px) then class scores (already sigmoid). YOLOv8/YOLO11.
 *  - `yolov5`: [1, N, 5+nc], per row cx, cy, w, h, objectness, class scores; score = objectness × class.
 *  - `e2e`:    [1, K, 6], per row x1, y1, x2, y2, score, class (NMS already done by the model, e.g. YOLOv10/`nms=True`).
 */
export type OutputFormat = 'yolov8' | 'yolov5' | 'e2e';

export interface Detection {
  /** frame px, top-left corner */
  x: number;
  y: number;
  w: number;
  h: number;
  cls: number;
  label: string;
  conf: number;
}

export interface DecodeOptions {
  format: OutputFormat;
  conf: number;
  iou: number;
  labels: readonly string[];
  frameW: number;
  frameH: number;
  box: Letterbox;
  /** Upper bound on detections kept after NMS (a busy frame must not cost unbounded time). */
  maxDet?: number;
}

interface Cand {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  cls: number;
  conf: number;
}

/** Checks that an output shape fits the format and the label count; returns a reason when it does not. */
export function checkOutputShape(format: OutputFormat, dims: readonly number[], nc: number): string | undefined {
  if (dims.length !== 3 || dims[0] !== 1) return `expected a [1, ·, ·] output, got [${dims.join(', ')}]`;
  const [, a, b] = dims as [number, number, number];
  if (format === 'yolov8' && a !== 4 + nc) return `yolov8 output must be [1, 4+nc=${4 + nc}, N], got [${dims.join(', ')}]`;
  if (format === 'yolov5' && b !== 5 + nc) return `yolov5 output must be [1, N, 5+nc=${5 + nc}], got [${dims.join(', ')}]`;
  if (format === 'e2e' && b !== 6) return `e2e output must be [1, K, 6], got [${dims.join(', ')}]`;
  return undefined;
}

/** The raw candidates above the confidence threshold, in input px, corners. */
function candidates(data: Float32Array, dims: readonly number[], format: OutputFormat, conf: number, nc: number): Cand[] {
  const out: Cand[] = [];
  const a = dims[1] as number;
  const b = dims[2] as number;
  if (format === 'yolov8') {
    const n = b;
    for (let i = 0; i < n; i++) {
      let best = -1;
      let bestScore = conf;
      for (let c = 0; c < nc; c++) {
        const s = data[(4 + c) * n + i] as number;
        if (s >= bestScore) {
          bestScore = s;
          best = c;
        }
      }
      if (best < 0) continue;
      const cx = data[i] as number;
      const cy = data[n + i] as number;
      const w = data[2 * n + i] as number;
      const h = data[3 * n + i] as number;
      out.push({ x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2, cls: best, conf: bestScore });
    }
  } else if (format === 'yolov5') {
    for (let i = 0; i < a; i++) {
      const o = i * b;
      const obj = data[o + 4] as number;
      if (obj < conf) continue; // obj × cls ≤ obj
      let best = -1;
      let bestScore = conf;
      for (let c = 0; c < nc; c++) {
        const s = obj * (data[o + 5 + c] as number);
        if (s >= bestScore) {
          bestScore = s;
          best = c;
        }
      }
      if (best < 0) continue;
      const cx = data[o] as number;
      const cy = data[o + 1] as number;
      const w = data[o + 2] as number;
      const h = data[o + 3] as number;
      out.push({ x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2, cls: best, conf: bestScore });
    }
  } else {
    for (let i = 0; i < a; i++) {
      const o = i * 6;
      const s = data[o + 4] as number;
      if (!(s >= conf)) continue;
      const cls = Math.round(data[o + 5] as number);
      if (cls < 0 || cls >= nc) continue;
      out.push({ x1: data[o] as number, y1: data[o + 1] as number, x2: data[o + 2] as number, y2: data[o + 3] as number, cls, conf: s });
    }
  }
  return out;
}

export function iouCorners(a: Cand, b: Cand): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const ua = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return ua > 0 ? inter / ua : 0;
}

/** Greedy class-wise NMS, highest confidence first. */
export function nms<T extends Cand>(cands: T[], iou: number, maxDet: number): T[] {
  cands.sort((p, q) => q.conf - p.conf);
  const keep: T[] = [];
  for (const c of cands) {
    if (keep.length >= maxDet) break;
    if (keep.some((k) => k.cls === c.cls && iouCorners(k, c) > iou)) continue;
    keep.push(c);
  }
  return keep;
}

export function decodeOutput(data: Float32Array, dims: readonly number[], o: DecodeOptions): Detection[] {
  const nc = o.labels.length;
  const raw = candidates(data, dims, o.format, o.conf, nc);
  const kept = o.format === 'e2e' ? raw.sort((p, q) => q.conf - p.conf).slice(0, o.maxDet ?? 300) : nms(raw, o.iou, o.maxDet ?? 300);
  const { scale, padX, padY } = o.box;
  const dets: Detection[] = [];
  for (const c of kept) {
    // Undo the letterbox, then clip to the frame.
    const x1 = clamp((c.x1 - padX) / scale, 0, o.frameW);
    const y1 = clamp((c.y1 - padY) / scale, 0, o.frameH);
    const x2 = clamp((c.x2 - padX) / scale, 0, o.frameW);
    const y2 = clamp((c.y2 - padY) / scale, 0, o.frameH);
    if (x2 - x1 < 1 || y2 - y1 < 1) continue;
    dets.push({ x: x1, y: y1, w: x2 - x1, h: y2 - y1, cls: c.cls, label: o.labels[c.cls] ?? String(c.cls), conf: c.conf });
  }
  return dets;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}
