import { type HutongRecord, RECORD_KINDS, checkRecord } from '@hutong/protocols';
import { describe, expect, it } from 'vitest';
import { BOUNDED_TAG_KEYS, LineBuffer, RP_OF_KIND } from '../src/influx/lines.js';

const TS = '1795350000000000007';

/** One valid record of every kind, with every optional field set. */
const SAMPLES: Record<HutongRecord['k'], HutongRecord> = {
  scan: { k: 'scan', d: 'sc1', ts: TS, bin: 'B-0001', cat: 'kitchen', crew: 'crew-7', kg: 12.5, grade: 4 },
  park: { k: 'park', d: 'ps-001', ts: TS, lot: 'north', space: 'N-001', occ: true, bat: 87, rssi: -71.5, fc: 4_294_967_295 },
  lot: { k: 'lot', d: 'gw1', ts: TS, lot: 'north', free: 10, occupied: 280, unknown: 10 },
  gate: { k: 'gate', d: 'rd1', ts: TS, gate: 'east', dir: 'in', res: 'deny', reason: 'revoked', holder: 'h-9f3a', ms: 3.25 },
  litter: { k: 'litter', d: 'cam1', ts: TS, ev: 'ev-123', zone: 'lawn', label: 'bottle', conf: 0.91, box: [10, 20, 30.5, 40], img: 'a'.repeat(64) },
  health: { k: 'health', d: 'cam1', ts: TS, kind: 'camera', online: false, bat: 50, rssi: -80, fps: 2, inferMs: 71.2 },
  gwstats: {
    k: 'gwstats',
    d: 'gw1',
    ts: TS,
    cpu: 12.5,
    rssMb: 140,
    diskFreeMb: 10_000,
    obDepth: 3,
    obOldestS: 1.5,
    obDropped: 0,
    uplink: true,
    clockOffsetMs: -3,
    counters: { 'mqtt.reconnects': 2 },
  },
  state: { k: 'state', d: 'gw1', ts: TS, type: 'zone_dirty', subject: 'lawn', grid: 'g-12', detail: 'seen by cam1' },
};

/** Splits one line into measurement, tags, fields and timestamp, honouring escapes and quoted strings. */
function parseLine(line: string) {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length) {
      cur += c + line[i + 1];
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ' ' && !quoted) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  const [head = '', fields = '', ts = ''] = parts;
  const split = (s: string, sep: string) => s.split(new RegExp(`(?<!\\\\)${sep}`));
  const [measurement, ...tagPairs] = split(head, ',');
  const tags = Object.fromEntries(tagPairs.map((p) => split(p, '=') as [string, string]));
  const fieldMap = Object.fromEntries(
    split(fields, ',(?=(?:[^"]*"[^"]*")*[^"]*$)').map((p) => {
      const i = p.search(/(?<!\\)=/);
      return [p.slice(0, i), p.slice(i + 1)];
    }),
  );
  return { measurement, tags, fields: fieldMap, ts, parts: parts.length };
}

function encode(gw: string, r: HutongRecord): string {
  const lb = new LineBuffer(8); // tiny on purpose: exercises growth
  lb.record(gw, r);
  return lb.toString();
}

