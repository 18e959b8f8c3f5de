/**
 * Litter items, drawn in SVG in their own frame (length along x, centred on the origin), rotated, rasterised
 * once to an RGBA sprite and cropped to the tight box of the drawn pixels: that box is the ground truth.
 */
import { Rand } from './random.js';
import { hsl, n, polygonPath, rasterise, smoothClosedPath, svgDoc } from './svg.js';

export const LITTER_LABELS = ['bottle', 'can', 'cup', 'bag', 'paper'] as const;
export type LitterLabel = (typeof LITTER_LABELS)[number];

export const VARIANTS: Record<LitterLabel, readonly string[]> = {
  bottle: ['clear', 'green', 'brown', 'blue'],
  can: ['side', 'top'],
  cup: ['white', 'coloured'],
  bag: ['white', 'black', 'blue', 'red'],
  paper: ['flat', 'crumpled'],
};

/** JSON-able description of one item; everything not given here is derived from `seed`. */
export interface ItemSpec {
  label: LitterLabel;
  /** Longest drawn extent before rotation, pixels (25–140). */
  length: number;
  rotationDeg: number;
  variant?: string;
  seed: number;
}

export interface Sprite {
  /** RGBA, `width`×`height`, cropped to the tight box of pixels with alpha ≥ ALPHA_MIN. */
  rgba: Buffer;
  width: number;
  height: number;
  /** Top-left of the sprite relative to the item's centre. */
  dx: number;
  dy: number;
  /** The tight box inside the sprite (the sprite keeps a one-pixel apron of faint edge pixels around it). */
  box: { x: number; y: number; w: number; h: number };
}

/** Log-uniform length in [lo, hi]: small items are as common as large ones per octave. */
export function itemLength(r: Rand, lo = 25, hi = 140): number {
  return Math.round(Math.exp(r.range(Math.log(lo), Math.log(hi))));
}

/** A pixel belongs to the drawn shape when its coverage is at least this (of 255). */
export const ALPHA_MIN = 48;

export function variantOf(spec: ItemSpec): string {
  const vs = VARIANTS[spec.label];
  if (spec.variant && vs.includes(spec.variant)) return spec.variant;
  return vs[spec.seed % vs.length] as string;
}

export function itemSvgBody(spec: ItemSpec): { defs: string; body: string } {
  const r = new Rand(spec.seed ^ 0x5bd1e995);
  const v = variantOf(spec);
  const L = spec.length;
  switch (spec.label) {
    case 'bottle':
      return bottle(r, L, v);
    case 'can':
      return can(r, v === 'top' ? Math.min(L, 70) : L, v);
    case 'cup':
      return cup(r, L, v);
    case 'bag':
      return bag(r, L, v);
    case 'paper':
      return v === 'flat' ? flatPaper(r, L) : crumpledPaper(r, L);
  }
}

/** Cylinder shading across y: dark edges, a lit band and a narrow specular line. */
function cylinderGradient(id: string, half: number, h: number, s: number, l: number, a = 1): string {
  return (
    `<linearGradient id="${id}" gradientUnits="userSpaceOnUse" x1="0" y1="${n(-half)}" x2="0" y2="${n(half)}">` +
    `<stop offset="0" stop-color="${hsl(h, s, l * 0.55, a)}"/>` +
    `<stop offset="0.25" stop-color="${hsl(h, s, l * 1.15, a)}"/>` +
    `<stop offset="0.32" stop-color="${hsl(h, s * 0.5, Math.min(95, l * 1.6 + 10), a)}"/>` +
    `<stop offset="0.42" stop-color="${hsl(h, s, l, a)}"/>` +
    `<stop offset="1" stop-color="${hsl(h, s, l * 0.5, a)}"/></linearGradient>`
  );
}

