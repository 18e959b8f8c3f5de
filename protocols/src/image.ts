/**
 * `up/image`: a snapshot crop travels as one binary MQTT message on the same uplink as batches (same TLS,
 * credentials, ACL, outbox and end-to-end ack) instead of a second HTTP upload path. Frame layout:
 *   "HTI1" | uint32 BE header length | UTF-8 JSON header | image bytes
 * The header names the batch id used for the ack and the sha256 the litter record references.
 * Limits.imageBytes bounds the whole frame. Works on Uint8Array only (no Node imports).
 */
import { type Static, Type } from '@sinclair/typebox';
import { Id } from './records.js';
import { compile } from './validate.js';

export const ImageHeader = Type.Object(
  {
    v: Type.Integer(),
    gw: Id,
    id: Id,
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    type: Type.Union([Type.Literal('image/jpeg')]),
    camera: Id,
    ev: Type.Optional(Id),
    full: Type.Optional(Type.Boolean({ description: 'a masked, downscaled full frame (camera opted in)' })),
  },
  { additionalProperties: false },
);
export type ImageHeader = Static<typeof ImageHeader>;
export const imageHeader = compile(ImageHeader);

const MAGIC = [0x48, 0x54, 0x49, 0x31]; // "HTI1"

export function encodeImage(header: ImageHeader, body: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + body.length);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, h.length);
  out.set(h, 8);
  out.set(body, 8 + h.length);
  return out;
}

export type DecodedImage = { ok: true; header: unknown; body: Uint8Array } | { ok: false; reason: string };

/** Splits a frame; the header still has to be validated with `imageHeader`. */
export function decodeImage(frame: Uint8Array): DecodedImage {
  if (frame.length < 8 || MAGIC.some((b, i) => frame[i] !== b)) return { ok: false, reason: 'bad magic' };
  const len = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(4);
  if (len > 4096 || 8 + len > frame.length) return { ok: false, reason: 'bad header length' };
  try {
    const header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(frame.subarray(8, 8 + len)));
    return { ok: true, header, body: frame.subarray(8 + len) };
  } catch {
    return { ok: false, reason: 'header is not JSON' };
  }
}