describe('line protocol', () => {
  it('has a sample of every record kind, each one valid', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual([...RECORD_KINDS].sort());
    for (const r of Object.values(SAMPLES)) expect(checkRecord(r, 2).ok).toBe(true);
  });

  it('maps every kind as documented', () => {
    const expected: Record<string, string> = {
      scan: 'scan,bin=B-0001,category=kitchen,d=sc1,gw=gw1 n=1i,crew="crew-7",kg=12.5,grade=4i 1795350000000000007\n',
      park: 'park,d=ps-001,gw=gw1,lot=north,space=N-001 occ=t,bat=87,rssi=-71.5,fc=4294967295i 1795350000000000007\n',
      lot: 'lot,d=gw1,gw=gw1,lot=north free=10i,occupied=280i,unknown=10i 1795350000000000007\n',
      gate: 'gate,d=rd1,dir=in,gate=east,gw=gw1,reason=revoked,res=deny ms=3.25,holder="h-9f3a" 1795350000000000007\n',
      litter: `litter,camera=cam1,gw=gw1,label=bottle,zone=lawn ev="ev-123",conf=0.91,x=10,y=20,w=30.5,h=40,img="${'a'.repeat(64)}" 1795350000000000007\n`,
      health: 'health,d=cam1,gw=gw1,kind=camera online=f,bat=50,rssi=-80,fps=2,inferMs=71.2 1795350000000000007\n',
      gwstats:
        'gwstats,d=gw1,gw=gw1 cpu=12.5,rssMb=140,diskFreeMb=10000,obDepth=3i,obOldestS=1.5,obDropped=0i,uplink=t,clockOffsetMs=-3,c.mqtt.reconnects=2 1795350000000000007\n',
      state: 'state,d=gw1,grid=g-12,gw=gw1,subject=lawn,type=zone_dirty n=1i,detail="seen by cam1" 1795350000000000007\n',
    };
    for (const k of RECORD_KINDS) expect(encode('gw1', SAMPLES[k])).toBe(expected[k]);
  });

  it('writes only required fields when optional ones are absent', () => {
    expect(encode('gw1', { k: 'scan', d: 'sc1', ts: TS, bin: 'B1', cat: 'other' })).toBe('scan,bin=B1,category=other,d=sc1,gw=gw1 n=1i 1795350000000000007\n');
    expect(encode('gw1', { k: 'state', d: 'gw1', ts: TS, type: 'device_silent', subject: 'ps-1' })).toBe(
      'state,d=gw1,gw=gw1,subject=ps-1,type=device_silent n=1i 1795350000000000007\n',
    );
  });

  it('uses only bounded tag keys, sorted, and keeps ids of people, events and images out of tags', () => {
    for (const k of RECORD_KINDS) {
      const p = parseLine(encode('gw1', SAMPLES[k]).trimEnd());
      expect(p.parts).toBe(3);
      expect(p.ts).toBe(TS);
      const keys = Object.keys(p.tags);
      for (const key of keys) expect(BOUNDED_TAG_KEYS.has(key), `${k}: tag ${key}`).toBe(true);
      expect(keys).toEqual([...keys].sort());
      for (const unbounded of ['holder', 'crew', 'ev', 'img', 'id', 'batch']) expect(keys).not.toContain(unbounded);
    }
    expect(parseLine(encode('gw1', SAMPLES.gate).trimEnd()).fields.holder).toBe('"h-9f3a"');
    expect(parseLine(encode('gw1', SAMPLES.scan).trimEnd()).fields.crew).toBe('"crew-7"');
    expect(parseLine(encode('gw1', SAMPLES.litter).trimEnd()).fields.ev).toBe('"ev-123"');
  });

  it('sends every kind to a retention policy', () => {
    for (const k of RECORD_KINDS) expect(['telemetry', 'events']).toContain(RP_OF_KIND[k]);
    expect(RP_OF_KIND.park).toBe('telemetry');
    expect(RP_OF_KIND.gate).toBe('events');
  });

  it('escapes measurement, tag keys and values, field keys and string values', () => {
    const lb = new LineBuffer(4);
    lb.measurement('my measure,x=1');
    lb.tag('t', 'a b,c=d');
    lb.str('f k=,', 'say "hi" \\ back');
    lb.str('u', 'naïve "ü",\n');
    lb.optTag('skip', '');
    lb.end(TS);
    expect(lb.toString()).toBe('my\\ measure\\,x=1,t=a\\ b\\,c\\=d f\\ k\\=\\,="say \\"hi\\" \\\\ back",u="naïve \\"ü\\",\n" 1795350000000000007\n');
  });

  it('escapes non-ASCII tag values after the first multibyte character too', () => {
    const lb = new LineBuffer(4);
    lb.measurement('m');
    lb.tag('t', 'é a,b');
    lb.int('n', 1);
    lb.end(TS);
    expect(lb.toString()).toBe('m,t=é\\ a\\,b n=1i 1795350000000000007\n');
  });

  it('counts points and reuses its buffer after reset', () => {
    const lb = new LineBuffer(16);
    for (let i = 0; i < 1000; i++) lb.record('gw1', SAMPLES.park);
    expect(lb.points).toBe(1000);
    const cap = lb.buf.length;
    lb.reset();
    expect(lb.len).toBe(0);
    lb.record('gw1', SAMPLES.park);
    expect(lb.buf.length).toBe(cap);
    expect(lb.toString()).toBe(encode('gw1', SAMPLES.park));
  });

  it('writes the gateway of the topic, not one taken from the record', () => {
    expect(encode('gw-7', SAMPLES.park)).toContain(',gw=gw-7,');
  });
});

describe('telemetry config sections', () => {
  it('fills defaults and refuses typos and out-of-range values, all at once', async () => {
    const { checkConfig } = await import('@hutong/protocols');
    const { IngestConfig, InfluxConfig } = await import('../src/ingest/config.js');
    const ok = checkConfig(IngestConfig, {});
    expect(ok.ok && ok.value).toMatchObject({ flushPoints: 5000, flushMs: 50, writesInFlight: 2, clientId: 'hutong-ingest-1' });
    const bad = checkConfig(IngestConfig, { flushPoint: 10, flushMs: 0 });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues.map((i) => i.path).sort()).toEqual(['/flushMs', '/flushPoint']);
    const ix = checkConfig(InfluxConfig, {});
    expect(ix.ok && ix.value).toMatchObject({ db: 'hutong', dataDir: 'var/influxdb' });
    expect(checkConfig(InfluxConfig, { url: 'ftp://x' }).ok).toBe(false);
  });
});