function bottle(r: Rand, L: number, v: string): { defs: string; body: string } {
  const w = L * r.range(0.24, 0.33);
  const nw = w * r.range(0.36, 0.44);
  const x0 = -L / 2;
  const x1 = x0 + L * r.range(0.58, 0.64);
  const x2 = x1 + L * 0.12;
  const x4 = L / 2;
  const x3 = x4 - L * r.range(0.07, 0.1);
  const rr = w * 0.22;
  const colours: Record<string, [number, number, number, number]> = {
    clear: [200, 25, 82, 0.5],
    green: [130, 55, 32, 0.85],
    brown: [28, 60, 26, 0.9],
    blue: [205, 70, 55, 0.7],
  };
  const [h, s, l, a] = colours[v] ?? [200, 25, 82, 0.5];
  const outline =
    `M${n(x0 + rr)},${n(-w / 2)}L${n(x1)},${n(-w / 2)}` +
    `C${n(x1 + (x2 - x1) * 0.6)},${n(-w / 2)} ${n(x2 - (x2 - x1) * 0.4)},${n(-nw / 2)} ${n(x2)},${n(-nw / 2)}` +
    `L${n(x3)},${n(-nw / 2)}L${n(x3)},${n(nw / 2)}L${n(x2)},${n(nw / 2)}` +
    `C${n(x2 - (x2 - x1) * 0.4)},${n(nw / 2)} ${n(x1 + (x2 - x1) * 0.6)},${n(w / 2)} ${n(x1)},${n(w / 2)}` +
    `L${n(x0 + rr)},${n(w / 2)}Q${n(x0)},${n(w / 2)} ${n(x0)},${n(w / 2 - rr)}L${n(x0)},${n(-w / 2 + rr)}Q${n(x0)},${n(-w / 2)} ${n(x0 + rr)},${n(-w / 2)}Z`;
  const defs = cylinderGradient('bg', w / 2, h, s, l, a);
  let body = `<path d="${outline}" fill="url(#bg)" stroke="${hsl(h, s, l * 0.45, Math.min(1, a + 0.3))}" stroke-width="${n(Math.max(0.8, w * 0.05))}"/>`;
  // A printed label band on most bottles.
  if (r.chance(0.7)) {
    const lx = x0 + (x1 - x0) * r.range(0.15, 0.3);
    const lw = (x1 - x0) * r.range(0.3, 0.5);
    const lh = r.range(0, 360);
    body += `<rect x="${n(lx)}" y="${n(-w / 2)}" width="${n(lw)}" height="${n(w)}" fill="${hsl(lh, r.range(40, 80), r.range(35, 60), 0.92)}"/>`;
    body += `<rect x="${n(lx)}" y="${n(-w * 0.22)}" width="${n(lw)}" height="${n(w * 0.12)}" fill="${hsl(0, 0, 100, 0.35)}"/>`;
  }
  // Specular line along the body and shoulder.
  body += `<line x1="${n(x0 + w * 0.3)}" y1="${n(-w * 0.18)}" x2="${n(x1)}" y2="${n(-w * 0.18)}" stroke="${hsl(0, 0, 100, 0.55)}" stroke-width="${n(Math.max(1, w * 0.08))}" stroke-linecap="round"/>`;
  const capH = nw * 1.18;
  const capColour = hsl(r.pick([0, 210, 120, 50, 0]), r.chance(0.2) ? 0 : 70, r.chance(0.2) ? 95 : 45);
  body += `<rect x="${n(x3)}" y="${n(-capH / 2)}" width="${n(x4 - x3)}" height="${n(capH)}" rx="${n(capH * 0.12)}" fill="${capColour}" stroke="${hsl(0, 0, 15, 0.5)}" stroke-width="0.6"/>`;
  for (let i = 1; i < 4; i++) {
    const x = x3 + ((x4 - x3) * i) / 4;
    body += `<line x1="${n(x)}" y1="${n(-capH / 2)}" x2="${n(x)}" y2="${n(capH / 2)}" stroke="${hsl(0, 0, 0, 0.25)}" stroke-width="0.6"/>`;
  }
  return { defs, body };
}

