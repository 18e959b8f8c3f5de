import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeOutput } from '../src/camera/detect/decode.js';
import { Detector, type DetectorOptions } from '../src/camera/detect/detector.js';
import { parseNames } from '../src/camera/detect/labels.js';
import { letterboxGeometry, letterboxRgb } from '../src/camera/detect/letterbox.js';
import { constModel } from './detect-fixtures.js';

const log = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'hutong-detect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function write(bytes: Uint8Array): string {
  const p = join(dir, `m${n++}.onnx`);
  writeFileSync(p, bytes);
  return p;
}

/** yolov8 layout [1, 4+nc, N] from rows of (cx, cy, w, h, ...scores). */
function v8(rows: number[][], nc: number): { out: Float32Array; dims: number[] } {
  const N = rows.length;
  const out = new Float32Array((4 + nc) * N);
  for (const [i, r] of rows.entries()) for (const [c, v] of r.entries()) out[c * N + i] = v;
  return { out, dims: [1, 4 + nc, N] };
}

async function run(opts: Partial<DetectorOptions> & { path: string }, frameW = 1280, frameH = 720) {
  const d = new Detector({ format: 'yolov8', conf: 0.5, iou: 0.45, ...opts }, log);
  await d.start();
  try {
    return { info: d.info, res: await d.detect(new Uint8Array(frameW * frameH * 3), frameW, frameH) };
  } finally {
    await d.stop();
  }
}

async function startError(opts: Partial<DetectorOptions> & { path: string }): Promise<{ code?: string; message: string }> {
  const d = new Detector({ format: 'yolov8', conf: 0.5, iou: 0.45, ...opts }, log);
  try {
    await d.start();
    await d.stop();
    return { message: 'started' };
  } catch (e) {
    return e as { code?: string; message: string };
  }
}

