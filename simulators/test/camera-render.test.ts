import { describe, expect, it } from 'vitest';
import { ALPHA_MIN, LITTER_LABELS, renderSprite, VARIANTS } from '../src/camera/items.js';
import { generateScenario, opacityAt, type Scenario } from '../src/camera/scenario.js';
import { SceneTimeline } from '../src/camera/scene.js';
import { checkFfmpeg } from '../src/camera/encoder.js';

describe('item sprites', () => {
  it('every class and variant draws pixels, and its box is the tight box of those pixels', async () => {
    for (const label of LITTER_LABELS) {
      for (const variant of VARIANTS[label]) {
        for (const [length, rotationDeg] of [
          [25, 0],
          [140, 37],
          [60, 290],
        ] as const) {
          const s = await renderSprite({ label, variant, length, rotationDeg, seed: 7 });
          const { x, y, w, h } = s.box;
          expect(w).toBeGreaterThan(3);
          expect(h).toBeGreaterThan(3);
          expect(Math.max(w, h)).toBeLessThanOrEqual(Math.ceil(length * 1.45));
          let minX = Number.POSITIVE_INFINITY;
          let minY = Number.POSITIVE_INFINITY;
          let maxX = -1;
          let maxY = -1;
          for (let py = 0; py < s.height; py++) {
            for (let px = 0; px < s.width; px++) {
              if ((s.rgba[(py * s.width + px) * 4 + 3] as number) >= ALPHA_MIN) {
                minX = Math.min(minX, px);
                minY = Math.min(minY, py);
                maxX = Math.max(maxX, px);
                maxY = Math.max(maxY, py);
              }
            }
          }
          expect({ label, variant, length, box: [minX, minY, maxX - minX + 1, maxY - minY + 1] }).toEqual({
            label,
            variant,
            length,
            box: [x, y, w, h],
          });
        }
      }
    }
  });
});

