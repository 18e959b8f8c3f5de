/**
 * The held-out evaluation set: still frames from this renderer (never from the detector's own training
 * generator), a third of them with no litter, the rest with 1–6 items of all five classes.
 */
import { type Background, type Box, composite, type Placement, placementBox, randomBackground, renderBackground } from './compose.js';
import { type ItemSpec, itemLength, LITTER_LABELS, type LitterLabel, renderSprite, VARIANTS } from './items.js';
import { Rand } from './random.js';

export interface LabelledBox extends Box {
  label: LitterLabel;
}

export interface StillFrame {
  index: number;
  rgb: Buffer;
  width: number;
  height: number;
  boxes: LabelledBox[];
}

export interface StillOptions {
  seed: number;
  count: number;
  width: number;
  height: number;
  /** Every `emptyEvery`-th frame has no litter at all. */
  emptyEvery?: number;
}

export function randomItem(r: Rand, label: LitterLabel): ItemSpec {
  return {
    label,
    length: itemLength(r),
    rotationDeg: Math.round(r.range(0, 360)),
    variant: r.pick(VARIANTS[label]),
    seed: r.seed(),
  };
}

function overlaps(a: Box, b: Box, margin: number): boolean {
  return a.x < b.x + b.w + margin && b.x < a.x + a.w + margin && a.y < b.y + b.h + margin && b.y < a.y + a.h + margin;
}

/** Places sprites fully inside the frame without touching each other; returns the placements that fit. */
export function placeApart(
  r: Rand,
  sprites: { sprite: Placement['sprite']; label: LitterLabel }[],
  width: number,
  height: number,
  taken: Box[] = [],
): { placement: Placement; box: Box; label: LitterLabel }[] {
  const out: { placement: Placement; box: Box; label: LitterLabel }[] = [];
  const boxes = [...taken];
  for (const { sprite, label } of sprites) {
    for (let attempt = 0; attempt < 60; attempt++) {
      const cx = Math.round(r.range(-sprite.dx - sprite.box.x + 2, width - (sprite.dx + sprite.box.x + sprite.box.w) - 2));
      const cy = Math.round(r.range(-sprite.dy - sprite.box.y + 2, height - (sprite.dy + sprite.box.y + sprite.box.h) - 2));
      const placement: Placement = { sprite, cx, cy, opacity: 1 };
      const box = placementBox(placement, width, height);
      if (!box || box.w !== sprite.box.w || box.h !== sprite.box.h) continue;
      if (boxes.some((b) => overlaps(b, box, 6))) continue;
      boxes.push(box);
      out.push({ placement, box, label });
      break;
    }
  }
  return out;
}

export async function* stillFrames(opts: StillOptions): AsyncGenerator<StillFrame> {
  const master = new Rand(opts.seed);
  const emptyEvery = opts.emptyEvery ?? 3;
  // Labels are dealt from a shuffled deck so all five classes stay close to equally common.
  let deck: LitterLabel[] = [];
  const deal = (r: Rand): LitterLabel => {
    if (deck.length === 0) {
      deck = [...LITTER_LABELS, ...LITTER_LABELS];
      for (let i = deck.length - 1; i > 0; i--) {
        const j = r.int(0, i);
        [deck[i], deck[j]] = [deck[j] as LitterLabel, deck[i] as LitterLabel];
      }
    }
    return deck.pop() as LitterLabel;
  };
  for (let index = 0; index < opts.count; index++) {
    const r = new Rand(master.seed());
    const bg: Background = await renderBackground(randomBackground(r.seed(), opts.width, opts.height), opts.width, opts.height);
    const empty = index % emptyEvery === emptyEvery - 1;
    const n = empty ? 0 : r.int(1, 6);
    const sprites = [];
    for (let i = 0; i < n; i++) {
      const label = deal(r);
      sprites.push({ sprite: await renderSprite(randomItem(r, label)), label });
    }
    const placed = placeApart(r, sprites, opts.width, opts.height);
    const rgb = composite(
      bg,
      placed.map((p) => p.placement),
    );
    yield { index, rgb, width: opts.width, height: opts.height, boxes: placed.map((p) => ({ label: p.label, ...p.box })) };
  }
}
