/** Polygons (zones, masks) and boxes in frame pixels. */
export type Point = [number, number];
export type Polygon = Point[];

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Even-odd ray casting. */
export function pointInPolygon(px: number, py: number, poly: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i] as Point;
    const [xj, yj] = poly[j] as Point;
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * Rasterises polygons (given in frame px) onto a w×h grid that covers the frame at `sx`, `sy` frame px per cell:
 * a cell is set when its centre is inside any polygon.
 */
export function rasterise(polys: readonly Polygon[], w: number, h: number, sx: number, sy: number): Uint8Array {
  const out = new Uint8Array(w * h);
  for (const poly of polys) {
    if (poly.length < 3) continue;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) if (pointInPolygon((x + 0.5) * sx, (y + 0.5) * sy, poly)) out[y * w + x] = 1;
    }
  }
  return out;
}

export function iou(a: Box, b: Box): number {
  const iw = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const ih = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / (a.w * a.h + b.w * b.h - inter);
}

export function centre(b: Box): Point {
  return [b.x + b.w / 2, b.y + b.h / 2];
}
