import { describe, expect, it } from 'vitest';
import { PacketSizeGuard } from '../src/broker/packet-guard.js';

const header = (type: number, len: number): number[] => {
  const out = [type];
  let x = len;
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    out.push(b);
  } while (x > 0);
  return out;
};

describe('MQTT packet size guard', () => {
  it('skips packets within the limit, across chunk boundaries', () => {
    const g = new PacketSizeGuard(1000);
    const p1 = [...header(0x30, 300), ...new Array(300).fill(7)];
    const p2 = [...header(0x32, 1000), ...new Array(1000).fill(1)];
    const all = Uint8Array.from([...p1, ...p2, ...p1]);
    for (let i = 0; i < all.length; i += 97) expect(g.feed(all.subarray(i, i + 97))).toBeUndefined();
  });

  it('reports a declared length over the limit as soon as the header arrives', () => {
    const g = new PacketSizeGuard(1000);
    expect(g.feed(Uint8Array.from([...header(0x30, 10), ...new Array(10).fill(0)]))).toBeUndefined();
    const big = header(0x30, 200_000_000);
    expect(g.feed(Uint8Array.from(big.slice(0, 2)))).toBeUndefined(); // one length byte: at most 127 so far
    // refused as soon as the length read so far passes the limit, without waiting for the rest of the header
    expect(g.feed(Uint8Array.from(big.slice(2)))).toBeGreaterThan(1000);
  });

  it('handles a header split between chunks and zero-length packets (PINGREQ)', () => {
    const g = new PacketSizeGuard(100);
    expect(g.feed(Uint8Array.from([0xc0, 0x00, 0xc0]))).toBeUndefined();
    expect(g.feed(Uint8Array.from([0x00]))).toBeUndefined();
    expect(g.feed(Uint8Array.from([0x30, 0xff]))).toBe(127);
  });
});