// 1280×720 into 640×384: scale 0.5, no side padding, 12 px on top and bottom.
describe('output decoding through the worker (hand-built models with known outputs)', () => {
  it('yolov8 [1,4+nc,N]: threshold, class-wise NMS, letterbox undone', async () => {
    const { out, dims } = v8(
      [
        [320, 192, 100, 50, 0.1, 0.9], // can 0.9 → frame 540,310 200×100
        [322, 193, 100, 50, 0.1, 0.8], // same item, lower score: suppressed
        [321, 192, 100, 50, 0.7, 0.2], // bottle on the same spot: another class, kept
        [100, 100, 40, 40, 0.3, 0.2], // below 0.5
      ],
      2,
    );
    const path = write(constModel({ outDims: dims, out, names: '{"0": "bottle", "1": "can"}' }));
    const { info, res } = await run({ path });
    expect(info).toMatchObject({ inputW: 640, inputH: 384, labels: ['bottle', 'can'] });
    expect(res.dets).toHaveLength(2);
    const [a, b] = res.dets;
    expect(a).toMatchObject({ label: 'can', cls: 1 });
    expect(a?.conf).toBeCloseTo(0.9, 5);
    expect([a?.x, a?.y, a?.w, a?.h].map((v) => Math.round((v as number) * 100) / 100)).toEqual([540, 310, 200, 100]);
    expect(b).toMatchObject({ label: 'bottle' });
    expect(b?.x).toBeCloseTo(542, 3);
  });

  it('yolov5 [1,N,5+nc]: objectness × class score', async () => {
    const rows = [
      [320, 192, 100, 50, 0.9, 0.2, 0.9], // can 0.81
      [320, 192, 100, 50, 0.4, 1.0, 1.0], // objectness too low
      [100, 100, 40, 40, 1.0, 0.6, 0.1], // bottle 0.6 → frame 160,136 80×80
    ];
    const out = Float32Array.from(rows.flat());
    const path = write(constModel({ outDims: [1, 3, 7], out, names: "{0: 'bottle', 1: 'can'}" }));
    const { res } = await run({ path, format: 'yolov5' });
    expect(res.dets.map((d) => d.label)).toEqual(['can', 'bottle']);
    expect(res.dets[0]?.conf).toBeCloseTo(0.81, 5);
    const b = res.dets[1];
    expect([b?.x, b?.y, b?.w, b?.h].map((v) => Math.round(v as number))).toEqual([160, 136, 80, 80]);
  });

  it('end-to-end [1,K,6]: corners, score, class; padding rows ignored', async () => {
    const rows = [
      [270, 167, 370, 217, 0.95, 1],
      [0, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0],
    ];
    const path = write(constModel({ outDims: [1, 3, 6], out: Float32Array.from(rows.flat()), names: "{0: 'bottle', 1: 'can'}" }));
    const { res } = await run({ path, format: 'e2e' });
    expect(res.dets).toHaveLength(1);
    const d = res.dets[0];
    expect([d?.x, d?.y, d?.w, d?.h].map((v) => Math.round(v as number))).toEqual([540, 310, 200, 100]);
    expect(d?.label).toBe('can');
  });

  it('a labels file wins over metadata; a dynamic input size needs model.inputSize', async () => {
    const { out, dims } = v8([[320, 192, 100, 50, 0.1, 0.2, 0.9]], 3);
    const path = write(constModel({ input: [1, 3, 'h', 'w'], outDims: dims, out }));
    const labels = join(dir, 'labels.txt');
    writeFileSync(labels, '# litter\nbottle\ncan\npaper\n');
    const err = await startError({ path, labels });
    expect(err.code).toBe('E_MODEL');
    expect(err.message).toMatch(/dynamic size/);
    const { info, res } = await run({ path, labels, inputSize: [640, 384] });
    expect(info.labels).toEqual(['bottle', 'can', 'paper']);
    expect(res.dets[0]?.label).toBe('paper');
  });

  it('a model that does not fit the contract is refused at start with E_MODEL', async () => {
    const { out, dims } = v8([[320, 192, 100, 50, 0.1, 0.9]], 2);
    const threeNames = "{0: 'bottle', 1: 'can', 2: 'cup'}";
    const wrongNc = await startError({ path: write(constModel({ outDims: dims, out, names: threeNames })) });
    expect(wrongNc.code).toBe('E_MODEL');
    expect(wrongNc.message).toMatch(/yolov8 output must be \[1, 4\+nc=7, N\]/);
    const noNames = await startError({ path: write(constModel({ outDims: dims, out })) });
    expect(noNames.code).toBe('E_MODEL');
    expect(noNames.message).toMatch(/names/);
    const notOnnx = await startError({ path: write(new TextEncoder().encode('not a model')) });
    expect(notOnnx.code).toBe('E_MODEL');
    const missing = await startError({ path: join(dir, 'nope.onnx') });
    expect(missing.code).toBe('E_MODEL');
    expect(missing.message).toMatch(/cannot read model/);
    const wrongFormat = await startError({ path: write(constModel({ outDims: dims, out, names: '["bottle","can"]' })), format: 'e2e' });
    expect(wrongFormat.message).toMatch(/e2e output must be/);
  });
});

describe('labels metadata', () => {
  it('reads JSON, Python-dict and list forms; refuses gaps', () => {
    expect(parseNames('{"0":"bottle","1":"can"}')).toEqual(['bottle', 'can']);
    expect(parseNames("{0: 'bottle', 1: 'can', 2: 'cup'}")).toEqual(['bottle', 'can', 'cup']);
    expect(parseNames('{0: "plastic bag", 1: \'can\'}')).toEqual(['plastic bag', 'can']);
    expect(parseNames("['bottle', 'can']")).toEqual(['bottle', 'can']);
    expect(parseNames("{0: 'bottle', 2: 'cup'}")).toBeUndefined();
    expect(parseNames('bottle')).toBeUndefined();
  });
});

