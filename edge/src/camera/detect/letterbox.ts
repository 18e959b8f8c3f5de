/**
 * Letterbox from a raw RGB24 frame (ffmpeg `-pix_fmt rgb24`, HWC uint8) straight into the model's CHW float32
 * tensor: aspect kept, image centred, padding grey 114 (the value YOLO-style exports are trained with).
 * Hand-written bilinear sampling (half-pixel centres, as PIL/OpenCV) instead of sharp: from raw RGB it avoids an
 * encode/decode round trip and a second HWC→CHW pass.
 */
export interface Letterbox {
  /** frame px → input px: x_in = x * scale + padX */
  scale: number;
  padX: number;
  padY: number;
}

const PAD = 114 / 255;

export function letterboxGeometry(srcW: number, srcH: number, dstW: number, dstH: number): Letterbox & { nw: number; nh: number } {
  const scale = Math.min(dstW / srcW, dstH / srcH);
  const nw = Math.round(srcW * scale);
  const nh = Math.round(srcH * scale);
  return { scale, nw, nh, padX: Math.floor((dstW - nw) / 2), padY: Math.floor((dstH - nh) / 2) };
}

/**
 * Writes the letterboxed frame into `out` (length 3·dstW·dstH, planes R, G, B) and returns the mapping.
 * At the usual 2× shrink (1280×720 → 640×360) bilinear at half-pixel centres is exactly a 2×2 average; a frame that
 * already fits (1280×720 into a 1280×768 input) is copied and padded.
 */
export function letterboxRgb(
  rgb: Uint8Array,
  srcW: number,
  srcH: number,
  dstW: number,
  dstH: number,
  out: Float32Array = new Float32Array(3 * dstW * dstH),
): { tensor: Float32Array; box: Letterbox } {
  if (rgb.length < srcW * srcH * 3) throw new RangeError(`frame has ${rgb.length} bytes, expected ${srcW * srcH * 3}`);
  const g = letterboxGeometry(srcW, srcH, dstW, dstH);
  const plane = dstW * dstH;
  out.fill(PAD);
  if (g.nw * 2 === srcW && g.nh * 2 === srcH) {
    halve(rgb, srcW, g.nw, g.nh, dstW, g.padX, g.padY, plane, out);
    return { tensor: out, box: { scale: g.scale, padX: g.padX, padY: g.padY } };
  }
  if (g.nw === srcW && g.nh === srcH) {
    copy(rgb, srcW, srcH, dstW, g.padX, g.padY, plane, out);
    return { tensor: out, box: { scale: g.scale, padX: g.padX, padY: g.padY } };
  }
  const inv = 1 / g.scale;
  // Precompute horizontal taps once per call: source columns and weights for every output column.
  const x0s = new Int32Array(g.nw);
  const x1s = new Int32Array(g.nw);
  const wxs = new Float32Array(g.nw);
  for (let x = 0; x < g.nw; x++) {
    let sx = (x + 0.5) * inv - 0.5;
    if (sx < 0) sx = 0;
    let x0 = Math.floor(sx);
    if (x0 > srcW - 1) x0 = srcW - 1;
    const x1 = x0 + 1 < srcW ? x0 + 1 : x0;
    x0s[x] = x0 * 3;
    x1s[x] = x1 * 3;
    wxs[x] = sx - x0;
  }
  const k = 1 / 255;
  for (let y = 0; y < g.nh; y++) {
    let sy = (y + 0.5) * inv - 0.5;
    if (sy < 0) sy = 0;
    let y0 = Math.floor(sy);
    if (y0 > srcH - 1) y0 = srcH - 1;
    const y1 = y0 + 1 < srcH ? y0 + 1 : y0;
    const wy = sy - y0;
    const r0 = y0 * srcW * 3;
    const r1 = y1 * srcW * 3;
    let o = (y + g.padY) * dstW + g.padX;
    for (let x = 0; x < g.nw; x++, o++) {
      const a = r0 + (x0s[x] as number);
      const b = r0 + (x1s[x] as number);
      const c = r1 + (x0s[x] as number);
      const d = r1 + (x1s[x] as number);
      const wx = wxs[x] as number;
      const w00 = (1 - wx) * (1 - wy) * k;
      const w01 = wx * (1 - wy) * k;
      const w10 = (1 - wx) * wy * k;
      const w11 = wx * wy * k;
      out[o] = (rgb[a] as number) * w00 + (rgb[b] as number) * w01 + (rgb[c] as number) * w10 + (rgb[d] as number) * w11;
      out[o + plane] =
        (rgb[a + 1] as number) * w00 + (rgb[b + 1] as number) * w01 + (rgb[c + 1] as number) * w10 + (rgb[d + 1] as number) * w11;
      out[o + 2 * plane] =
        (rgb[a + 2] as number) * w00 + (rgb[b + 2] as number) * w01 + (rgb[c + 2] as number) * w10 + (rgb[d + 2] as number) * w11;
    }
  }
  return { tensor: out, box: { scale: g.scale, padX: g.padX, padY: g.padY } };
}

/** The common 2× case (1280×720 → 640×360): bilinear at half-pixel centres is the 2×2 mean; about twice as fast. */
function halve(rgb: Uint8Array, srcW: number, nw: number, nh: number, dstW: number, padX: number, padY: number, plane: number, out: Float32Array): void {
  const stride = srcW * 3;
  const k = 1 / (4 * 255);
  const p2 = 2 * plane;
  for (let y = 0; y < nh; y++) {
    let a = 2 * y * stride;
    let b = a + stride;
    let o = (y + padY) * dstW + padX;
    for (let x = 0; x < nw; x++, o++, a += 6, b += 6) {
      out[o] = ((rgb[a] as number) + (rgb[a + 3] as number) + (rgb[b] as number) + (rgb[b + 3] as number)) * k;
      out[o + plane] = ((rgb[a + 1] as number) + (rgb[a + 4] as number) + (rgb[b + 1] as number) + (rgb[b + 4] as number)) * k;
      out[o + p2] = ((rgb[a + 2] as number) + (rgb[a + 5] as number) + (rgb[b + 2] as number) + (rgb[b + 5] as number)) * k;
    }
  }
}

/** A frame at the input's scale (1280×720 into 1280×768): HWC bytes to CHW floats, no resampling. */
function copy(rgb: Uint8Array, w: number, h: number, dstW: number, padX: number, padY: number, plane: number, out: Float32Array): void {
  const k = 1 / 255;
  const p2 = 2 * plane;
  for (let y = 0; y < h; y++) {
    let a = y * w * 3;
    let o = (y + padY) * dstW + padX;
    for (let x = 0; x < w; x++, o++, a += 3) {
      out[o] = (rgb[a] as number) * k;
      out[o + plane] = (rgb[a + 1] as number) * k;
      out[o + p2] = (rgb[a + 2] as number) * k;
    }
  }
}
