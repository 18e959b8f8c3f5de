import { describe, expect, it } from 'vitest';
import {
  checkRecord,
  decodeImage,
  encodeImage,
  gatewayMayPublish,
  gatewayMaySubscribe,
  nsTimestamp,
  formatPassLine,
  parsePassLine,
  parseScanLine,
  parseTopic,
  PROTOCOL_VERSION,
  PREVIOUS_VERSION,
  toV1,
  uplinkTopic,
  type ParkRecord,
} from '../src/index.js';

describe('topics', () => {
  it('round-trips uplink topics and refuses foreign prefixes', () => {
    const t = uplinkTopic('gw-1', 'batch');
    expect(t).toBe('hutong/gw/gw-1/up/batch');
    expect(parseTopic(t)).toEqual({ kind: 'up', gw: 'gw-1', channel: 'batch' });
    expect(gatewayMayPublish('gw-1', t)).toBe(true);
    expect(gatewayMayPublish('gw-2', t)).toBe(false);
    expect(gatewayMayPublish('gw-1', 'hutong/gw/gw-1/down/ack')).toBe(false);
    expect(gatewayMayPublish('gw-1', 'hutong/gw/gw-1/up/batch/extra')).toBe(false);
    expect(gatewayMaySubscribe('gw-1', 'hutong/gw/gw-1/down/#')).toBe(true);
    expect(gatewayMaySubscribe('gw-1', 'hutong/gw/+/down/#')).toBe(false);
    expect(() => uplinkTopic('gw/+', 'batch')).toThrow();
  });
});

describe('timestamps', () => {
  it('puts the per-device sequence in the sub-millisecond digits', () => {
    expect(nsTimestamp(1_700_000_000_123, 7)).toBe('1700000000123000007');
    expect(nsTimestamp(1_700_000_000_123, 1_000_001)).toBe('1700000000123000001');
    expect(nsTimestamp(1_700_000_000_123, 7)).not.toBe(nsTimestamp(1_700_000_000_123, 8));
  });
});

describe('records', () => {
  const rec: ParkRecord = { k: 'park', d: 's-1', ts: nsTimestamp(1_700_000_000_000, 1), lot: 'A', space: 'A-001', occ: true, bat: 80 };
  it('accepts a current record and upgrades the previous version', () => {
    expect(checkRecord(rec, PROTOCOL_VERSION)).toEqual({ ok: true, rec });
    expect(checkRecord(toV1(rec), PREVIOUS_VERSION)).toEqual({ ok: true, rec });
  });
  it('rejects wrong schema with its path', () => {
    const bad = checkRecord({ ...rec, occ: 'yes' }, PROTOCOL_VERSION);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues.some((i) => i.path === '/occ')).toBe(true);
    expect(checkRecord({ ...rec, extra: 1 }, PROTOCOL_VERSION).ok).toBe(false);
    expect(checkRecord({ ...rec, k: 'nope' }, PROTOCOL_VERSION).ok).toBe(false);
    expect(checkRecord(rec, PREVIOUS_VERSION).ok).toBe(false);
  });
});

describe('images', () => {
  it('frames a header and a body and refuses garbage', () => {
    const body = new Uint8Array([1, 2, 3]);
    const f = encodeImage({ v: 2, gw: 'g', id: 'b1', sha256: 'a'.repeat(64), type: 'image/jpeg', camera: 'c1' }, body);
    const d = decodeImage(f);
    expect(d.ok && Array.from(d.body)).toEqual([1, 2, 3]);
    expect(decodeImage(new Uint8Array([1, 2, 3])).ok).toBe(false);
  });
});

describe('device lines', () => {
  it('parses scanner and reader lines', () => {
    expect(parseScanLine('BIN-0001;crew=c7;kg=12.5;grade=4')).toEqual({ code: 'BIN-0001', crew: 'c7', kg: 12.5, grade: 4 });
    expect(parseScanLine('BIN-1;bogus=1')).toBeNull();
    expect(parseScanLine('')).toBeNull();
    expect(parsePassLine('out ABC')).toEqual({ dir: 'out', code: 'ABC' });
    expect(parsePassLine('in HT:A B;rid=42')).toEqual({ dir: 'in', code: 'HT:A B', rid: 42 });
    expect(parsePassLine('HT:AB;rid=0')).toEqual({ code: 'HT:AB', rid: 0 });
    expect(parsePassLine('HT:AB;rid=9999999999')).toBeNull(); // above uint32
    expect(parsePassLine(formatPassLine({ dir: 'out', code: 'HT:X', rid: 7 }))).toEqual({ dir: 'out', code: 'HT:X', rid: 7 });
  });
});

import { Type } from '@sinclair/typebox';
import { checkConfig } from '../src/index.js';

describe('config checking', () => {
  const S = Type.Object(
    { port: Type.Integer({ minimum: 1, maximum: 65535, default: 1883 }), id: Type.String({ minLength: 1 }) },
    { additionalProperties: false },
  );
  it('applies defaults and lists every error at once', () => {
    expect(checkConfig(S, { id: 'x' })).toEqual({ ok: true, value: { port: 1883, id: 'x' } });
    const r = checkConfig(S, { port: 0, idd: 'typo' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      const paths = r.issues.map((i) => i.path);
      expect(paths).toContain('/port');
      expect(paths).toContain('/id');
      expect(paths.some((p) => p === '/idd' || p === '/')).toBe(true);
    }
  });
});

import fs from 'node:fs';
import { ErrorCodes } from '../src/index.js';

describe('error catalogue', () => {
  it('is documented in docs/errors.md, every code', () => {
    const doc = fs.readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const missing = Object.keys(ErrorCodes).filter((c) => !doc.includes(`\`${c}\``));
    expect(missing).toEqual([]);
  });
});
