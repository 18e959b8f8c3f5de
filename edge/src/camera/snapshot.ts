import sharp from 'sharp';
import { type Polygon, pointInPolygon } from './geometry.js';

/**
 * The opt-in full frame (sendFullFrame): downscaled to `width`, masked regions painted black BEFORE encoding, so
 * what the masks hide never leaves the site, not even in the JPEG's low bits.
 */
export async function maskedFullFrame(rgb: Uint8Array, fw: number, fh: number, masks: readonly Polygon[], width: number): Promise<Uint8Array> {
  const w = Math.min(width, fw);
  const h = Math.max(1, Math.round((fh * w) / fw));
  const small = await sharp(rgb, { raw: { width: fw, height: fh, channels: 3 } })
    .resize(w, h, { fit: 'fill' })
    .raw()
    .toBuffer();
  const sx = fw / w;
  const sy = fh / h;
  for (const poly of masks) {
    let minX = Number.POSITIVE_INFINITY;
    let minY = Number.POSITIVE_INFINITY;
    let maxX = 0;
    let maxY = 0;
    for (const [x, y] of poly) {
      minX = Math.min(minX, x);
      minY = Math.min(minY, y);
      maxX = Math.max(maxX, x);
      maxY = Math.max(maxY, y);
    }
    // A pixel is blacked out when any part of it touches the mask: test its corners and centre.
    const x0 = Math.max(0, Math.floor(minX / sx) - 1);
    const x1 = Math.min(w - 1, Math.ceil(maxX / sx) + 1);
    const y0 = Math.max(0, Math.floor(minY / sy) - 1);
    const y1 = Math.min(h - 1, Math.ceil(maxY / sy) + 1);
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const hit =
          pointInPolygon((x + 0.5) * sx, (y + 0.5) * sy, poly) ||
          pointInPolygon(x * sx, y * sy, poly) ||
          pointInPolygon((x + 1) * sx, y * sy, poly) ||
          pointInPolygon(x * sx, (y + 1) * sy, poly) ||
          pointInPolygon((x + 1) * sx, (y + 1) * sy, poly);
        if (hit) small.fill(0, (y * w + x) * 3, (y * w + x) * 3 + 3);
      }
    }
  }
  const jpeg = await sharp(small, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
  return new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength);
}
