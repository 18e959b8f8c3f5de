import { type Polygon, rasterise } from './geometry.js';

/**
 * The motion gate decides whether a frame is worth a detector run. It keeps a small grey copy of the scene
 * (default 160×90) and a background that follows it slowly; a frame runs detection when the share of changed,
 * unmasked pixels passes a threshold, or when the periodic full check is due, so litter that fades in slowly
 * (dusk, a bag settling) or that was already there when the camera started is still seen.
 */
export interface MotionOptions {
  width: number;
  height: number;
  /** grey-level difference (0..255) that counts a pixel as changed */
  pixelDelta: number;
  /** share (0..1) of unmasked pixels that must change for the gate to open */
  threshold: number;
  /** background update weight per frame (0..1): small = slow */
  alpha: number;
  /** run detection at least this often, in ms, whatever the motion */
  fullCheckMs: number;
}

export type GateReason = 'first' | 'motion' | 'periodic' | 'skip';

export interface GateResult {
  run: boolean;
  reason: GateReason;
  /** share of unmasked pixels that changed */
  changed: number;
}

export class MotionGate {
  private bg: Float32Array | undefined;
  private readonly grey: Uint8Array;
  private keep: Uint8Array | undefined;
  private keepCount = 0;
  private keepFor = '';
  private lastRunAt = Number.NEGATIVE_INFINITY;
  readonly counts = { frames: 0, run: 0, skipped: 0, motion: 0, periodic: 0 };

  constructor(
    private readonly o: MotionOptions,
    private readonly masks: readonly Polygon[] = [],
  ) {
    this.grey = new Uint8Array(o.width * o.height);
  }

  /** Looks at one RGB24 frame (frame px) taken at `nowMs`. */
  check(rgb: Uint8Array, frameW: number, frameH: number, nowMs: number): GateResult {
    this.counts.frames++;
    const { width: w, height: h } = this.o;
    this.downscale(rgb, frameW, frameH);
    const keep = this.keepMask(frameW, frameH);
    let reason: GateReason;
    let changed = 0;
    if (!this.bg) {
      this.bg = Float32Array.from(this.grey);
      reason = 'first';
    } else {
      const bg = this.bg;
      let n = 0;
      const a = this.o.alpha;
      for (let i = 0; i < w * h; i++) {
        const g = this.grey[i] as number;
        const b = bg[i] as number;
        if (keep[i] && Math.abs(g - b) > this.o.pixelDelta) n++;
        bg[i] = b + (g - b) * a;
      }
      changed = this.keepCount > 0 ? n / this.keepCount : 0;
      if (changed >= this.o.threshold) reason = 'motion';
      else if (nowMs - this.lastRunAt >= this.o.fullCheckMs) reason = 'periodic';
      else reason = 'skip';
    }
    const run = reason !== 'skip';
    if (run) {
      this.lastRunAt = nowMs;
      this.counts.run++;
      if (reason === 'motion') this.counts.motion++;
      if (reason === 'periodic') this.counts.periodic++;
    } else {
      this.counts.skipped++;
    }
    return { run, reason, changed };
  }

  /** Box-averaged grey (BT.601 luma) at the gate's size. */
  private downscale(rgb: Uint8Array, fw: number, fh: number): void {
    const { width: w, height: h } = this.o;
    const g = this.grey;
    for (let y = 0; y < h; y++) {
      const y0 = Math.floor((y * fh) / h);
      const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * fh) / h));
      for (let x = 0; x < w; x++) {
        const x0 = Math.floor((x * fw) / w);
        const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * fw) / w));
        // Sample a sparse 4×4 grid of the cell: the gate needs coverage, not every pixel.
        const stepY = Math.max(1, (y1 - y0) >> 2);
        const stepX = Math.max(1, (x1 - x0) >> 2);
        let sum = 0;
        let n = 0;
        for (let yy = y0; yy < y1; yy += stepY) {
          let o = (yy * fw + x0) * 3;
          for (let xx = x0; xx < x1; xx += stepX, o += stepX * 3) {
            sum += 77 * (rgb[o] as number) + 150 * (rgb[o + 1] as number) + 29 * (rgb[o + 2] as number);
            n++;
          }
        }
        g[y * w + x] = n > 0 ? sum / n / 256 : 0;
      }
    }
  }

  private keepMask(fw: number, fh: number): Uint8Array {
    const key = `${fw}x${fh}`;
    if (!this.keep || this.keepFor !== key) {
      const { width: w, height: h } = this.o;
      const masked = rasterise(this.masks, w, h, fw / w, fh / h);
      this.keep = masked.map((m) => (m ? 0 : 1));
      this.keepCount = this.keep.reduce((s, v) => s + v, 0);
      this.keepFor = key;
    }
    return this.keep;
  }
}
