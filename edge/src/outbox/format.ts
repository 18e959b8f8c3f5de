import { crc32 } from 'node:zlib';
import type { ItemType } from './contract.js';
import { FRAME_OVERHEAD } from './queue.js';

/**
 * On-disk format of the file outbox (docs/outbox.md, "Format").
 *
 * Segment file `seg-<firstId>.log`: an 8-byte header `HTOBSEG\x01`, then frames:
 *   0  u32 LE  CRC-32 (IEEE, as zlib) over bytes 4..end of the frame (one contiguous range: one call)
 *   4  u32 LE  payload length
 *   8  f64 LE  id
 *   16 f64 LE  at (wall-clock ms)
 *   24 u8      class (0..2)
 *   25 u8      type (0 rec, 1 img)
 *   26 u8 0xB7, 27 u8 0x0E   frame marker (lets a scan find the next frame after a corrupt one cheaply)
 *   28 payload
 *
 * Ack file `seg-<firstId>.ack`: entries of u32 LE count, u32 LE CRC-32 over the count and the body, then count
 * u32 LE offsets (id - firstId) of items released or dropped.
 */

export const SEGMENT_MAGIC = Buffer.from('HTOBSEG\x01', 'latin1');
export const HEADER = SEGMENT_MAGIC.length;
const M1 = 0xb7;
const M2 = 0x0e;
/** A length above this is garbage, not a record (an image frame is far smaller). */
export const MAX_PAYLOAD = 64 * 1024 * 1024;

export interface Frame {
  id: number;
  at: number;
  cls: 0 | 1 | 2;
  type: ItemType;
  /** Frame start within the file. */
  off: number;
  /** Payload length. */
  size: number;
}

export function frameCrc(buf: Buffer, off: number, size: number): number {
  return crc32(buf.subarray(off + 4, off + FRAME_OVERHEAD + size));
}

/** Writes one frame at `off` of `buf` (which has room for it). */
export function writeFrame(buf: Buffer, off: number, id: number, at: number, cls: number, type: ItemType, data: Uint8Array): void {
  buf.writeUInt32LE(data.byteLength, off + 4);
  buf.writeDoubleLE(id, off + 8);
  buf.writeDoubleLE(at, off + 16);
  buf[off + 24] = cls;
  buf[off + 25] = type === 'rec' ? 0 : 1;
  buf[off + 26] = M1;
  buf[off + 27] = M2;
  buf.set(data, off + FRAME_OVERHEAD);
  buf.writeUInt32LE(frameCrc(buf, off, data.byteLength), off);
}

/** Payload length of the frame at `off` if it is whole and its CRC holds, else -1. Never throws. */
export function checkFrame(buf: Buffer, off: number, end = buf.length): number {
  if (off < 0 || off + FRAME_OVERHEAD > end) return -1;
  if (buf[off + 26] !== M1 || buf[off + 27] !== M2) return -1;
  if (buf[off + 24]! > 2 || buf[off + 25]! > 1) return -1;
  const size = buf.readUInt32LE(off + 4);
  if (size > MAX_PAYLOAD || off + FRAME_OVERHEAD + size > end) return -1;
  const id = buf.readDoubleLE(off + 8);
  if (!Number.isSafeInteger(id) || id < 1) return -1;
  if (frameCrc(buf, off, size) !== buf.readUInt32LE(off)) return -1;
  return size;
}

/** The frame at `off` if it is whole and its CRC holds, else undefined. Never throws. */
export function readFrame(buf: Buffer, off: number, end = buf.length): Frame | undefined {
  const size = checkFrame(buf, off, end);
  if (size < 0) return undefined;
  const cls = buf[off + 24] as 0 | 1 | 2;
  return { id: buf.readDoubleLE(off + 8), at: buf.readDoubleLE(off + 16), cls, type: buf[off + 25] === 0 ? 'rec' : 'img', off, size };
}

/** Id of the (already checked) frame at `off`. */
export const frameId = (buf: Buffer, off: number): number => buf.readDoubleLE(off + 8);

export interface ScanResult {
  frames: Frame[];
  /** Corrupt regions skipped in the middle: [start, end) byte ranges. */
  skipped: [number, number][];
  /** Where the good data ends: everything after it is a torn or corrupt tail (truncate to here). */
  goodEnd: number;
  headerOk: boolean;
}

/**
 * Reads every good frame of a segment. A frame that fails (length, marker, CRC, or an id not above the
 * previous one) starts a corrupt region: the scan looks byte by byte for the next good frame with a higher id.
 * If there is one, the region in between is skipped (mid-segment corruption); if not, the region is the tail.
 * With `onFrame`, good frames go to it (buffer, offset, payload length) instead of `frames`: opening a day of
 * backlog makes no frame objects.
 */
export function scanSegment(buf: Buffer, onFrame?: (buf: Buffer, off: number, size: number) => void): ScanResult {
  const headerOk = buf.length >= HEADER && buf.subarray(0, HEADER).equals(SEGMENT_MAGIC);
  const frames: Frame[] = [];
  const skipped: [number, number][] = [];
  let off = HEADER;
  let lastId = 0;
  let goodEnd = Math.min(HEADER, buf.length);
  while (off < buf.length) {
    const size = checkFrame(buf, off);
    const id = size < 0 ? 0 : frameId(buf, off);
    if (size >= 0 && id > lastId) {
      if (onFrame) onFrame(buf, off, size);
      else frames.push(readFrame(buf, off)!);
      lastId = id;
      off += FRAME_OVERHEAD + size;
      goodEnd = off;
      continue;
    }
    let next = -1;
    for (let q = buf.indexOf(M1, off + 1); q !== -1; q = buf.indexOf(M1, q + 1)) {
      // The marker sits at +26 of a frame: test the frame that would start 26 bytes earlier.
      const start = q - 26;
      if (start <= off) continue;
      const g = readFrame(buf, start);
      if (g !== undefined && g.id > lastId) {
        next = start;
        break;
      }
    }
    if (next === -1) break;
    skipped.push([off, next]);
    off = next;
  }
  return { frames, skipped, goodEnd, headerOk };
}

export function encodeAcks(offsets: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(8 + 4 * offsets.length);
  buf.writeUInt32LE(offsets.length, 0);
  for (let i = 0; i < offsets.length; i++) buf.writeUInt32LE(offsets[i]!, 8 + 4 * i);
  buf.writeUInt32LE(crc32(buf.subarray(8), crc32(buf.subarray(0, 4))), 4);
  return buf;
}

/** Offsets from an ack file, up to the first torn or corrupt entry; `goodEnd` is where that entry starts. */
export function decodeAcks(buf: Buffer): { offsets: number[]; goodEnd: number } {
  const offsets: number[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const n = buf.readUInt32LE(off);
    const end = off + 8 + 4 * n;
    if (n === 0 || end > buf.length) break;
    if (crc32(buf.subarray(off + 8, end), crc32(buf.subarray(off, off + 4))) !== buf.readUInt32LE(off + 4)) break;
    for (let p = off + 8; p < end; p += 4) offsets.push(buf.readUInt32LE(p));
    off = end;
  }
  return { offsets, goodEnd: off };
}
