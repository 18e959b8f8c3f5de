/**
 * Ground textures seen from a fixed camera looking down: asphalt, paving tiles, grass, concrete and brick.
 * Each region of the frame (a polygon) gets one texture; grain and coarse stains are added in code afterwards
 * (grain.ts), which is far cheaper than full-frame feTurbulence in librsvg.
 */
import { Rand } from './random.js';
import { hsl, n, polygonPath } from './svg.js';

export const GROUND_KINDS = ['asphalt', 'tiles', 'grass', 'concrete', 'brick'] as const;
export type GroundKind = (typeof GROUND_KINDS)[number];
export type Point = [number, number];

export interface GroundRegion {
  kind: GroundKind;
  /** Frame pixels; the regions of a scene tile the frame. */
  polygon: Point[];
  seed: number;
}

/** Splits the frame into 1–3 regions (a road beside a pavement beside a lawn, or one surface). */
export function layoutRegions(r: Rand, width: number, height: number, kinds?: GroundKind[]): GroundRegion[] {
  const frame: Point[] = [
    [0, 0],
    [width, 0],
    [width, height],
    [0, height],
  ];
  const count = kinds?.length ?? (r.chance(0.5) ? 1 : r.chance(0.6) ? 2 : 3);
  const pickKind = (i: number): GroundKind => kinds?.[i] ?? r.pick(GROUND_KINDS);
  if (count === 1) return [{ kind: pickKind(0), polygon: frame, seed: r.seed() }];
  // Parallel-ish cut lines across the frame, either roughly vertical or roughly horizontal.
  const vertical = r.chance(0.5);
  const span = vertical ? width : height;
  const cuts: [Point, Point][] = [];
  for (let i = 1; i < count; i++) {
    const at = (span * i) / count + r.range(-0.12, 0.12) * span;
    const tilt = r.range(-0.25, 0.25) * span;
    cuts.push(
      vertical
        ? [
            [at - tilt / 2, 0],
            [at + tilt / 2, height],
          ]
        : [
            [0, at - tilt / 2],
            [width, at + tilt / 2],
          ],
    );
  }
  const regions: GroundRegion[] = [];
  for (let i = 0; i < count; i++) {
    let poly = frame;
    const before = cuts[i - 1];
    const after = cuts[i];
    if (before) poly = clipHalfPlane(poly, before[0], before[1], false);
    if (after) poly = clipHalfPlane(poly, after[0], after[1], true);
    regions.push({ kind: pickKind(i), polygon: poly, seed: r.seed() });
  }
  // Two tilted cuts may cross inside the frame and leave the middle strip nothing: drop it (after every draw, so
  // the other regions stay what the seed always gave).
  return regions.filter((g) => g.polygon.length >= 3);
}

/** Sutherland–Hodgman against the line a→b: keeps the left side (`left`) or the right side. */
function clipHalfPlane(poly: Point[], a: Point, b: Point, left: boolean): Point[] {
  const side = (p: Point) => {
    const s = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
    return left ? -s : s;
  };
  const out: Point[] = [];
  for (let i = 0; i < poly.length; i++) {
    const p = poly[i] as Point;
    const q = poly[(i + 1) % poly.length] as Point;
    const sp = side(p);
    const sq = side(q);
    if (sp >= 0) out.push(p);
    if (sp >= 0 !== sq >= 0) {
      const t = sp / (sp - sq);
      out.push([p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]);
    }
  }
  return out;
}

function bbox(poly: Point[]): { x0: number; y0: number; x1: number; y1: number } {
  const xs = poly.map((p) => p[0]);
  const ys = poly.map((p) => p[1]);
  return { x0: Math.min(...xs), y0: Math.min(...ys), x1: Math.max(...xs), y1: Math.max(...ys) };
}

