import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig, decodeImage, type HutongRecord, type ImageHeader, type LitterRecord } from '@hutong/protocols';
import pino from 'pino';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { CameraSection } from '../src/camera/config.js';
import { CameraService } from '../src/camera/service.js';
import { ClockStamper } from '../src/records/stamper.js';
import { constModel } from './detect-fixtures.js';
import { waitFor } from './wait.js';

const log = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'hutong-camsvc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A detector that always sees one bottle at input (320,192) 60×40 → frame (580,320) 120×80. */
function bottleModel(): string {
  const N = 2;
  const out = new Float32Array(6 * N);
  for (const [c, v] of [320, 192, 60, 40, 0.9, 0.1].entries()) out[c * N] = v;
  const p = join(dir, 'bottle.onnx');
  writeFileSync(p, constModel({ outDims: [1, 6, N], out, names: "{0: 'bottle', 1: 'can'}" }));
  return p;
}

function harness(camera: Record<string, unknown>, section: Record<string, unknown> = {}) {
  const cfg = checkConfig(CameraSection, { backoffMinS: 0.1, backoffMaxS: 1, ...section, cameras: [{ id: 'cam1', url: 'lavfi:testsrc2=size=1280x720:rate=10', ...camera }] });
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
  const records: HutongRecord[] = [];
  const images: { frame: Uint8Array; header: ImageHeader }[] = [];
  const states: [string, boolean][] = [];
  const svc = new CameraService({
    config: cfg.value,
    gatewayId: 'gw1',
    sink: { append: async (r) => void records.push(...r) },
    images: { append: async (frame, header) => void images.push({ frame, header }) },
    stamper: new ClockStamper(),
    log,
    onState: (id, on) => states.push([id, on]),
  });
  return { svc, records, images, states };
}

describe('CameraService (ffmpeg test source → gate → worker → tracker → events)', () => {
  it('one item in view gives one litter record with its crop, one zone_dirty, health records', async () => {
    const h = harness({ model: { path: bottleModel() }, zones: [{ id: 'plaza', polygon: [[0, 0], [1280, 0], [1280, 720], [0, 720]] }] });
    await h.svc.start();
    let c: Record<string, number> = {};
    try {
      await waitFor(() => h.records.some((r) => r.k === 'litter'), 'a litter record', 30_000);
      await waitFor(() => (h.svc.counters('cam1').detector_runs ?? 0) >= 8, 'more detector runs', 30_000);
      c = h.svc.counters('cam1');
      expect(Object.keys(h.svc.counters())).toContain('cam1.frames');
      // a dead detector worker is started again and the camera goes on
      await h.svc.pipeline('cam1')?.detector.stop();
      const runs = c.detector_runs ?? 0;
      await waitFor(() => (h.svc.counters('cam1').detector_restarts ?? 0) >= 1, 'detector restart', 30_000);
      await waitFor(() => (h.svc.counters('cam1').detector_runs ?? 0) >= runs + 3, 'runs after the restart', 30_000);
    } finally {
      await h.svc.stop();
    }
    const litter = h.records.filter((r) => r.k === 'litter') as LitterRecord[];
    expect(litter).toHaveLength(1);
    const rec = litter[0] as LitterRecord;
    expect(rec).toMatchObject({ d: 'cam1', zone: 'plaza', label: 'bottle', box: [580, 320, 120, 80] });
    expect(h.records.filter((r) => r.k === 'state').map((r) => (r.k === 'state' ? [r.type, r.subject] : []))).toEqual([['zone_dirty', 'plaza']]);
    expect(h.images).toHaveLength(1);
    const img = decodeImage(h.images[0]?.frame as Uint8Array);
    if (!img.ok) throw new Error(img.reason);
    expect(createHash('sha256').update(img.body).digest('hex')).toBe(rec.img);
    const meta = await sharp(img.body).metadata();
    expect(meta.format).toBe('jpeg');
    expect(meta.width).toBe(180); // 120 + 2 × 25 % of the larger side
    expect(h.records.some((r) => r.k === 'health' && r.online)).toBe(true);
    expect(h.states).toEqual([['cam1', true]]);
    expect(c.frames).toBeGreaterThan(0);
    expect(c.ev_litter).toBe(1);
  });

  it('sendFullFrame: a downscaled full frame with the masked area black', async () => {
    const mask = [[0, 0], [640, 0], [640, 300], [0, 300]];
    const h = harness({ model: { path: bottleModel() }, sendFullFrame: true, masks: [mask] });
    await h.svc.start();
    try {
      await waitFor(() => h.images.length >= 2, 'crop and full frame', 30_000);
    } finally {
      await h.svc.stop();
    }
    const full = h.images.find((i) => i.header.full === true);
    expect(full).toBeDefined();
    const img = decodeImage(full?.frame as Uint8Array);
    if (!img.ok) throw new Error(img.reason);
    const { data, info } = await sharp(img.body).raw().toBuffer({ resolveWithObject: true });
    expect(info.width).toBe(640);
    expect(info.height).toBe(360);
    const at = (x: number, y: number) => data[(y * info.width + x) * info.channels] as number;
    let maxInMask = 0;
    for (let y = 5; y < 140; y += 7) for (let x = 5; x < 310; x += 7) maxInMask = Math.max(maxInMask, at(x, y));
    expect(maxInMask).toBeLessThan(20); // JPEG noise only
    let maxOutside = 0;
    for (let y = 200; y < 350; y += 7) for (let x = 5; x < 630; x += 7) maxOutside = Math.max(maxOutside, at(x, y));
    expect(maxOutside).toBeGreaterThan(100);
  });

  it('start refuses a model that is missing (E_MODEL) and a missing ffmpeg (E_BINARY_MISSING)', async () => {
    const a = harness({ model: { path: join(dir, 'missing.onnx') } });
    await expect(a.svc.start()).rejects.toMatchObject({ code: 'E_MODEL' });
    const b = harness({ model: { path: bottleModel() } }, { ffmpegPath: '/nonexistent/ffmpeg' });
    await expect(b.svc.start()).rejects.toMatchObject({ code: 'E_BINARY_MISSING' });
  });
});
