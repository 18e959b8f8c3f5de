/**
 * A loaded scenario: background and sprites rendered once, then any frame and its ground truth at any time.
 * Ground truth is exact: the box of each item is the tight box of its drawn pixels in the frame.
 */
import { type Background, type Box, composite, type Placement, placementBox, renderBackground } from './compose.js';
import { type LitterLabel, renderSprite, type Sprite, variantOf } from './items.js';
import { opacityAt, type Scenario, type ScriptItem, scriptTime } from './scenario.js';

export interface GroundTruthItem {
  id: string;
  label: LitterLabel;
  variant: string;
  zone?: string;
  box: Box;
  /** 0..1 at the queried time (items fading in are below 1). */
  opacity: number;
  /** Visible interval in script time; `removeMs` null = stays. */
  appearMs: number;
  removeMs: number | null;
  fadeInMs: number;
}

export class SceneTimeline {
  private frameBuf: Buffer | undefined;
  private constructor(
    readonly scenario: Scenario,
    private readonly background: Background,
    private readonly sprites: Map<string, Sprite>,
  ) {}

  /** Renders the background and every item's sprite (≈ 1 s for the background on a shared 2-core box). */
  static async load(scenario: Scenario): Promise<SceneTimeline> {
    const sprites = new Map<string, Sprite>();
    const renderSprites = async () => {
      // A few sprites at a time: sharp rasterises on its own threads, so they overlap with each other.
      const items = scenario.items;
      for (let i = 0; i < items.length; i += 8) {
        const batch = items.slice(i, i + 8);
        const done = await Promise.all(batch.map((it) => renderSprite(it.item)));
        for (const [k, it] of batch.entries()) sprites.set(it.id, done[k] as Sprite);
      }
    };
    const [background] = await Promise.all([
      renderBackground(scenario.background, scenario.width, scenario.height),
      renderSprites(),
    ]);
    return new SceneTimeline(scenario, background, sprites);
  }

  get width(): number {
    return this.scenario.width;
  }
  get height(): number {
    return this.scenario.height;
  }

  private placements(tMs: number): { it: ScriptItem; p: Placement }[] {
    const t = scriptTime(this.scenario, tMs);
    const out: { it: ScriptItem; p: Placement }[] = [];
    for (const it of this.scenario.items) {
      const opacity = opacityAt(it, t);
      const sprite = this.sprites.get(it.id);
      if (opacity > 0 && sprite) out.push({ it, p: { sprite, cx: it.x, cy: it.y, opacity } });
    }
    return out;
  }

  /** Items on the ground at `tMs` since the scene started (opacity > 0), with their frame boxes. */
  groundTruthAt(tMs: number): GroundTruthItem[] {
    const out: GroundTruthItem[] = [];
    for (const { it, p } of this.placements(tMs)) {
      const box = placementBox(p, this.width, this.height);
      if (!box) continue;
      out.push({
        id: it.id,
        label: it.item.label,
        variant: variantOf(it.item),
        ...(it.zone ? { zone: it.zone } : {}),
        box,
        opacity: p.opacity,
        appearMs: it.appearMs,
        removeMs: it.removeMs,
        fadeInMs: it.fadeInMs,
      });
    }
    return out;
  }

  /**
   * RGB24 frame at `tMs`. With `reuse`, the returned buffer is overwritten by the next call (the live
   * server writes it to the encoder before rendering the next frame).
   */
  frameAt(tMs: number, reuse = false): Buffer {
    const ps = this.placements(tMs).map((x) => x.p);
    if (!reuse) return composite(this.background, ps);
    this.frameBuf = composite(this.background, ps, this.frameBuf);
    return this.frameBuf;
  }

  /** The frame with no items at all: the reference tests compare item pixels against. */
  backgroundFrame(): Buffer {
    return Buffer.from(this.background.rgb);
  }
}
