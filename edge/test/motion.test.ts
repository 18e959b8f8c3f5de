import { describe, expect, it } from 'vitest';
import { MotionGate, type MotionOptions } from '../src/camera/motion.js';
import { rng } from './detect-fixtures.js';

const W = 1280;
const H = 720;
const o: MotionOptions = { width: 160, height: 90, pixelDelta: 18, threshold: 0.002, alpha: 0.05, fullCheckMs: 10_000 };

/** A textured static scene with per-frame sensor noise (±6 grey levels). */
function sceneFrame(seed: number, item?: { x: number; y: number; s: number; grey: number }): Uint8Array {
  const r = rng(seed);
  const f = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const base = 80 + ((x >> 5) + (y >> 5)) % 2 * 40;
      let v = base + (r() - 0.5) * 12;
      if (item && x >= item.x && x < item.x + item.s && y >= item.y && y < item.y + item.s) v = item.grey;
      const o3 = (y * W + x) * 3;
      f[o3] = v;
      f[o3 + 1] = v;
      f[o3 + 2] = v;
    }
  }
  return f;
}

describe('motion gate', () => {
  it('a static scene is skipped except the first frame and the periodic full check', () => {
    const g = new MotionGate(o);
    const frames = [sceneFrame(1), sceneFrame(2), sceneFrame(3)];
    const reasons: string[] = [];
    for (let i = 0; i < 120; i++) reasons.push(g.check(frames[i % 3] as Uint8Array, W, H, i * 500).reason);
    expect(reasons[0]).toBe('first');
    expect(reasons.filter((r) => r === 'motion')).toHaveLength(0);
    // 60 s at 2 fps, full check every 10 s
    expect(reasons.filter((r) => r === 'periodic')).toHaveLength(5);
    expect(g.counts.skipped).toBe(114);
  });

  it('an item appearing opens the gate; a change inside a mask does not', () => {
    const mask: [number, number][] = [[900, 0], [1280, 0], [1280, 300], [900, 300]];
    const g = new MotionGate({ ...o, fullCheckMs: 1e9 }, [mask]);
    for (let i = 0; i < 10; i++) g.check(sceneFrame(i), W, H, i * 500);
    const inMask = g.check(sceneFrame(11, { x: 1000, y: 50, s: 120, grey: 250 }), W, H, 5500);
    expect(inMask.run).toBe(false);
    const small = g.check(sceneFrame(12, { x: 400, y: 400, s: 60, grey: 250 }), W, H, 6000);
    expect(small).toMatchObject({ run: true, reason: 'motion' });
    expect(small.changed).toBeGreaterThan(0.002);
  });

  it('a slow fade-in below the motion threshold is still checked periodically', () => {
    const g = new MotionGate(o);
    let runs = 0;
    // the item's grey creeps up by half a level per frame: never a jump, but the periodic check still runs
    for (let i = 0; i < 80; i++) {
      if (g.check(sceneFrame(i, { x: 400, y: 400, s: 60, grey: 100 + i * 0.5 }), W, H, i * 500).run) runs++;
    }
    expect(runs).toBeGreaterThanOrEqual(4);
    expect(g.counts.periodic).toBeGreaterThanOrEqual(3);
  });
});
