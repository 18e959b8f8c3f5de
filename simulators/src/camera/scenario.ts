/**
 * A scripted camera scene: one fixed background and a list of litter items, each appearing at `appearMs`
 * (fading in over `fadeInMs`, up to 60 s, as a dropped item would be noticed gradually), staying, and removed
 * at `removeMs`. Plain JSON: a test can write its own script, or generate one from a seed.
 */
import type { BackgroundSpec } from './compose.js';
import { randomBackground } from './compose.js';
import type { Point } from './ground.js';
import { type ItemSpec, itemLength, LITTER_LABELS, type LitterLabel, VARIANTS } from './items.js';
import { Rand } from './random.js';

export interface Zone {
  id: string;
  /** Frame pixels. */
  polygon: Point[];
}

export interface ScriptItem {
  id: string;
  item: ItemSpec;
  /** Integer centre of the item in frame pixels. */
  x: number;
  y: number;
  zone?: string;
  appearMs: number;
  /** Removed (gone at once) at this time; null = stays to the end of the script. */
  removeMs: number | null;
  /** 0 = appears at full opacity; otherwise opacity ramps linearly from 0 over this many ms. */
  fadeInMs: number;
  /** Opacity once faded in; 1 unless the script says otherwise. */
  maxOpacity?: number;
}

export interface Scenario {
  version: 1;
  seed: number;
  width: number;
  height: number;
  /** Script length; with `loop` the timeline repeats after it. */
  durationMs: number;
  loop: boolean;
  background: BackgroundSpec;
  zones: Zone[];
  items: ScriptItem[];
}

export interface ScenarioOptions {
  seed: number;
  width?: number;
  height?: number;
  durationMs?: number;
  /** Number of items over the whole script; default 1.5 per minute. */
  items?: number;
  loop?: boolean;
}

export const MAX_FADE_MS = 60_000;

/** Three side-by-side zones, the way an installer would split a camera's view of a courtyard. */
export function stripZones(width: number, height: number, count = 3): Zone[] {
  const zones: Zone[] = [];
  for (let i = 0; i < count; i++) {
    const x0 = Math.round((width * i) / count);
    const x1 = Math.round((width * (i + 1)) / count);
    zones.push({
      id: `zone-${String.fromCharCode(97 + i)}`,
      polygon: [
        [x0, 0],
        [x1, 0],
        [x1, height],
        [x0, height],
      ],
    });
  }
  return zones;
}

export function pointInPolygon(x: number, y: number, poly: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i] as Point;
    const [xj, yj] = poly[j] as Point;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function zoneOf(zones: readonly Zone[], x: number, y: number): string | undefined {
  return zones.find((z) => pointInPolygon(x, y, z.polygon))?.id;
}

/** Generates a script from a seed: same seed, same timeline, to the pixel. */
export function generateScenario(opts: ScenarioOptions): Scenario {
  const width = opts.width ?? 1280;
  const height = opts.height ?? 720;
  const durationMs = opts.durationMs ?? 10 * 60_000;
  const r = new Rand(opts.seed);
  const background = randomBackground(r.seed(), width, height);
  const zones = stripZones(width, height);
  const count = opts.items ?? Math.max(1, Math.round((durationMs / 60_000) * 1.5));
  const items: ScriptItem[] = [];
  for (let i = 0; i < count; i++) {
    const label = LITTER_LABELS[i % LITTER_LABELS.length] as LitterLabel;
    const item: ItemSpec = {
      label,
      length: itemLength(r),
      rotationDeg: Math.round(r.range(0, 360)),
      variant: r.pick(VARIANTS[label]),
      seed: r.seed(),
    };
    // The first item shows up a few seconds in, so a viewer sees litter without waiting minutes.
    const appearMs = i === 0 ? Math.min(5_000, durationMs / 4) : Math.round(r.range(0, durationMs * 0.8));
    const fadeInMs = r.chance(0.4) ? 0 : Math.round(r.range(5_000, MAX_FADE_MS));
    const stay = Math.round(r.range(30_000, 240_000));
    const removeMs = appearMs + fadeInMs + stay >= durationMs ? null : appearMs + fadeInMs + stay;
    // Place clear of items whose visible intervals overlap this one's (a circle of the item's length is
    // larger than any rotation of it).
    const radius = item.length * 0.8;
    let x = 0;
    let y = 0;
    for (let attempt = 0; attempt < 80; attempt++) {
      x = Math.round(r.range(radius, width - radius));
      y = Math.round(r.range(radius, height - radius));
      const clash = items.some(
        (o) =>
          intervalsOverlap(o, appearMs, removeMs) && Math.hypot(o.x - x, o.y - y) < radius + o.item.length * 0.8 + 6,
      );
      if (!clash) break;
    }
    const zone = zoneOf(zones, x, y);
    items.push({ id: `item-${String(i + 1).padStart(3, '0')}`, item, x, y, ...(zone ? { zone } : {}), appearMs, removeMs, fadeInMs });
  }
  items.sort((a, b) => a.appearMs - b.appearMs);
  return { version: 1, seed: opts.seed, width, height, durationMs, loop: opts.loop ?? true, background, zones, items };
}

function intervalsOverlap(o: ScriptItem, from: number, to: number | null): boolean {
  const oEnd = o.removeMs ?? Number.POSITIVE_INFINITY;
  const end = to ?? Number.POSITIVE_INFINITY;
  return o.appearMs < end && from < oEnd;
}

/** Script time for a time since the scene started (wraps when the script loops). */
export function scriptTime(s: Scenario, tMs: number): number {
  return s.loop && s.durationMs > 0 ? ((tMs % s.durationMs) + s.durationMs) % s.durationMs : tMs;
}

/** Opacity of an item at script time t: 0 before it appears and from its removal on. */
export function opacityAt(item: ScriptItem, t: number): number {
  if (t < item.appearMs) return 0;
  if (item.removeMs !== null && t >= item.removeMs) return 0;
  const max = item.maxOpacity ?? 1;
  if (item.fadeInMs <= 0) return max;
  return Math.min(1, (t - item.appearMs) / item.fadeInMs) * max;
}