/** The SVG of one region's texture, clipped to its polygon. `id` keeps clip ids unique in the document. */
export function regionSvg(region: GroundRegion, id: string, width: number, height: number): { defs: string; body: string } {
  const r = new Rand(region.seed);
  const b = bbox(region.polygon);
  const clip = `<clipPath id="${id}"><path d="${polygonPath(region.polygon)}"/></clipPath>`;
  let body: string;
  switch (region.kind) {
    case 'asphalt':
      body = asphalt(r, b);
      break;
    case 'tiles':
      body = tiles(r, b);
      break;
    case 'grass':
      body = grass(r, b);
      break;
    case 'concrete':
      body = concrete(r, b);
      break;
    case 'brick':
      body = brick(r, b);
      break;
  }
  // A kerb where this region meets another (not along the frame edge): light stone with a dark joint.
  let edges = '';
  const onFrame = (p: Point) => [Math.abs(p[0]), Math.abs(p[0] - width), Math.abs(p[1]), Math.abs(p[1] - height)];
  region.polygon.forEach((p, i) => {
    const q = region.polygon[(i + 1) % region.polygon.length] as Point;
    const a = onFrame(p);
    const c = onFrame(q);
    if (a.some((d, k) => d < 0.5 && (c[k] as number) < 0.5)) return;
    edges += `M${n(p[0])},${n(p[1])}L${n(q[0])},${n(q[1])}`;
  });
  const kerb = edges
    ? `<path d="${edges}" fill="none" stroke="${hsl(40, 5, r.range(58, 72))}" stroke-width="${n(r.range(5, 12))}"/>` +
      `<path d="${edges}" fill="none" stroke="${hsl(0, 0, 25, 0.6)}" stroke-width="1.2"/>`
    : '';
  return { defs: clip, body: `<g clip-path="url(#${id})">${body}</g>${kerb}` };
}

type Box = { x0: number; y0: number; x1: number; y1: number };

function fillRect(b: Box, fill: string): string {
  return `<rect x="${n(b.x0)}" y="${n(b.y0)}" width="${n(b.x1 - b.x0)}" height="${n(b.y1 - b.y0)}" fill="${fill}"/>`;
}

function blurredBlobs(r: Rand, b: Box, count: number, colour: () => string, size: [number, number]): string {
  let s = '';
  for (let i = 0; i < count; i++) {
    const rx = r.range(size[0], size[1]);
    s +=
      `<ellipse cx="${n(r.range(b.x0, b.x1))}" cy="${n(r.range(b.y0, b.y1))}" rx="${n(rx)}" ry="${n(rx * r.range(0.4, 1))}" ` +
      `transform="rotate(0)" fill="${colour()}" filter="url(#blur8)"/>`;
  }
  return s;
}

function asphalt(r: Rand, b: Box): string {
  const l = r.range(24, 44);
  let s = fillRect(b, hsl(r.range(200, 240), r.range(2, 7), l));
  s += blurredBlobs(r, b, r.int(2, 8), () => hsl(0, 0, l - 10, r.range(0.15, 0.35)), [20, 90]);
  // Cracks: random walks with short branches.
  const cracks = r.int(1, 6);
  for (let c = 0; c < cracks; c++) {
    let x = r.range(b.x0, b.x1);
    let y = r.range(b.y0, b.y1);
    let dir = r.range(0, Math.PI * 2);
    let d = `M${n(x)},${n(y)}`;
    const steps = r.int(8, 40);
    for (let i = 0; i < steps; i++) {
      dir += r.range(-0.6, 0.6);
      const len = r.range(4, 14);
      x += Math.cos(dir) * len;
      y += Math.sin(dir) * len;
      d += `L${n(x)},${n(y)}`;
    }
    s += `<path d="${d}" fill="none" stroke="${hsl(0, 0, Math.max(5, l - 18), 0.85)}" stroke-width="${n(r.range(0.8, 2.4))}" stroke-linejoin="round"/>`;
  }
  return s;
}

function tiles(r: Rand, b: Box): string {
  const palettes: [number, number, number][] = [
    [0, 0, r.range(50, 72)],
    [15, r.range(35, 50), r.range(40, 52)],
    [38, r.range(25, 40), r.range(60, 72)],
    [210, r.range(6, 14), r.range(50, 64)],
    [100, r.range(5, 12), r.range(45, 60)],
  ];
  const [h, sat, l] = r.pick(palettes);
  const second = r.chance(0.35) ? r.pick(palettes) : undefined;
  const tw = r.range(38, 110);
  const th = r.chance(0.5) ? tw : tw * r.range(0.45, 0.7);
  const grout = r.range(1.5, 4.5);
  const offset = r.chance(0.5) ? 0.5 : 0;
  let s = fillRect(b, hsl(0, 0, r.range(30, 78)));
  let row = 0;
  for (let y = Math.floor(b.y0 / th) * th - th; y < b.y1; y += th, row++) {
    const shift = (row % 2) * offset * tw;
    let col = 0;
    for (let x = Math.floor(b.x0 / tw) * tw - tw + shift; x < b.x1; x += tw, col++) {
      const alt = second && (row + col) % 2 === 0 ? second : undefined;
      const [hh, ss, ll] = alt ?? [h, sat, l];
      s += `<rect x="${n(x + grout / 2)}" y="${n(y + grout / 2)}" width="${n(tw - grout)}" height="${n(th - grout)}" fill="${hsl(hh + r.range(-4, 4), ss, ll + r.range(-4, 4))}"/>`;
    }
  }
  return s;
}

