/**
 * Things on the ground that are NOT litter, so a detector trained elsewhere is tested against hard
 * negatives: leaves, pebbles, drain covers with slots, painted lines, puddles and soft shadows of trees and poles.
 */
import type { Rand } from './random.js';
import { hsl, n, smoothClosedPath } from './svg.js';

export interface DistractorCounts {
  leaves: number;
  pebbles: number;
  drains: number;
  lines: number;
  puddles: number;
  treeShadows: number;
  poleShadows: number;
}

export function randomCounts(r: Rand): DistractorCounts {
  return {
    leaves: r.chance(0.75) ? r.int(2, 40) : 0,
    pebbles: r.chance(0.7) ? r.int(2, 30) : 0,
    drains: r.chance(0.45) ? r.int(1, 2) : 0,
    lines: r.chance(0.45) ? r.int(1, 3) : 0,
    puddles: r.chance(0.3) ? r.int(1, 2) : 0,
    treeShadows: r.chance(0.4) ? r.int(1, 2) : 0,
    poleShadows: r.chance(0.35) ? 1 : 0,
  };
}

export const DISTRACTOR_FILTERS =
  `<filter id="soft" x="-60%" y="-60%" width="220%" height="220%"><feGaussianBlur stdDeviation="14"/></filter>` +
  `<filter id="soft3" x="-30%" y="-30%" width="160%" height="160%"><feGaussianBlur stdDeviation="3"/></filter>`;

/** Below the speckle: markings and fixtures that belong to the ground itself. */
export function groundFixtures(r: Rand, c: DistractorCounts, w: number, h: number): string {
  let s = '';
  for (let i = 0; i < c.lines; i++) s += paintedLine(r, w, h);
  for (let i = 0; i < c.puddles; i++) s += puddle(r, w, h);
  for (let i = 0; i < c.drains; i++) s += drain(r, w, h);
  return s;
}

/** Above the speckle: loose natural objects, then shadows over everything. */
export function looseObjects(r: Rand, c: DistractorCounts, w: number, h: number): string {
  let s = '';
  for (let i = 0; i < c.pebbles; i++) s += pebble(r, w, h);
  for (let i = 0; i < c.leaves; i++) s += leaf(r, w, h);
  for (let i = 0; i < c.treeShadows; i++) s += treeShadow(r, w, h);
  for (let i = 0; i < c.poleShadows; i++) s += poleShadow(r, w, h);
  return s;
}

function paintedLine(r: Rand, w: number, h: number): string {
  const colour = r.chance(0.65) ? hsl(50, 10, 92, r.range(0.55, 0.9)) : hsl(48, 85, 55, r.range(0.55, 0.9));
  const x = r.range(0, w);
  const y = r.range(0, h);
  const a = r.range(0, 180);
  const len = r.range(300, 1400);
  const width = r.range(8, 22);
  const dashed = r.chance(0.35) ? ` stroke-dasharray="${n(r.range(40, 90))} ${n(r.range(30, 70))}"` : '';
  return (
    `<g transform="translate(${n(x)},${n(y)}) rotate(${n(a)})">` +
    `<line x1="${n(-len / 2)}" y1="0" x2="${n(len / 2)}" y2="0" stroke="${colour}" stroke-width="${n(width)}"${dashed}/></g>`
  );
}

function puddle(r: Rand, w: number, h: number): string {
  const cx = r.range(0, w);
  const cy = r.range(0, h);
  const rad = r.range(40, 130);
  const pts: [number, number][] = [];
  const k = r.int(7, 12);
  for (let i = 0; i < k; i++) {
    const a = (i / k) * Math.PI * 2;
    const rr = rad * r.range(0.55, 1.1);
    pts.push([cx + Math.cos(a) * rr, cy + Math.sin(a) * rr * r.range(0.5, 0.8)]);
  }
  const d = smoothClosedPath(pts);
  return (
    `<path d="${d}" fill="${hsl(215, 15, 18, 0.55)}" filter="url(#soft3)"/>` +
    `<path d="${d}" fill="${hsl(205, 25, 70, 0.12)}" transform="translate(${n(r.range(-6, 6))},${n(r.range(-6, 6))})"/>`
  );
}