function can(r: Rand, L: number, v: string): { defs: string; body: string } {
  const bandHue = r.pick([0, 0, 210, 120, 50, 280, 25]);
  if (v === 'top') {
    const R = L / 2;
    const defs =
      `<radialGradient id="cg" cx="0.4" cy="0.4" r="0.7"><stop offset="0" stop-color="${hsl(0, 0, 92)}"/>` +
      `<stop offset="0.7" stop-color="${hsl(0, 0, 66)}"/><stop offset="1" stop-color="${hsl(0, 0, 40)}"/></radialGradient>`;
    let body = `<circle r="${n(R)}" fill="${hsl(bandHue, 65, 42)}"/>`;
    body += `<circle r="${n(R * 0.9)}" fill="url(#cg)" stroke="${hsl(0, 0, 35)}" stroke-width="${n(Math.max(0.8, R * 0.06))}"/>`;
    body += `<circle r="${n(R * 0.74)}" fill="${hsl(0, 0, 74)}" stroke="${hsl(0, 0, 50)}" stroke-width="${n(Math.max(0.6, R * 0.03))}"/>`;
    // Ring-pull tab and its opening.
    body += `<ellipse cx="${n(R * 0.3)}" cy="0" rx="${n(R * 0.28)}" ry="${n(R * 0.18)}" fill="${hsl(0, 0, 12)}"/>`;
    body += `<rect x="${n(-R * 0.35)}" y="${n(-R * 0.13)}" width="${n(R * 0.5)}" height="${n(R * 0.26)}" rx="${n(R * 0.12)}" fill="${hsl(0, 0, 82)}" stroke="${hsl(0, 0, 45)}" stroke-width="0.7"/>`;
    return { defs, body };
  }
  const d = L * r.range(0.48, 0.58);
  const ex = d * 0.14;
  const x0 = -L / 2 + ex;
  const x1 = L / 2 - ex;
  const defs = cylinderGradient('cm', d / 2, 0, 0, 70) + cylinderGradient('cb', d / 2, bandHue, 70, 45);
  let body = `<ellipse cx="${n(x0)}" cy="0" rx="${n(ex)}" ry="${n(d / 2 - 0.5)}" fill="${hsl(0, 0, 50)}"/>`;
  body += `<rect x="${n(x0)}" y="${n(-d / 2)}" width="${n(x1 - x0)}" height="${n(d)}" fill="url(#cm)"/>`;
  const b0 = x0 + (x1 - x0) * r.range(0.08, 0.15);
  const b1 = x1 - (x1 - x0) * r.range(0.08, 0.15);
  body += `<rect x="${n(b0)}" y="${n(-d / 2)}" width="${n(b1 - b0)}" height="${n(d)}" fill="url(#cb)"/>`;
  if (r.chance(0.6)) {
    body += `<rect x="${n(b0 + (b1 - b0) * 0.3)}" y="${n(-d * 0.1)}" width="${n((b1 - b0) * 0.4)}" height="${n(d * 0.2)}" fill="${hsl(0, 0, 97, 0.8)}"/>`;
  }
  // Top lid seen edge-on: a silver ellipse with the rim.
  body += `<ellipse cx="${n(x1)}" cy="0" rx="${n(ex)}" ry="${n(d / 2)}" fill="${hsl(0, 0, 80)}" stroke="${hsl(0, 0, 45)}" stroke-width="${n(Math.max(0.7, d * 0.04))}"/>`;
  return { defs, body };
}

function cup(r: Rand, L: number, v: string): { defs: string; body: string } {
  const wt = L * r.range(0.55, 0.7);
  const wb = wt * r.range(0.6, 0.72);
  const rx = wt * 0.22;
  const xb = -L / 2;
  const xt = L / 2 - rx;
  const white = v === 'white';
  const h = white ? 40 : r.pick([0, 210, 130, 50, 300]);
  const s = white ? 15 : 65;
  const l = white ? 90 : 48;
  const defs = cylinderGradient('kg', wt / 2, h, s, l);
  const side = polygonPath([
    [xb, -wb / 2],
    [xt, -wt / 2],
    [xt, wt / 2],
    [xb, wb / 2],
  ]);
  let body = `<ellipse cx="${n(xb)}" cy="0" rx="${n(rx * 0.7)}" ry="${n(wb / 2)}" fill="${hsl(h, s, l * 0.7)}"/>`;
  body += `<path d="${side}" fill="url(#kg)"/>`;
  if (!white || r.chance(0.4)) {
    // Cardboard sleeve around the middle.
    const s0 = xb + (xt - xb) * 0.3;
    const s1 = xb + (xt - xb) * 0.7;
    const w0 = wb + (wt - wb) * 0.3;
    const w1 = wb + (wt - wb) * 0.7;
    body += `<path d="${polygonPath([
      [s0, -w0 / 2],
      [s1, -w1 / 2],
      [s1, w1 / 2],
      [s0, w0 / 2],
    ])}" fill="${hsl(30, 45, 42, 0.92)}"/>`;
  } else {
    body += `<rect x="${n(xb + (xt - xb) * 0.35)}" y="${n(-wt * 0.15)}" width="${n((xt - xb) * 0.3)}" height="${n(wt * 0.3)}" rx="2" fill="${hsl(r.range(0, 360), 60, 40, 0.8)}"/>`;
  }
  // The open rim: a light ring and a dark interior.
  body += `<ellipse cx="${n(xt)}" cy="0" rx="${n(rx)}" ry="${n(wt / 2)}" fill="${hsl(h, s, Math.min(97, l + 6))}" stroke="${hsl(h, s * 0.5, l * 0.6)}" stroke-width="${n(Math.max(0.7, wt * 0.03))}"/>`;
  body += `<ellipse cx="${n(xt + rx * 0.12)}" cy="0" rx="${n(rx * 0.75)}" ry="${n(wt * 0.42)}" fill="${hsl(h, s * 0.6, l * 0.45)}"/>`;
  return { defs, body };
}

