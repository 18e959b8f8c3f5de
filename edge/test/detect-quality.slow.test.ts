/**
 * Quality of the shipped detector on the committed held-out set, through the real TypeScript path (raw RGB →
 * letterbox in the worker → onnxruntime → decode → NMS → frame pixels), not through the training code.
 * Bar: mAP50 ≥ 0.90, precision ≥ 0.90 and recall ≥ 0.85 at confidence 0.5, no detection on litter-free frames.
 * Negative control: an untrained export of the same contract, built here, must fail that bar by far; otherwise
 * the evaluation itself would be unable to fail.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Detection } from '../src/camera/detect/decode.js';
import { Detector } from '../src/camera/detect/detector.js';
import { iou } from '../src/camera/geometry.js';
import { randomDetector } from './detect-fixtures.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const MODEL = join(root, 'edge/models/litter.onnx');
const HELDOUT = join(root, 'edge/models/heldout');
const log = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

interface Truth {
  label: string;
  x: number;
  y: number;
  w: number;
  h: number;
}
interface HeldoutFrame {
  file: string;
  width: number;
  height: number;
  boxes: Truth[];
}

interface Metrics {
  map50: number;
  ap: Record<string, number>;
  precision: number;
  recall: number;
  tp: number;
  fp: number;
  fn: number;
  /** detections (conf ≥ 0.5) on frames without litter */
  onClean: number;
  cleanFrames: number;
}

let frames: { f: HeldoutFrame; rgb: Uint8Array }[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'hutong-quality-'));

beforeAll(async () => {
  const labels = JSON.parse(readFileSync(join(HELDOUT, 'labels.json'), 'utf8')) as { frames: HeldoutFrame[] };
  frames = await Promise.all(
    labels.frames.map(async (f) => {
      const { data, info } = await sharp(join(HELDOUT, f.file)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      if (info.width !== f.width || info.height !== f.height) throw new Error(`${f.file}: ${info.width}×${info.height}, labels say ${f.width}×${f.height}`);
      return { f, rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
    }),
  );
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Every frame through the detector at a low threshold (for the PR curve); conf 0.5 figures are cut from it. */
async function evaluate(modelPath: string): Promise<Metrics> {
  const det = new Detector({ path: modelPath, format: 'yolov8', conf: 0.5, iou: 0.45 }, log);
  await det.start();
  const all: Detection[][] = [];
  try {
    for (const { f, rgb } of frames) all.push((await det.detect(rgb, f.width, f.height, 0.01)).dets);
  } finally {
    await det.stop();
  }
  const labels = [...new Set(frames.flatMap(({ f }) => f.boxes.map((b) => b.label)))].sort();
  // AP per class: detections ranked by confidence, each matched to the unmatched truth box with the best IoU ≥ 0.5.
  const ap: Record<string, number> = {};
  for (const label of labels) {
    const ranked: { conf: number; tp: boolean }[] = [];
    let nTruth = 0;
    frames.forEach(({ f }, i) => {
      const truth = f.boxes.filter((b) => b.label === label);
      nTruth += truth.length;
      const used = new Set<number>();
      const dets = (all[i] ?? []).filter((d) => d.label === label).sort((a, b) => b.conf - a.conf);
      for (const d of dets) {
        let best = -1;
        let bestIou = 0.5;
        truth.forEach((t, k) => {
          const v = iou(d, t);
          if (!used.has(k) && v >= bestIou) {
            bestIou = v;
            best = k;
          }
        });
        if (best >= 0) used.add(best);
        ranked.push({ conf: d.conf, tp: best >= 0 });
      }
    });
    ranked.sort((a, b) => b.conf - a.conf);
    // all-point interpolated area under the precision-recall curve (VOC 2010+ / COCO style)
    const prec: number[] = [];
    const rec: number[] = [];
    let tp = 0;
    ranked.forEach((r, k) => {
      if (r.tp) tp++;
      prec.push(tp / (k + 1));
      rec.push(nTruth > 0 ? tp / nTruth : 0);
    });
    for (let k = prec.length - 2; k >= 0; k--) prec[k] = Math.max(prec[k] as number, prec[k + 1] as number);
    let area = 0;
    let lastR = 0;
    for (let k = 0; k < rec.length; k++) {
      area += ((rec[k] as number) - lastR) * (prec[k] as number);
      lastR = rec[k] as number;
    }
    ap[label] = area;
  }
  // Precision / recall at confidence 0.5, class-aware greedy matching.
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let onClean = 0;
  let cleanFrames = 0;
  frames.forEach(({ f }, i) => {
    const dets = (all[i] ?? []).filter((d) => d.conf >= 0.5).sort((a, b) => b.conf - a.conf);
    if (f.boxes.length === 0) {
      cleanFrames++;
      onClean += dets.length;
    }
    const used = new Set<number>();
    for (const d of dets) {
      let best = -1;
      let bestIou = 0.5;
      f.boxes.forEach((t, k) => {
        const v = iou(d, t);
        if (!used.has(k) && t.label === d.label && v >= bestIou) {
          bestIou = v;
          best = k;
        }
      });
      if (best >= 0) {
        used.add(best);
        tp++;
      } else fp++;
    }
    fn += f.boxes.length - used.size;
  });
  const aps = Object.values(ap);
  return {
    map50: aps.reduce((s, v) => s + v, 0) / Math.max(1, aps.length),
    ap,
    precision: tp + fp > 0 ? tp / (tp + fp) : 0,
    recall: tp + fn > 0 ? tp / (tp + fn) : 0,
    tp,
    fp,
    fn,
    onClean,
    cleanFrames,
  };
}

function meetsBar(m: Metrics): boolean {
  return m.map50 >= 0.9 && m.precision >= 0.9 && m.recall >= 0.85 && m.onClean === 0;
}

describe('shipped detector quality on the held-out set', () => {
  it('has a held-out set with litter and litter-free frames', () => {
    expect(frames.length).toBeGreaterThanOrEqual(20);
    expect(frames.some(({ f }) => f.boxes.length === 0)).toBe(true);
    expect(frames.filter(({ f }) => f.boxes.length > 0).length).toBeGreaterThanOrEqual(10);
  });

  // The shipped model is committed (trained by edge/models/training/run.sh): a missing file fails here.
  it('edge/models/litter.onnx: mAP50 ≥ 0.90, precision ≥ 0.90, recall ≥ 0.85 at conf 0.5, nothing on clean frames', async () => {
    const m = await evaluate(MODEL);
    console.log('shipped model', JSON.stringify(m));
    expect(m.cleanFrames).toBeGreaterThan(0);
    expect(m.map50).toBeGreaterThanOrEqual(0.9);
    expect(m.precision).toBeGreaterThanOrEqual(0.9);
    expect(m.recall).toBeGreaterThanOrEqual(0.85);
    expect(m.onClean).toBe(0);
    expect(meetsBar(m)).toBe(true);
  });

  it('negative control: an untrained export of the same contract fails the bar by far', async () => {
    const names = JSON.stringify({ 0: 'bottle', 1: 'can', 2: 'cup', 3: 'bag', 4: 'paper' });
    const p = join(tmp, 'untrained.onnx');
    writeFileSync(p, randomDetector(5, 1, names));
    const m = await evaluate(p);
    console.log('untrained model', JSON.stringify({ map50: m.map50, precision: m.precision, recall: m.recall, onClean: m.onClean }));
    expect(meetsBar(m)).toBe(false);
    expect(m.map50).toBeLessThan(0.2);
    expect(Math.min(m.precision, m.recall)).toBeLessThan(0.3);
  });
});
