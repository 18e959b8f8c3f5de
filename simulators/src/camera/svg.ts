import sharp from 'sharp';

/** Numbers in SVG text: two decimals is finer than a pixel and keeps the markup short. */
export function n(x: number): string {
  return String(Math.round(x * 100) / 100);
}

export function hsl(h: number, s: number, l: number, a = 1): string {
  const hh = ((h % 360) + 360) % 360;
  const ss = Math.max(0, Math.min(100, s));
  const ll = Math.max(0, Math.min(100, l));
  return a >= 1 ? `hsl(${n(hh)},${n(ss)}%,${n(ll)}%)` : `hsla(${n(hh)},${n(ss)}%,${n(ll)}%,${n(a)})`;
}

export function svgDoc(width: number, height: number, defs: string, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<defs>${defs}</defs>${body}</svg>`
  );
}

export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** Rasterises SVG with sharp (librsvg) to raw RGBA, or RGB when `opaque`. */
export async function rasterise(svg: string, opaque = false): Promise<RawImage> {
  let img = sharp(Buffer.from(svg));
  img = opaque ? img.removeAlpha() : img.ensureAlpha();
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels === 4 ? 4 : 3 };
}

/** A smooth closed path through the points (Catmull-Rom turned into cubic Béziers). */
export function smoothClosedPath(pts: readonly (readonly [number, number])[]): string {
  const k = pts.length;
  const at = (i: number) => pts[((i % k) + k) % k] as readonly [number, number];
  let d = `M${n(at(0)[0])},${n(at(0)[1])}`;
  for (let i = 0; i < k; i++) {
    const p0 = at(i - 1);
    const p1 = at(i);
    const p2 = at(i + 1);
    const p3 = at(i + 2);
    const c1x = p1[0] + (p2[0] - p0[0]) / 6;
    const c1y = p1[1] + (p2[1] - p0[1]) / 6;
    const c2x = p2[0] - (p3[0] - p1[0]) / 6;
    const c2y = p2[1] - (p3[1] - p1[1]) / 6;
    d += `C${n(c1x)},${n(c1y)} ${n(c2x)},${n(c2y)} ${n(p2[0])},${n(p2[1])}`;
  }
  return `${d}Z`;
}

export function polygonPath(pts: readonly (readonly [number, number])[]): string {
  return pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${n(p[0])},${n(p[1])}`).join('') + 'Z';
}