function grass(r: Rand, b: Box): string {
  const h = r.range(75, 115);
  const l = r.range(22, 34);
  let s = fillRect(b, hsl(h, r.range(30, 45), l));
  s += blurredBlobs(r, b, r.int(1, 6), () => hsl(r.range(30, 45), r.range(20, 40), r.range(25, 40), r.range(0.25, 0.5)), [15, 60]);
  // Blade strokes grouped by colour into a few long paths: thousands of short lines stay cheap to render.
  const area = (b.x1 - b.x0) * (b.y1 - b.y0);
  const strokes = Math.min(9000, Math.floor(area / 120));
  const groups = 6;
  for (let g = 0; g < groups; g++) {
    let d = '';
    for (let i = 0; i < strokes / groups; i++) {
      const x = r.range(b.x0, b.x1);
      const y = r.range(b.y0, b.y1);
      const a = r.range(-Math.PI, Math.PI);
      const len = r.range(3, 11);
      d += `M${n(x)},${n(y)}l${n(Math.cos(a) * len)},${n(Math.sin(a) * len)}`;
    }
    const colour = hsl(h + r.range(-15, 15), r.range(30, 55), l + r.range(-10, 16));
    s += `<path d="${d}" stroke="${colour}" stroke-width="${n(r.range(0.8, 1.8))}" stroke-linecap="round" fill="none"/>`;
  }
  return s;
}

function concrete(r: Rand, b: Box): string {
  const l = r.range(52, 74);
  let s = fillRect(b, hsl(r.range(30, 60), r.range(2, 9), l));
  s += blurredBlobs(r, b, r.int(2, 7), () => hsl(30, 10, l - r.range(8, 20), r.range(0.12, 0.3)), [25, 110]);
  const slab = r.range(140, 320);
  const joint = hsl(0, 0, l - 25, 0.8);
  let d = '';
  for (let x = Math.floor(b.x0 / slab) * slab; x < b.x1; x += slab) d += `M${n(x)},${n(b.y0)}V${n(b.y1)}`;
  for (let y = Math.floor(b.y0 / slab) * slab; y < b.y1; y += slab) d += `M${n(b.x0)},${n(y)}H${n(b.x1)}`;
  s += `<path d="${d}" stroke="${joint}" stroke-width="${n(r.range(1, 2.5))}" fill="none"/>`;
  return s;
}

function brick(r: Rand, b: Box): string {
  const bw = r.range(34, 72);
  const bh = bw * r.range(0.33, 0.5);
  const mortar = r.range(1.5, 3.5);
  const h = r.range(2, 22);
  const sat = r.range(30, 55);
  const l = r.range(28, 46);
  let s = fillRect(b, hsl(35, 8, r.range(55, 72)));
  let row = 0;
  for (let y = Math.floor(b.y0 / bh) * bh - bh; y < b.y1; y += bh, row++) {
    const shift = (row % 2) * 0.5 * bw;
    for (let x = Math.floor(b.x0 / bw) * bw - bw + shift; x < b.x1; x += bw) {
      s += `<rect x="${n(x + mortar / 2)}" y="${n(y + mortar / 2)}" width="${n(bw - mortar)}" height="${n(bh - mortar)}" fill="${hsl(h + r.range(-5, 5), sat + r.range(-8, 8), l + r.range(-7, 7))}"/>`;
    }
  }
  return s;
}

/** Filters shared by the whole background document. */
export const GROUND_FILTERS = `<filter id="blur8" x="-50%" y="-50%" width="200%" height="200%"><feGaussianBlur stdDeviation="8"/></filter>`;