function bag(r: Rand, L: number, v: string): { defs: string; body: string } {
  const colours: Record<string, [number, number, number, number]> = {
    white: [60, 5, 90, 0.78],
    black: [220, 8, 12, 0.92],
    blue: [215, 65, 50, 0.8],
    red: [355, 70, 45, 0.82],
  };
  const [h, s, l, a] = colours[v] ?? [60, 5, 90, 0.78];
  const handles = r.chance(0.5);
  const R = handles ? L * 0.36 : L / 2;
  const k = r.int(9, 14);
  const squash = r.range(0.55, 0.85);
  const pts: [number, number][] = [];
  for (let i = 0; i < k; i++) {
    const ang = (i / k) * Math.PI * 2 + r.range(-0.15, 0.15);
    const rad = R * r.range(0.68, 1);
    pts.push([Math.cos(ang) * rad - (handles ? L * 0.12 : 0), Math.sin(ang) * rad * squash]);
  }
  const defs =
    `<radialGradient id="ag" cx="0.45" cy="0.4" r="0.65"><stop offset="0" stop-color="${hsl(h, s, Math.min(97, l + 12), a)}"/>` +
    `<stop offset="1" stop-color="${hsl(h, s, l * 0.7, a)}"/></radialGradient>`;
  let body = '';
  if (handles) {
    const hx = L * 0.16;
    const hw = Math.max(1.5, L * 0.045);
    for (const side of [-1, 1]) {
      const y0 = side * R * squash * 0.3;
      body += `<path d="M${n(hx)},${n(y0 - side * R * 0.12)}C${n(L * 0.5)},${n(y0 - side * R * 0.25)} ${n(L * 0.5)},${n(y0 + side * R * 0.3)} ${n(hx)},${n(y0 + side * R * 0.15)}" fill="none" stroke="${hsl(h, s, l * 0.9, Math.min(1, a + 0.1))}" stroke-width="${n(hw)}"/>`;
    }
  }
  body += `<path d="${smoothClosedPath(pts)}" fill="url(#ag)" stroke="${hsl(h, s, l * 0.6, a)}" stroke-width="${n(Math.max(0.6, L * 0.01))}"/>`;
  // Wrinkles: folds radiate from the gathered neck of the bag, with light crests beside dark creases.
  const gx = -R * r.range(0.2, 0.5) - (handles ? L * 0.12 : 0) + (handles ? R * 0.9 : 0);
  const gy = r.range(-0.2, 0.2) * R * squash;
  const wrinkles = r.int(5, 10);
  for (let i = 0; i < wrinkles; i++) {
    const ang = r.range(0, Math.PI * 2);
    const len = R * r.range(0.35, 0.85);
    const sx = gx + Math.cos(ang) * R * 0.1;
    const sy = gy + Math.sin(ang) * R * 0.1 * squash;
    const ex = gx + Math.cos(ang) * len;
    const ey = gy + Math.sin(ang) * len * squash;
    const bend = r.range(-0.25, 0.25) * len;
    const mx = (sx + ex) / 2 - Math.sin(ang) * bend;
    const my = (sy + ey) / 2 + Math.cos(ang) * bend;
    const wdt = Math.max(0.8, L * r.range(0.015, 0.03));
    const d = `M${n(sx)},${n(sy)}Q${n(mx)},${n(my)} ${n(ex)},${n(ey)}`;
    body += `<path d="${d}" fill="none" stroke="${hsl(h, s, l * 0.45, 0.3)}" stroke-width="${n(wdt)}" stroke-linecap="round"/>`;
    body += `<path d="${d}" transform="translate(${n(wdt)},${n(wdt * 0.5)})" fill="none" stroke="${hsl(0, 0, 100, 0.18)}" stroke-width="${n(wdt * 0.8)}" stroke-linecap="round"/>`;
  }
  return { defs, body };
}

