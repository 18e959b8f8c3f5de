import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { LITTER_LABELS } from '../src/camera/items.js';
import { HELDOUT_SEED, type HeldoutLabels, makeHeldout } from '../src/camera/make-heldout.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const DIR = resolve(import.meta.dirname, '../../edge/models/heldout');

describe('committed held-out set', () => {
  it('has 150 labelled 1280×720 JPEGs, a third without litter, all five classes, boxes inside the frame', async () => {
    const labels = JSON.parse(await readFile(join(DIR, 'labels.json'), 'utf8')) as HeldoutLabels;
    expect(labels.generator).toBe(`simulators/src/camera (seed ${HELDOUT_SEED})`);
    expect(labels.frames.length).toBe(150);
    const empty = labels.frames.filter((f) => f.boxes.length === 0).length;
    expect(empty).toBe(50);
    const perClass = new Map<string, number>();
    let bytes = 0;
    for (const f of labels.frames) {
      expect(f.boxes.length).toBeLessThanOrEqual(6);
      for (const b of f.boxes) {
        expect(LITTER_LABELS).toContain(b.label);
        perClass.set(b.label, (perClass.get(b.label) ?? 0) + 1);
        expect(b.x).toBeGreaterThanOrEqual(0);
        expect(b.y).toBeGreaterThanOrEqual(0);
        expect(b.x + b.w).toBeLessThanOrEqual(f.width);
        expect(b.y + b.h).toBeLessThanOrEqual(f.height);
        expect(Math.max(b.w, b.h)).toBeGreaterThanOrEqual(15);
      }
      bytes += (await stat(join(DIR, f.file))).size;
    }
    for (const l of LITTER_LABELS) expect(perClass.get(l) ?? 0).toBeGreaterThan(50);
    expect(bytes).toBeLessThan(21 * 1024 * 1024);
    const meta = await sharp(join(DIR, labels.frames[0]!.file)).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 1280, 720]);
  });

  it('is what make-heldout regenerates from its seed (first frames, byte for byte)', async () => {
    const out = await mkdtemp(join(tmpdir(), 'heldout-'));
    try {
      const again = await makeHeldout(out, HELDOUT_SEED, 2);
      const committed = JSON.parse(await readFile(join(DIR, 'labels.json'), 'utf8')) as HeldoutLabels;
      expect(again.frames).toEqual(committed.frames.slice(0, 2));
      for (const f of again.frames) {
        expect((await readFile(join(out, f.file))).equals(await readFile(join(DIR, f.file)))).toBe(true);
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 60_000);
});
