import { PROTOCOL_VERSION } from '@hutong/protocols';

/**
 * Builds an `up/batch` message from stored record bytes without re-serialising the records:
 * `{"v":2,"gw":"…","id":"…","recs":[` + items joined by `,` + `]}`.
 */
const enc = new TextEncoder();
const COMMA = enc.encode(',');
const TAIL = enc.encode(']}');

export function batchHead(gw: string, id: string): Uint8Array {
  return enc.encode(`{"v":${PROTOCOL_VERSION},"gw":${JSON.stringify(gw)},"id":${JSON.stringify(id)},"recs":[`);
}

/** Bytes of a batch holding `items` (the sum of their lengths is `itemBytes`). */
export function batchSize(headBytes: number, count: number, itemBytes: number): number {
  return headBytes + itemBytes + Math.max(0, count - 1) + TAIL.length;
}

export function buildBatch(gw: string, id: string, items: readonly Uint8Array[]): Buffer {
  const head = batchHead(gw, id);
  const parts: Uint8Array[] = [head];
  items.forEach((it, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(it);
  });
  parts.push(TAIL);
  return Buffer.concat(parts);
}

/** Batch ids unique per gateway: the boot time in base 36 plus a counter. */
export class BatchIds {
  private n = 0;
  private readonly base: string;
  constructor(bootMs: number = Date.now()) {
    this.base = bootMs.toString(36);
  }
  next(): string {
    this.n += 1;
    return `${this.base}-${this.n.toString(36)}`;
  }
}