function paperColour(r: Rand): { fill: [number, number, number]; news: boolean } {
  const which = r.int(0, 2);
  if (which === 0) return { fill: [50, 10, 95], news: false };
  if (which === 1) return { fill: [45, 45, 88], news: false };
  return { fill: [40, 8, 80], news: true };
}

function flatPaper(r: Rand, L: number): { defs: string; body: string } {
  const W = L;
  const H = L * r.range(0.62, 0.75);
  const j = () => r.range(-0.03, 0.03) * L;
  const c = paperColour(r);
  const [h, s, l] = c.fill;
  const corners: [number, number][] = [
    [-W / 2 + j(), -H / 2 + j()],
    [W / 2 + j(), -H / 2 + j()],
    [W / 2 + j(), H / 2 + j()],
    [-W / 2 + j(), H / 2 + j()],
  ];
  let body = `<path d="${polygonPath(corners)}" fill="${hsl(h, s, l)}" stroke="${hsl(h, s, l * 0.75)}" stroke-width="0.8"/>`;
  // Text lines (denser columns for newsprint) and a fold.
  const gap = Math.max(2.5, L * (c.news ? 0.035 : 0.06));
  const cols = c.news ? 3 : 1;
  const margin = W * 0.1;
  const colW = (W - 2 * margin) / cols;
  let d = '';
  for (let col = 0; col < cols; col++) {
    for (let y = -H / 2 + H * 0.12; y < H / 2 - H * 0.1; y += gap) {
      const x0 = -W / 2 + margin + col * colW;
      d += `M${n(x0)},${n(y)}h${n(colW * (c.news ? 0.88 : r.range(0.5, 1)))}`;
    }
  }
  body += `<path d="${d}" stroke="${hsl(0, 0, 25, c.news ? 0.55 : 0.4)}" stroke-width="${n(Math.max(0.6, L * 0.012))}" fill="none"/>`;
  if (c.news && r.chance(0.6)) {
    body += `<rect x="${n(-W / 2 + margin)}" y="${n(-H / 2 + H * 0.12)}" width="${n(colW * 0.9)}" height="${n(H * 0.3)}" fill="${hsl(0, 0, 35, 0.75)}"/>`;
  }
  const fx = r.range(-0.2, 0.2) * W;
  body += `<line x1="${n(fx)}" y1="${n(-H / 2)}" x2="${n(fx + r.range(-0.05, 0.05) * W)}" y2="${n(H / 2)}" stroke="${hsl(0, 0, 30, 0.3)}" stroke-width="1"/>`;
  // A dog-eared corner.
  const [cx, cy] = corners[1] as [number, number];
  const e = L * 0.12;
  body += `<path d="M${n(cx - e)},${n(cy)}L${n(cx)},${n(cy + e)}L${n(cx - e * 0.8)},${n(cy + e * 0.8)}Z" fill="${hsl(h, s, l * 0.8)}"/>`;
  return { defs: '', body };
}

