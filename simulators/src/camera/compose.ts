/**
 * A frame = a cached background (ground + distractors + lighting, rendered once per scene) with item sprites
 * alpha-blended on top. Lighting is applied in code, to the background once and to each item pixel as it is
 * blended, so an item in a dark corner is as dark as the ground around it.
 */
import { type DistractorCounts, DISTRACTOR_FILTERS, groundFixtures, looseObjects, randomCounts } from './distractors.js';
import { addGrain, addStains } from './grain.js';
import { GROUND_FILTERS, type GroundKind, type GroundRegion, layoutRegions, regionSvg } from './ground.js';
import type { Sprite } from './items.js';
import { Rand } from './random.js';
import { rasterise, svgDoc } from './svg.js';

export interface LightingSpec {
  /** Direction the light falls off towards, degrees. */
  angleDeg: number;
  /** 0..1: how much darker the far side is. */
  strength: number;
  gain: number;
  vignette: number;
  tint: [number, number, number];
}

export interface BackgroundSpec {
  seed: number;
  regions: GroundRegion[];
  distractors: DistractorCounts;
  lighting: LightingSpec;
}

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export function randomBackground(seed: number, width: number, height: number, kinds?: GroundKind[]): BackgroundSpec {
  const r = new Rand(seed);
  return {
    seed,
    regions: layoutRegions(r, width, height, kinds),
    distractors: randomCounts(r),
    lighting: {
      angleDeg: r.range(0, 360),
      strength: r.range(0, 0.45),
      gain: r.range(0.85, 1.12),
      vignette: r.range(0, 0.3),
      tint: [r.range(0.95, 1.05), r.range(0.97, 1.03), r.range(0.93, 1.05)],
    },
  };
}

export function backgroundSvg(spec: BackgroundSpec, width: number, height: number): string {
  const r = new Rand(spec.seed ^ 0x9e3779b9);
  let defs = GROUND_FILTERS + DISTRACTOR_FILTERS;
  let body = '';
  spec.regions.forEach((region, i) => {
    const part = regionSvg(region, `rg${i}`, width, height);
    defs += part.defs;
    body += part.body;
  });
  body += groundFixtures(r, spec.distractors, width, height);
  body += looseObjects(r, spec.distractors, width, height);
  return svgDoc(width, height, defs, body);
}

/** Scales the gradient so it spans 0..1 across the frame diagonal. */
const FALLOFF_SCALE = Math.SQRT1_2;

/** The light factor at a pixel, as a function with the direction's sine and cosine worked out once. */
export function lightField(l: LightingSpec, width: number, height: number): (x: number, y: number) => number {
  const a = (l.angleDeg * Math.PI) / 180;
  const ca = Math.cos(a);
  const sa = Math.sin(a);
  return (x, y) => {
    const u = ((x / width - 0.5) * ca + (y / height - 0.5) * sa) * FALLOFF_SCALE + 0.5;
    const dx = x / width - 0.5;
    const dy = y / height - 0.5;
    return l.gain * (1 - l.strength * u) * (1 - l.vignette * (dx * dx + dy * dy) * 2);
  };
}

export interface Background {
  spec: BackgroundSpec;
  width: number;
  height: number;
  /** RGB, lit. */
  rgb: Buffer;
}

export async function renderBackground(spec: BackgroundSpec, width: number, height: number): Promise<Background> {
  const img = await rasterise(backgroundSvg(spec, width, height), true);
  const rgb = img.data;
  addStains(rgb, width, height, spec.seed);
  addGrain(rgb, width, height, spec.seed);
  const t = spec.lighting.tint;
  const light = lightField(spec.lighting, width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const f = light(x, y);
      const p = (y * width + x) * 3;
      rgb[p] = clamp255((rgb[p] as number) * f * t[0]);
      rgb[p + 1] = clamp255((rgb[p + 1] as number) * f * t[1]);
      rgb[p + 2] = clamp255((rgb[p + 2] as number) * f * t[2]);
    }
  }
  return { spec, width, height, rgb };
}

export interface Placement {
  sprite: Sprite;
  /** Integer centre of the item in frame pixels. */
  cx: number;
  cy: number;
  /** 0..1, for items fading in. */
  opacity: number;
}

/** The ground-truth box of a placed sprite, clipped to the frame. */
export function placementBox(p: Placement, width: number, height: number): Box | undefined {
  const x0 = Math.max(0, p.cx + p.sprite.dx + p.sprite.box.x);
  const y0 = Math.max(0, p.cy + p.sprite.dy + p.sprite.box.y);
  const x1 = Math.min(width, p.cx + p.sprite.dx + p.sprite.box.x + p.sprite.box.w);
  const y1 = Math.min(height, p.cy + p.sprite.dy + p.sprite.box.y + p.sprite.box.h);
  if (x1 <= x0 || y1 <= y0) return undefined;
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/** Blends the placements over a copy of the background (or into `out`, reused between frames). */
export function composite(bg: Background, placements: readonly Placement[], out?: Buffer): Buffer {
  const { width, height } = bg;
  const frame = out && out.length === bg.rgb.length ? out : Buffer.allocUnsafe(bg.rgb.length);
  bg.rgb.copy(frame);
  const t = bg.spec.lighting.tint;
  const light = lightField(bg.spec.lighting, width, height);
  for (const p of placements) {
    if (p.opacity <= 0) continue;
    const s = p.sprite;
    const ox = p.cx + s.dx;
    const oy = p.cy + s.dy;
    for (let y = 0; y < s.height; y++) {
      const fy = oy + y;
      if (fy < 0 || fy >= height) continue;
      for (let x = 0; x < s.width; x++) {
        const fx = ox + x;
        if (fx < 0 || fx >= width) continue;
        const sp = (y * s.width + x) * 4;
        const a = ((s.rgba[sp + 3] as number) / 255) * p.opacity;
        if (a <= 0) continue;
        const f = light(fx, fy);
        const fp = (fy * width + fx) * 3;
        for (let c = 0; c < 3; c++) {
          const lit = (s.rgba[sp + c] as number) * f * (t[c] as number);
          frame[fp + c] = clamp255((frame[fp + c] as number) * (1 - a) + lit * a);
        }
      }
    }
  }
  return frame;
}

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}