function drain(r: Rand, w: number, h: number): string {
  const x = r.range(60, w - 60);
  const y = r.range(60, h - 60);
  const metal = hsl(30, r.range(0, 12), r.range(22, 38));
  if (r.chance(0.4)) {
    // Round cover with a ring of holes and a chequer of raised lines.
    const rad = r.range(35, 65);
    let s = `<circle cx="${n(x)}" cy="${n(y)}" r="${n(rad)}" fill="${metal}" stroke="${hsl(0, 0, 15)}" stroke-width="3"/>`;
    s += `<circle cx="${n(x)}" cy="${n(y)}" r="${n(rad * 0.82)}" fill="none" stroke="${hsl(0, 0, 48, 0.7)}" stroke-width="1.5"/>`;
    for (let i = -3; i <= 3; i++) {
      const o = (i * rad) / 4;
      const half = Math.sqrt(Math.max(0, (rad * 0.78) ** 2 - o * o));
      s += `<line x1="${n(x + o)}" y1="${n(y - half)}" x2="${n(x + o)}" y2="${n(y + half)}" stroke="${hsl(0, 0, 45, 0.6)}" stroke-width="1.5"/>`;
      s += `<line x1="${n(x - half)}" y1="${n(y + o)}" x2="${n(x + half)}" y2="${n(y + o)}" stroke="${hsl(0, 0, 45, 0.6)}" stroke-width="1.5"/>`;
    }
    return s;
  }
  // Rectangular gully grating with dark slots.
  const gw = r.range(60, 130);
  const gh = gw * r.range(0.35, 0.7);
  const a = r.pick([0, 90, r.range(-20, 20)]);
  let s = `<g transform="translate(${n(x)},${n(y)}) rotate(${n(a)})">`;
  s += `<rect x="${n(-gw / 2 - 4)}" y="${n(-gh / 2 - 4)}" width="${n(gw + 8)}" height="${n(gh + 8)}" fill="${hsl(0, 0, 55)}"/>`;
  s += `<rect x="${n(-gw / 2)}" y="${n(-gh / 2)}" width="${n(gw)}" height="${n(gh)}" fill="${metal}"/>`;
  const slots = Math.max(4, Math.round(gw / 11));
  const sw = (gw / slots) * 0.45;
  for (let i = 0; i < slots; i++) {
    const sx = -gw / 2 + (i + 0.5) * (gw / slots) - sw / 2;
    s += `<rect x="${n(sx)}" y="${n(-gh / 2 + 4)}" width="${n(sw)}" height="${n(gh - 8)}" rx="1.5" fill="${hsl(0, 0, 6)}"/>`;
  }
  return `${s}</g>`;
}

function pebble(r: Rand, w: number, h: number): string {
  const x = r.range(0, w);
  const y = r.range(0, h);
  const rx = r.range(2.5, 12);
  const l = r.range(30, 70);
  const hue = r.range(20, 50);
  return (
    `<ellipse cx="${n(x + 1.5)}" cy="${n(y + 1.5)}" rx="${n(rx)}" ry="${n(rx * 0.75)}" fill="${hsl(0, 0, 5, 0.35)}"/>` +
    `<ellipse cx="${n(x)}" cy="${n(y)}" rx="${n(rx)}" ry="${n(rx * r.range(0.55, 0.95))}" transform="rotate(${n(r.range(0, 180))} ${n(x)} ${n(y)})" fill="${hsl(hue, r.range(3, 18), l)}"/>` +
    `<ellipse cx="${n(x - rx * 0.25)}" cy="${n(y - rx * 0.25)}" rx="${n(rx * 0.4)}" ry="${n(rx * 0.25)}" fill="${hsl(0, 0, 100, 0.15)}"/>`
  );
}

function leaf(r: Rand, w: number, h: number): string {
  const x = r.range(0, w);
  const y = r.range(0, h);
  const len = r.range(8, 28);
  const wid = len * r.range(0.3, 0.55);
  const hue = r.pick([30, 40, 55, 90, 20]) + r.range(-8, 8);
  const colour = hsl(hue, r.range(35, 70), r.range(25, 50));
  const d = `M${n(-len / 2)},0Q0,${n(-wid)} ${n(len / 2)},0Q0,${n(wid)} ${n(-len / 2)},0Z`;
  return (
    `<g transform="translate(${n(x)},${n(y)}) rotate(${n(r.range(0, 360))})">` +
    `<path d="${d}" fill="${colour}"/>` +
    `<line x1="${n(-len / 2 - 3)}" y1="0" x2="${n(len / 2)}" y2="0" stroke="${hsl(hue, 40, 20, 0.6)}" stroke-width="0.8"/></g>`
  );
}

function treeShadow(r: Rand, w: number, h: number): string {
  const cx = r.range(-100, w + 100);
  const cy = r.range(-100, h + 100);
  const rad = r.range(120, 320);
  let s = `<g filter="url(#soft)" opacity="${n(r.range(0.25, 0.45))}">`;
  for (let i = 0; i < r.int(6, 14); i++) {
    const a = r.range(0, Math.PI * 2);
    const d = rad * Math.sqrt(r.float());
    const rr = rad * r.range(0.25, 0.55);
    s += `<circle cx="${n(cx + Math.cos(a) * d)}" cy="${n(cy + Math.sin(a) * d)}" r="${n(rr)}" fill="#000"/>`;
  }
  return `${s}</g>`;
}

function poleShadow(r: Rand, w: number, h: number): string {
  const x = r.range(0, w);
  const y = r.range(0, h);
  const len = r.range(400, 1100);
  const wid = r.range(10, 26);
  return (
    `<g transform="translate(${n(x)},${n(y)}) rotate(${n(r.range(0, 180))})" opacity="${n(r.range(0.25, 0.45))}">` +
    `<rect x="0" y="${n(-wid / 2)}" width="${n(len)}" height="${n(wid)}" fill="#000" filter="url(#soft3)"/>` +
    `<circle cx="${n(len)}" cy="0" r="${n(wid * 2.2)}" fill="#000" filter="url(#soft3)"/></g>`
  );
}
