import { nsTimestamp } from '@hutong/protocols';
import type { ProvisionalStamp } from './synced-stamper.js';

/**
 * Byte form of a record stored before the clock was synced: `P` + header JSON + `\n` + record JSON. A final
 * record is its JSON text alone (it starts with `{`), so the uplink can tell them apart by the first byte.
 */
const P = 0x50; // 'P'
const NL = 0x0a;
const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeProvisional(p: ProvisionalStamp, recJson: string): Uint8Array {
  return enc.encode(`P${JSON.stringify({ b: p.boot, m: p.mono, q: p.seq })}\n${recJson}`);
}

export function isProvisional(data: Uint8Array): boolean {
  return data[0] === P;
}

/** The record's JSON bytes of a stored item, without a provisional header (for reading records back). */
export function recordBytes(data: Uint8Array): Uint8Array {
  return isProvisional(data) ? data.subarray(data.indexOf(NL) + 1) : data;
}

/**
 * The record bytes to send for a stored item: final items as they are; provisional ones restamped with
 * `finalMs(stamp)`, or sent with their provisional stamp when `finalMs` cannot tell (another boot).
 */
export function finalRecordBytes(
  data: Uint8Array,
  finalMs: (p: ProvisionalStamp) => number | undefined,
): { bytes: Uint8Array; restamped: boolean; unknownBoot: boolean } {
  if (!isProvisional(data)) return { bytes: data, restamped: false, unknownBoot: false };
  const nl = data.indexOf(NL);
  const head = JSON.parse(dec.decode(data.subarray(1, nl))) as { b: string; m: number; q: number };
  const body = data.subarray(nl + 1);
  const ms = finalMs({ boot: head.b, mono: head.m, seq: head.q });
  if (ms === undefined) return { bytes: body, restamped: false, unknownBoot: true };
  const rec = JSON.parse(dec.decode(body)) as { ts: string };
  rec.ts = nsTimestamp(ms, head.q);
  return { bytes: enc.encode(JSON.stringify(rec)), restamped: true, unknownBoot: false };
}