describe('letterbox', () => {
  it('centres the frame with grey padding and halves a 2×2 block exactly', () => {
    const w = 8;
    const h = 4;
    const rgb = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set([x * 10, y * 10, 255], (y * w + x) * 3);
    const { tensor, box } = letterboxRgb(rgb, w, h, 4, 4);
    expect(box).toEqual({ scale: 0.5, padX: 0, padY: 1 });
    const plane = 16;
    expect(tensor[0]).toBeCloseTo(114 / 255, 6); // top pad row
    expect(tensor[4] as number).toBeCloseTo(5 / 255, 5); // R of (0,0): mean of x 0,1 → 5
    expect(tensor[plane + 4] as number).toBeCloseTo(5 / 255, 5); // G: mean of y 0,1
    expect(tensor[2 * plane + 4] as number).toBeCloseTo(1, 5);
    expect(tensor[12 + 3] as number).toBeCloseTo(114 / 255, 6); // bottom pad row
    expect(letterboxGeometry(1280, 720, 640, 384)).toMatchObject({ scale: 0.5, padX: 0, padY: 12, nw: 640, nh: 360 });
  });

  it('decodeOutput clips boxes to the frame', () => {
    const { out, dims } = v8([[20, 14, 60, 20, 0.9]], 1);
    const dets = decodeOutput(out, dims, { format: 'yolov8', conf: 0.5, iou: 0.5, labels: ['bag'], frameW: 1280, frameH: 720, box: { scale: 0.5, padX: 0, padY: 12 } });
    expect(dets[0]).toMatchObject({ x: 0, y: 0 });
    expect(dets[0]?.w).toBeCloseTo(100, 5);
    expect(dets[0]?.h).toBeCloseTo(24, 5);
  });
});

describe('letterbox fast path', () => {
  it('the 2× path is the 2×2 mean; the general path keeps a flat colour flat and pads the rest', () => {
    const flat = new Uint8Array(6 * 4 * 3).fill(200);
    const g = letterboxRgb(flat, 6, 4, 4, 4); // scale 2/3 → 4×3 inside, pad 0 top, 1 bottom
    expect(g.box.padY).toBe(0);
    for (let i = 0; i < 12; i++) expect(g.tensor[i] as number).toBeCloseTo(200 / 255, 5);
    expect(g.tensor[12] as number).toBeCloseTo(114 / 255, 5);

    const w = 64;
    const h = 36;
    const rgb = new Uint8Array(w * h * 3).map((_, i) => (i * 37) % 251);
    const fast = letterboxRgb(rgb, w, h, 32, 24).tensor;
    // against a direct 2×2 mean of the source
    const plane = 32 * 24;
    for (const [x, y] of [[0, 0], [5, 7], [31, 17]] as const) {
      for (let c = 0; c < 3; c++) {
        const at = (xx: number, yy: number) => rgb[(yy * w + xx) * 3 + c] as number;
        const mean = (at(2 * x, 2 * y) + at(2 * x + 1, 2 * y) + at(2 * x, 2 * y + 1) + at(2 * x + 1, 2 * y + 1)) / 4 / 255;
        expect(fast[c * plane + (y + 3) * 32 + x] as number).toBeCloseTo(mean, 5);
      }
    }
  });

  it('a frame at the input scale (1280×720 into 1280×768) is copied pixel for pixel between pad rows', () => {
    const w = 16;
    const h = 9;
    const rgb = new Uint8Array(w * h * 3).map((_, i) => (i * 53) % 256);
    const { tensor, box } = letterboxRgb(rgb, w, h, 16, 12);
    expect(box).toEqual({ scale: 1, padX: 0, padY: 1 });
    const plane = 16 * 12;
    for (const [x, y] of [[0, 0], [7, 4], [15, 8]] as const) {
      for (let c = 0; c < 3; c++) expect(tensor[c * plane + (y + 1) * 16 + x] as number).toBeCloseTo((rgb[(y * w + x) * 3 + c] as number) / 255, 6);
    }
    for (let c = 0; c < 3; c++) {
      expect(tensor[c * plane + 5] as number).toBeCloseTo(114 / 255, 6); // top pad row
      for (const row of [10, 11]) expect(tensor[c * plane + row * 16 + 3] as number).toBeCloseTo(114 / 255, 6); // bottom pad rows
    }
  });
});
