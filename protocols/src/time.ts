/**
 * Timestamps travel as decimal strings of nanoseconds since the epoch (they do not fit a JSON number).
 * The per-device sequence number fills the sub-millisecond digits, so two readings of one device in the
 * same millisecond stay two points in InfluxDB, and a replay of the same reading lands on the same point.
 */
const SUB_MS = 1_000_000n;

/** ns = ms × 1e6 + (seq mod 1e6) */
export function nsTimestamp(ms: number, seq: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`bad ms timestamp ${ms}`);
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`bad sequence ${seq}`);
  const sub = seq % 1_000_000;
  // String concatenation avoids BigInt on the hot path: ms has ≤ 16 digits, the sub part exactly 6.
  return `${ms}${String(sub).padStart(6, '0')}`;
}

export const NS_PATTERN = '^[1-9][0-9]{12,18}$';
const NS_RE = new RegExp(NS_PATTERN);

export function isNsTimestamp(s: unknown): s is string {
  return typeof s === 'string' && NS_RE.test(s);
}

/** The millisecond part of a ns timestamp string. */
export function nsToMs(ns: string): number {
  return Number(ns.slice(0, -6));
}

export function nsToBigInt(ns: string): bigint {
  return BigInt(ns);
}

export function bigIntToNs(v: bigint): string {
  return v.toString();
}

export { SUB_MS };
