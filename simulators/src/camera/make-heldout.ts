/**
 * Regenerates the committed held-out set: `tsx simulators/src/camera/make-heldout.ts [--out DIR] [--seed N] [--count N]`.
 * Same seed, same frames and labels, byte for byte (sharp's JPEG encoder is deterministic).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { stillFrames } from './heldout.js';

export const HELDOUT_SEED = 20261122;

export interface HeldoutLabels {
  generator: string;
  frames: { file: string; width: number; height: number; boxes: { label: string; x: number; y: number; w: number; h: number }[] }[];
}

export async function makeHeldout(out: string, seed: number, count: number, quality = 85): Promise<HeldoutLabels> {
  await mkdir(out, { recursive: true });
  const labels: HeldoutLabels = { generator: `simulators/src/camera (seed ${seed})`, frames: [] };
  for await (const f of stillFrames({ seed, count, width: 1280, height: 720 })) {
    const file = `${String(f.index + 1).padStart(4, '0')}.jpg`;
    const jpg = await sharp(f.rgb, { raw: { width: f.width, height: f.height, channels: 3 } })
      .jpeg({ quality, chromaSubsampling: '4:2:0' })
      .toBuffer();
    await writeFile(join(out, file), jpg);
    labels.frames.push({
      file,
      width: f.width,
      height: f.height,
      boxes: f.boxes.map((b) => ({ label: b.label, x: b.x, y: b.y, w: b.w, h: b.h })),
    });
  }
  await writeFile(join(out, 'labels.json'), `${JSON.stringify(labels, null, 1)}\n`);
  return labels;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: resolve(import.meta.dirname, '../../../edge/models/heldout') },
      seed: { type: 'string', default: String(HELDOUT_SEED) },
      count: { type: 'string', default: '150' },
    },
  });
  const labels = await makeHeldout(values.out, Number(values.seed), Number(values.count));
  const boxes = labels.frames.flatMap((f) => f.boxes);
  const empty = labels.frames.filter((f) => f.boxes.length === 0).length;
  process.stdout.write(`wrote ${labels.frames.length} frames (${empty} without litter, ${boxes.length} boxes) to ${values.out}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
