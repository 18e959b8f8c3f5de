import { describe, expect, it } from 'vitest';
import { FlvAvcReader, parseAvcC, type AvcConfig, type AvcFrame } from '../src/camera/flv.js';
import { fragmentAccessUnit, interleaved, profileLevelId, rtpHeader } from '../src/camera/rtp.js';

const nal = (type: number, len: number, nri = 3) => {
  const b = Buffer.alloc(len);
  b[0] = (nri << 5) | type;
  for (let i = 1; i < len; i++) b[i] = (i * 7) & 0xff;
  return b;
};

describe('RFC 6184 packetising', () => {
  it('sends small NAL units whole and splits large ones into FU-A that reassemble exactly', () => {
    const sps = nal(7, 20);
    const idr = nal(5, 5000);
    const out = fragmentAccessUnit([sps, idr], 1400);
    expect(out[0]).toEqual({ payload: sps, marker: false });
    const fus = out.slice(1);
    expect(fus.length).toBe(Math.ceil((5000 - 1) / 1398));
    for (const f of fus) {
      expect(f.payload.length).toBeLessThanOrEqual(1400);
      expect((f.payload[0] as number) & 0x1f).toBe(28);
      expect((f.payload[0] as number) & 0xe0).toBe(0x60); // NRI kept
      expect((f.payload[1] as number) & 0x1f).toBe(5);
    }
    expect((fus[0]!.payload[1] as number) & 0xc0).toBe(0x80); // S
    expect((fus.at(-1)!.payload[1] as number) & 0xc0).toBe(0x40); // E
    expect(fus.slice(1, -1).every((f) => ((f.payload[1] as number) & 0xc0) === 0)).toBe(true);
    // Only the last packet of the access unit carries the marker.
    expect(out.map((p) => p.marker).filter(Boolean).length).toBe(1);
    expect(out.at(-1)!.marker).toBe(true);
    const rebuilt = Buffer.concat([Buffer.from([((fus[0]!.payload[0] as number) & 0xe0) | 5]), ...fus.map((f) => f.payload.subarray(2))]);
    expect(rebuilt.equals(idr)).toBe(true);
  });

  it('writes RTP headers and RTSP interleaved frames', () => {
    const h = rtpHeader(0x1_0005, 0x1_0000_0002, 0xdeadbeef, true);
    expect([...h]).toEqual([0x80, 0x80 | 96, 0x00, 0x05, 0, 0, 0, 2, 0xde, 0xad, 0xbe, 0xef]);
    const f = interleaved(2, h, Buffer.from([9, 9]));
    expect([...f.subarray(0, 4)]).toEqual([0x24, 2, 0, 14]);
    expect(profileLevelId(Buffer.from([0x67, 0x42, 0xc0, 0x1f]))).toBe('42c01f');
  });
});

describe('FLV reader', () => {
  const sps = Buffer.from([0x67, 0x42, 0xc0, 0x1f, 0xaa]);
  const pps = Buffer.from([0x68, 0xce, 0x3c, 0x80]);
  const avcc = Buffer.concat([Buffer.from([1, 0x42, 0xc0, 0x1f, 0xff, 0xe1, 0, sps.length]), sps, Buffer.from([1, 0, pps.length]), pps]);
  const tag = (type: number, ms: number, data: Buffer) => {
    const h = Buffer.alloc(11);
    h[0] = type;
    h.writeUIntBE(data.length, 1, 3);
    h.writeUIntBE(ms & 0xffffff, 4, 3);
    const prev = Buffer.alloc(4);
    prev.writeUInt32BE(11 + data.length);
    return Buffer.concat([h, data, prev]);
  };
  const video = (key: boolean, packetType: number, body: Buffer) => Buffer.concat([Buffer.from([(key ? 0x10 : 0x20) | 7, packetType, 0, 0, 0]), body]);
  const lp = (n: Buffer) => {
    const l = Buffer.alloc(4);
    l.writeUInt32BE(n.length);
    return Buffer.concat([l, n]);
  };

  it('parses the decoder configuration and frames, whatever the chunking', () => {
    const idr = nal(5, 300);
    const p = nal(1, 120, 2);
    const stream = Buffer.concat([
      Buffer.from('FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00', 'latin1'),
      tag(18, 0, Buffer.from('metadata')),
      tag(9, 0, video(true, 0, avcc)),
      tag(9, 0, video(true, 1, Buffer.concat([lp(nal(6, 10)), lp(idr)]))),
      tag(9, 500, video(false, 1, lp(p))),
    ]);
    expect(parseAvcC(avcc)).toEqual({ sps, pps, lengthSize: 4 });
    for (const step of [stream.length, 1, 7, 100]) {
      const configs: AvcConfig[] = [];
      const frames: AvcFrame[] = [];
      const r = new FlvAvcReader(
        (c) => configs.push(c),
        (f) => frames.push(f),
      );
      for (let i = 0; i < stream.length; i += step) r.push(stream.subarray(i, i + step));
      expect(configs).toEqual([{ sps, pps, lengthSize: 4 }]);
      expect(frames.map((f) => [f.key, f.ms, f.nals.length])).toEqual([
        [true, 0, 2],
        [false, 500, 1],
      ]);
      expect(frames[0]!.nals[1]!.equals(idr)).toBe(true);
      expect(frames[1]!.nals[0]!.equals(p)).toBe(true);
    }
  });
});
