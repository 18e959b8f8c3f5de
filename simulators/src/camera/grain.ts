/**
 * Grain and stains for the ground, in code: per-pixel grain with sparse light/dark aggregate specks, and a
 * few octaves of smooth value noise that darken the surface in soft patches (wear, damp, oil).
 */

/** xorshift32: per-pixel draws need a PRNG cheaper than a closure call. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 0x1234567;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

export function addGrain(rgb: Buffer, width: number, height: number, seed: number, amplitude = 9): void {
  const r = xorshift(seed ^ 0xa5a5a5a5);
  for (let p = 0; p < width * height * 3; p += 3) {
    let g = (r() - 0.5) * amplitude;
    const u = r();
    if (u < 0.006) g -= 40 * r();
    else if (u > 0.996) g += 35 * r();
    rgb[p] = clamp255((rgb[p] as number) + g);
    rgb[p + 1] = clamp255((rgb[p + 1] as number) + g);
    rgb[p + 2] = clamp255((rgb[p + 2] as number) + g);
  }
}

export function addStains(rgb: Buffer, width: number, height: number, seed: number): void {
  const r = xorshift(seed ^ 0x3c3c3c3c);
  const strength = 0.1 + r() * 0.3;
  const octaves: { cells: number; weight: number; grid: Float32Array; gw: number; gh: number }[] = [];
  for (const [cells, weight] of [
    [5, 0.5],
    [11, 0.3],
    [23, 0.2],
  ] as const) {
    const gw = cells + 2;
    const gh = Math.ceil((cells * height) / width) + 2;
    const grid = new Float32Array(gw * gh);
    for (let i = 0; i < grid.length; i++) grid[i] = r();
    octaves.push({ cells, weight, grid, gw, gh });
  }
  const row = new Float32Array(width);
  for (let y = 0; y < height; y++) {
    row.fill(0);
    for (const o of octaves) {
      const scale = o.cells / width;
      const gy = y * scale;
      const iy = Math.floor(gy);
      const ty = smooth(gy - iy);
      for (let x = 0; x < width; x++) {
        const gx = x * scale;
        const ix = Math.floor(gx);
        const tx = smooth(gx - ix);
        const a = o.grid[iy * o.gw + ix] as number;
        const b = o.grid[iy * o.gw + ix + 1] as number;
        const c = o.grid[(iy + 1) * o.gw + ix] as number;
        const d = o.grid[(iy + 1) * o.gw + ix + 1] as number;
        row[x] = (row[x] as number) + o.weight * (a + (b - a) * tx + (c - a + (a - b - c + d) * tx) * ty);
      }
    }
    for (let x = 0; x < width; x++) {
      const v = row[x] as number;
      const f = 1 - strength * Math.max(0, v - 0.45) * 2.2;
      const p = (y * width + x) * 3;
      rgb[p] = clamp255((rgb[p] as number) * f);
      rgb[p + 1] = clamp255((rgb[p + 1] as number) * f);
      rgb[p + 2] = clamp255((rgb[p + 2] as number) * f * 0.98);
    }
  }
}

function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}