function crumpledPaper(r: Rand, L: number): { defs: string; body: string } {
  const c = paperColour(r);
  const [h, s, l] = c.fill;
  const k = r.int(7, 11);
  const R = L / 2;
  const squash = r.range(0.7, 0.95);
  const pts: [number, number][] = [];
  for (let i = 0; i < k; i++) {
    const a = (i / k) * Math.PI * 2 + r.range(-0.2, 0.2);
    const rad = R * r.range(0.72, 1);
    pts.push([Math.cos(a) * rad, Math.sin(a) * rad * squash]);
  }
  // Facets: each border edge meets the nearest of a few interior crease points, each facet lit differently.
  const inner: [number, number][] = [];
  for (let i = 0; i < r.int(2, 4); i++) inner.push([r.range(-0.45, 0.45) * R, r.range(-0.4, 0.4) * R * squash]);
  let body = `<path d="${polygonPath(pts)}" fill="${hsl(h, s, l * 0.9)}"/>`;
  for (let i = 0; i < k; i++) {
    const p = pts[i] as [number, number];
    const q = pts[(i + 1) % k] as [number, number];
    const mx = (p[0] + q[0]) / 2;
    const my = (p[1] + q[1]) / 2;
    let apex = inner[0] as [number, number];
    for (const c of inner) if (Math.hypot(c[0] - mx, c[1] - my) < Math.hypot(apex[0] - mx, apex[1] - my)) apex = c;
    body += `<path d="${polygonPath([apex, p, q])}" fill="${hsl(h, s, l * r.range(0.72, 1.04))}" stroke="${hsl(h, s, l * 0.6, 0.5)}" stroke-width="0.7"/>`;
  }
  for (let i = 1; i < inner.length; i++) {
    const a = inner[i - 1] as [number, number];
    const b = inner[i] as [number, number];
    const far = pts[r.int(0, k - 1)] as [number, number];
    body += `<path d="${polygonPath([a, b, far])}" fill="${hsl(h, s, l * r.range(0.75, 1.02), 0.85)}" stroke="${hsl(h, s, l * 0.6, 0.5)}" stroke-width="0.7"/>`;
  }
  if (c.news) {
    let d = '';
    for (let y = -R * 0.6; y < R * 0.6; y += Math.max(2.5, L * 0.05)) d += `M${n(-R * 0.5)},${n(y)}h${n(R * r.range(0.5, 1))}`;
    body += `<path d="${d}" stroke="${hsl(0, 0, 25, 0.35)}" stroke-width="${n(Math.max(0.6, L * 0.012))}" fill="none"/>`;
  }
  return { defs: '', body };
}

/** Rasterises the item rotated about its centre and crops to its drawn pixels. */
export async function renderSprite(spec: ItemSpec): Promise<Sprite> {
  const { defs, body } = itemSvgBody(spec);
  const S = Math.ceil(spec.length * 1.6) + 12;
  const c = S / 2;
  const svg = svgDoc(S, S, defs, `<g transform="translate(${c},${c}) rotate(${n(spec.rotationDeg)})">${body}</g>`);
  const img = await rasterise(svg);
  const { data, width } = img;
  let x0 = S;
  let y0 = S;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      if ((data[(y * width + x) * 4 + 3] as number) >= ALPHA_MIN) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) throw new Error(`item ${spec.label} drew no pixels`);
  // Keep a one-pixel apron of faint antialiasing outside the box so edges stay soft when composited.
  const ax0 = Math.max(0, x0 - 1);
  const ay0 = Math.max(0, y0 - 1);
  const ax1 = Math.min(S - 1, x1 + 1);
  const ay1 = Math.min(S - 1, y1 + 1);
  const w = ax1 - ax0 + 1;
  const h = ay1 - ay0 + 1;
  const rgba = Buffer.alloc(w * h * 4);
  const noise = new Rand(spec.seed);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const src = ((y + ay0) * width + (x + ax0)) * 4;
      const dst = (y * w + x) * 4;
      // Sensor-like grain so items carry the same fine noise as the ground around them.
      const g = Math.round((noise.float() - 0.5) * 14);
      for (let ch = 0; ch < 3; ch++) rgba[dst + ch] = clamp255((data[src + ch] as number) + g);
      rgba[dst + 3] = data[src + 3] as number;
    }
  }
  return {
    rgba,
    width: w,
    height: h,
    dx: ax0 - Math.round(c),
    dy: ay0 - Math.round(c),
    box: { x: x0 - ax0, y: y0 - ay0, w: x1 - x0 + 1, h: y1 - y0 + 1 },
  };
}

function clamp255(v: number): number {
  return Math.max(0, Math.min(255, v));
}