describe('scripted scene', () => {
  const W = 640;
  const H = 360;
  const script = (): Scenario => generateScenario({ seed: 42, width: W, height: H, durationMs: 4 * 60_000, items: 10 });

  it('is deterministic from its seed and survives a JSON round trip', () => {
    const a = script();
    expect(script()).toEqual(a);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
    expect(generateScenario({ seed: 43, width: W, height: H, durationMs: 4 * 60_000, items: 10 })).not.toEqual(a);
    for (const it of a.items) {
      expect(it.fadeInMs).toBeLessThanOrEqual(60_000);
      if (it.removeMs !== null) expect(it.removeMs).toBeGreaterThan(it.appearMs);
    }
  });

  it('ground truth boxes are inside the frame, cover exactly the changed pixels, and follow the timeline', async () => {
    const s = script();
    const tl = await SceneTimeline.load(s);
    const bg = tl.backgroundFrame();
    // A time when several items are fully visible.
    let best = 0;
    let bestCount = -1;
    for (let t = 0; t < s.durationMs; t += 5_000) {
      const c = tl.groundTruthAt(t).filter((g) => g.opacity === 1).length;
      if (c > bestCount) {
        bestCount = c;
        best = t;
      }
    }
    expect(bestCount).toBeGreaterThan(0);
    const truth = tl.groundTruthAt(best);
    const frame = tl.frameAt(best);
    expect(frame.length).toBe(W * H * 3);
    const inAnyApron = (x: number, y: number) =>
      truth.some((g) => x >= g.box.x - 1 && x <= g.box.x + g.box.w && y >= g.box.y - 1 && y <= g.box.y + g.box.h);
    for (const g of truth) {
      expect(g.box.x).toBeGreaterThanOrEqual(0);
      expect(g.box.y).toBeGreaterThanOrEqual(0);
      expect(g.box.x + g.box.w).toBeLessThanOrEqual(W);
      expect(g.box.y + g.box.h).toBeLessThanOrEqual(H);
      if (g.opacity < 1) continue;
      // Inside the box the item shows: a good share of its pixels differ from the bare background
      // (a thin bottle lying diagonally fills a fifth of its box).
      let changedPx = 0;
      for (let y = g.box.y; y < g.box.y + g.box.h; y++) {
        for (let x = g.box.x; x < g.box.x + g.box.w; x++) {
          const p = (y * W + x) * 3;
          let d = 0;
          for (let c = 0; c < 3; c++) d += Math.abs((frame[p + c] as number) - (bg[p + c] as number));
          if (d > 6) changedPx++;
        }
      }
      expect(changedPx / (g.box.w * g.box.h)).toBeGreaterThan(0.15);
      // Each edge row/column of the box holds changed pixels (the box is tight).
      const changed = (x: number, y: number) => {
        const p = (y * W + x) * 3;
        return [0, 1, 2].some((c) => Math.abs((frame[p + c] as number) - (bg[p + c] as number)) > 2);
      };
      const rowChanged = (y: number) => Array.from({ length: g.box.w }, (_, i) => changed(g.box.x + i, y)).some(Boolean);
      const colChanged = (x: number) => Array.from({ length: g.box.h }, (_, i) => changed(x, g.box.y + i)).some(Boolean);
      expect([rowChanged(g.box.y), rowChanged(g.box.y + g.box.h - 1), colChanged(g.box.x), colChanged(g.box.x + g.box.w - 1)]).toEqual([
        true,
        true,
        true,
        true,
      ]);
    }
    // Outside every box (and its one-pixel apron of faint edge pixels) the frame is the background.
    let outsideChanged = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (inAnyApron(x, y)) continue;
        const p = (y * W + x) * 3;
        if (frame[p] !== bg[p] || frame[p + 1] !== bg[p + 1] || frame[p + 2] !== bg[p + 2]) outsideChanged++;
      }
    }
    expect(outsideChanged).toBe(0);

    // Before anything appears, the frame is exactly the background; removed items are gone from the truth.
    const first = Math.min(...s.items.map((i) => i.appearMs));
    if (first > 0) {
      expect(tl.groundTruthAt(first - 1)).toEqual([]);
      expect(tl.frameAt(first - 1).equals(bg)).toBe(true);
    }
    const removed = s.items.find((i) => i.removeMs !== null);
    if (removed?.removeMs != null) {
      expect(tl.groundTruthAt(removed.removeMs - 1).some((g) => g.id === removed.id)).toBe(true);
      expect(tl.groundTruthAt(removed.removeMs).some((g) => g.id === removed.id)).toBe(false);
    }
  });

  it('fades an item in: opacity ramps over fadeInMs and the rendered change grows with it', async () => {
    const base = script();
    const s: Scenario = {
      ...base,
      items: [{ id: 'fader', item: { label: 'bag', length: 90, rotationDeg: 20, variant: 'white', seed: 3 }, x: 320, y: 180, appearMs: 10_000, removeMs: 100_000, fadeInMs: 40_000 }],
    };
    const item = s.items[0]!;
    expect(opacityAt(item, 9_999)).toBe(0);
    expect(opacityAt(item, 30_000)).toBeCloseTo(0.5, 5);
    expect(opacityAt(item, 50_000)).toBe(1);
    const tl = await SceneTimeline.load(s);
    const bg = tl.backgroundFrame();
    const diffAt = (t: number) => {
      const f = tl.frameAt(t);
      let d = 0;
      for (let i = 0; i < f.length; i++) d += Math.abs((f[i] as number) - (bg[i] as number));
      return d;
    };
    const quarter = diffAt(20_000);
    const half = diffAt(30_000);
    const full = diffAt(60_000);
    expect(quarter).toBeGreaterThan(0);
    expect(half).toBeGreaterThan(quarter * 1.5);
    expect(full).toBeGreaterThan(half * 1.5);
    expect(tl.groundTruthAt(30_000)[0]?.opacity).toBeCloseTo(0.5, 5);
    // The box does not depend on opacity.
    expect(tl.groundTruthAt(20_000)[0]?.box).toEqual(tl.groundTruthAt(60_000)[0]?.box);
    // Loops after the script's duration.
    expect(tl.groundTruthAt(s.durationMs + 60_000)).toEqual(tl.groundTruthAt(60_000));
  });
});

describe('ffmpeg check', () => {
  it('names the Debian package when ffmpeg is missing', async () => {
    await expect(checkFfmpeg('/nonexistent/bin/ffmpeg')).rejects.toMatchObject({
      code: 'E_BINARY_MISSING',
      message: expect.stringContaining('Debian package "ffmpeg"'),
    });
  });
});
