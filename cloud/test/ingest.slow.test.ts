import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AckEntry,
  type DeviceKind,
  type HutongRecord,
  ackMessage,
  downlinkFilter,
  encodeImage,
  nsTimestamp,
  statusTopic,
  toV1,
  uplinkTopic,
} from '@hutong/protocols';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDatabase, freePort, type Influxd, influxQuery, startInfluxd } from '../src/influx/influxd.js';
import { ImageStore } from '../src/ingest/images.js';
import { Ingest } from '../src/ingest/ingest.js';
import type { DeviceDirectory, PresenceSink } from '../src/registry/contract.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const DB = 'hutong_test';

class MapDirectory implements DeviceDirectory {
  readonly devices = new Map<string, DeviceKind>();
  add(gw: string, d: string, kind: DeviceKind) {
    this.devices.set(`${gw}/${d}`, kind);
  }
  kindOf(gw: string, d: string) {
    return this.devices.get(`${gw}/${d}`);
  }
}

class RecordingPresence implements PresenceSink {
  readonly seenBy = new Map<string, number>();
  readonly statuses: { gw: string; state: string }[] = [];
  seen(gw: string, atMs: number) {
    this.seenBy.set(gw, atMs);
  }
  status(gw: string, state: 'online' | 'offline') {
    this.statuses.push({ gw, state });
  }
}

/** A gateway stand-in: publishes batches and collects the acks it gets on its downlink. */
class TestGateway {
  readonly acks = new Map<string, AckEntry>();
  readonly other: { topic: string; payload: string }[] = [];
  private waiters: (() => void)[] = [];
  constructor(
    readonly gw: string,
    readonly client: MqttClient,
  ) {
    client.on('message', (topic, payload) => {
      if (topic.endsWith('/down/ack')) {
        const msg = JSON.parse(payload.toString());
        if (!ackMessage.check(msg)) throw new Error(`bad ack ${payload}`);
        for (const a of msg.acks) this.acks.set(a.id, a);
      } else this.other.push({ topic, payload: payload.toString() });
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static async connect(url: string, gw: string) {
    const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: `test-${gw}`, clean: true, reconnectPeriod: 200 });
    await client.subscribeAsync(downlinkFilter(gw), { qos: 1 });
    return new TestGateway(gw, client);
  }
  async batch(id: string, recs: unknown[], opts: { v?: number; gw?: string } = {}) {
    const body = JSON.stringify({ v: opts.v ?? 2, gw: opts.gw ?? this.gw, id, recs });
    await this.client.publishAsync(uplinkTopic(this.gw, 'batch'), body, { qos: 1 });
  }
  async raw(topic: string, payload: string | Buffer) {
    await this.client.publishAsync(topic, payload, { qos: 1 });
  }
  async until(pred: () => boolean, timeoutMs = 20_000) {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > end) throw new Error('timed out waiting');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }
  ack(id: string, timeoutMs?: number) {
    return this.until(() => this.acks.has(id), timeoutMs).then(() => this.acks.get(id)!);
  }
}

let dir: string;
let influx: Influxd;
let brokerServer: Server;
let broker: Aedes;
let mqttUrl: string;
let ingest: Ingest;
const directory = new MapDirectory();
const presence = new RecordingPresence();
let g1: TestGateway;
let g2: TestGateway;

function newIngest(extra: { maxWaitingPoints?: number } = {}) {
  return new Ingest({
    ...extra,
    mqttUrl,
    influxUrl: influx.url,
    db: DB,
    directory,
    presence,
    imagesDir: join(dir, 'images'),
    logger,
    flushMs: 20,
    clientId: 'hutong-ingest-test-1',
  });
}

async function count(measurement: string, field: string, rp = 'telemetry', where = ''): Promise<number> {
  const res = (await influxQuery(influx.url, `SELECT count("${field}") FROM "${rp}"."${measurement}" ${where}`, DB)) as {
    results: { series?: { values: [string, number][] }[] }[];
  };
  return res.results[0]?.series?.[0]?.values[0]?.[1] ?? 0;
}

/** Recent timestamps (InfluxDB drops points older than the retention policy). */
const baseMs = Date.now() - 60_000;
const ts = (msOffset: number, seq: number) => nsTimestamp(baseMs + msOffset, seq);
const park = (d: string, msOffset: number, seq: number, occ = true): HutongRecord => ({
  k: 'park',
  d,
  ts: ts(msOffset, seq),
  lot: 'north',
  space: `S-${d}`,
  occ,
  bat: 90,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hutong-ingest-'));
  influx = await startInfluxd({ dataDir: join(dir, 'influx'), logger });
  await ensureDatabase(influx.url, DB);
  broker = await Aedes.createBroker();
  brokerServer = createServer(broker.handle);
  const port = await freePort();
  await new Promise<void>((r) => brokerServer.listen(port, '127.0.0.1', r));
  mqttUrl = `mqtt://127.0.0.1:${port}`;
  for (const gw of ['gw1', 'gw2']) {
    directory.add(gw, gw, 'gateway');
    for (let i = 0; i < 5; i++) directory.add(gw, `ps-${i}`, 'parking');
    directory.add(gw, 'sc1', 'scanner');
    directory.add(gw, 'rd1', 'reader');
    directory.add(gw, 'cam1', 'camera');
  }
  ingest = newIngest();
  await ingest.start();
  g1 = await TestGateway.connect(mqttUrl, 'gw1');
  g2 = await TestGateway.connect(mqttUrl, 'gw2');
});

afterAll(async () => {
  await g1?.client.endAsync();
  await g2?.client.endAsync();
  await ingest?.stop();
  await new Promise<void>((r) => broker?.close(() => r()));
  await new Promise<void>((r) => brokerServer?.close(() => r()));
  await influx?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('ingest against real InfluxDB and aedes', () => {
  it('stores exactly the readings sent: replays do not duplicate, same-millisecond readings stay apart', async () => {
    // gw1: 5 sensors × 20 readings, plus for each sensor a second reading in the same millisecond (other sequence)
    const recs: HutongRecord[] = [];
    for (let s = 0; s < 5; s++) {
      for (let i = 0; i < 20; i++) recs.push(park(`ps-${s}`, i * 1000, i * 2 + 1, i % 2 === 0));
      recs.push(park(`ps-${s}`, 0, 2, false)); // same ms as the first reading, sequence 2
    }
    await g1.batch('b-park-1', recs.slice(0, 60));
    await g1.batch('b-park-2', recs.slice(60));
    const events: HutongRecord[] = [
      { k: 'scan', d: 'sc1', ts: ts(1, 1), bin: 'B-1', cat: 'kitchen', crew: 'c-1', kg: 3.5, grade: 5 },
      { k: 'scan', d: 'sc1', ts: ts(2, 2), bin: 'B-2', cat: 'recyclable' },
      { k: 'gate', d: 'rd1', ts: ts(3, 1), gate: 'east', dir: 'in', res: 'grant', reason: 'ok', holder: 'h-1', ms: 4 },
      { k: 'gate', d: 'rd1', ts: ts(3, 2), gate: 'east', dir: 'out', res: 'deny', reason: 'passback', ms: 5 },
      { k: 'gate', d: 'rd1', ts: ts(3, 3), gate: 'east', dir: 'in', res: 'grant', reason: 'ok', holder: 'h-2', ms: 3 },
      { k: 'state', d: 'gw2', ts: ts(4, 1), type: 'zone_dirty', subject: 'lawn' },
      { k: 'lot', d: 'gw2', ts: ts(5, 1), lot: 'north', free: 3, occupied: 2, unknown: 0 },
      { k: 'health', d: 'cam1', ts: ts(6, 1), kind: 'camera', online: true, fps: 2 },
    ];
    await g2.batch('b-ev-1', events);
    // The same batch again (a resend after a lost ack): acknowledged again, stored once.
    await g2.batch('b-ev-1', events);
    await g1.batch('b-park-1', recs.slice(0, 60));

    const a1 = await g1.ack('b-park-2');
    const a2 = await g2.ack('b-ev-1');
    expect(a1).toEqual({ id: 'b-park-2', stored: 45, rejected: 0 });
    expect(a2).toEqual({ id: 'b-ev-1', stored: 8, rejected: 0 });
    await g1.ack('b-park-1');
    // Acks come only after the write: the points are queryable by now.
    await g1.until(() => (ingest.counters().acks ?? 0) >= 5); // the resent copies are acknowledged too
    expect(await count('park', 'occ')).toBe(105);
    expect(await count('park', 'occ', 'telemetry', `WHERE d = 'ps-3'`)).toBe(21);
    expect(await count('scan', 'n', 'events')).toBe(2);
    expect(await count('gate', 'ms', 'events')).toBe(3);
    expect(await count('state', 'n', 'events')).toBe(1);
    expect(await count('lot', 'free')).toBe(1);
    expect(await count('health', 'online')).toBe(1);
    expect(presence.seenBy.has('gw1') && presence.seenBy.has('gw2')).toBe(true);
    const c = ingest.counters();
    expect(c.batches).toBe(5);
    expect(c.stored_points).toBe(60 + 45 + 8 + 8 + 60);
  });

  it('counts every bad input under its code, never crashes, and stores the valid messages around them', async () => {
    const before = ingest.counters();
    const delta = (name: string) => (ingest.counters()[name] ?? 0) - (before[name] ?? 0);
    const good = (id: string, ms: number) => g1.batch(id, [park('ps-0', 100_000 + ms, 1)]);
    const topic = uplinkTopic('gw1', 'batch');

    await good('ok-1', 1);
    await g1.raw(topic, '{"v":2,"gw":"gw1","id":"bad-json","recs":[{');
    await good('ok-2', 2);
    await g1.raw(topic, JSON.stringify({ v: 2, gw: 'gw1', id: 'bad-schema', records: [] }));
    await g1.batch('bad-record', [park('ps-1', 100_000, 1), { ...park('ps-1', 100_001, 2), occ: 'yes' }, { k: 'nope', d: 'ps-1', ts: ts(1, 1) }]);
    await g1.raw(topic, `{"v":2,"gw":"gw1","id":"too-big","recs":[${'"x",'.repeat(20_000)}"x"]}`);
    await good('ok-3', 3);
    await g1.batch('unknown-dev', [park('ps-2', 100_000, 1), park('ghost', 100_000, 1)]);
    await g1.batch('mismatch', [park('ps-0', 100_010, 1)], { gw: 'gw2' });
    await g1.batch('v0', [park('ps-0', 100_020, 1)], { v: 0 });
    await g1.batch('v3', [park('ps-0', 100_030, 1)], { v: 3 });
    await g1.batch('v1', [toV1(park('ps-4', 100_000, 7)), toV1(park('ps-4', 100_000, 8))], { v: 1 });
    await g1.raw('hutong/gw/gw1/up/nonsense', '{}');
    await g1.raw(topic, Buffer.from([0xff, 0xfe, 0x00]));
    await g1.raw(statusTopic('gw1'), 'not json');
    // Older than the retention policy: InfluxDB answers 400 "partial write … dropped=1"; counted, not retried.
    await g1.batch('too-old', [{ ...park('ps-3', 0, 1), ts: nsTimestamp(Date.parse('2020-01-01T00:00:00Z'), 1) }]);
    await good('ok-4', 4);

    await g1.ack('ok-4');
    await g1.ack('v1');
    expect(g1.acks.get('bad-json')).toEqual({ id: 'bad-json', stored: 0, rejected: 0, codes: { E_MALFORMED: 1 } });
    expect(g1.acks.get('bad-schema')).toMatchObject({ stored: 0, codes: { E_SCHEMA: 1 } });
    expect(g1.acks.get('bad-record')).toEqual({ id: 'bad-record', stored: 1, rejected: 2, codes: { E_SCHEMA: 2 } });
    expect(g1.acks.get('too-big')).toMatchObject({ stored: 0, codes: { E_OVERSIZED: 1 } });
    expect(g1.acks.get('unknown-dev')).toEqual({ id: 'unknown-dev', stored: 1, rejected: 1, codes: { E_UNKNOWN_DEVICE: 1 } });
    expect(g1.acks.get('mismatch')).toEqual({ id: 'mismatch', stored: 0, rejected: 1, codes: { E_GATEWAY_MISMATCH: 1 } });
    expect(g1.acks.get('v0')).toMatchObject({ stored: 0, codes: { E_VERSION: 1 } });
    expect(g1.acks.get('v3')).toMatchObject({ stored: 0, codes: { E_VERSION: 1 } });
    expect(g1.acks.get('v1')).toEqual({ id: 'v1', stored: 2, rejected: 0 });

    expect(delta('rejected.E_MALFORMED')).toBe(3); // bad JSON, non-UTF-8 bytes, bad status
    expect(delta('rejected.E_SCHEMA')).toBe(3); // envelope + 2 records
    expect(delta('rejected.E_OVERSIZED')).toBe(1);
    expect(delta('rejected.E_UNKNOWN_DEVICE')).toBe(1);
    expect(delta('rejected.E_GATEWAY_MISMATCH')).toBe(1);
    expect(delta('rejected.E_VERSION')).toBe(2);
    expect(delta('rejected.E_TOPIC')).toBe(1);
    expect(delta('internal_errors')).toBe(0);
    await g1.ack('too-old');
    expect(delta('rejected.E_INFLUX_WRITE')).toBe(1);

    // ok-1..4, one of bad-record, one of unknown-dev, two v1 readings (same ms, sequence 7 and 8)
    expect(await count('park', 'occ', 'telemetry', `WHERE time >= ${BigInt(baseMs + 100_000) * 1_000_000n}`)).toBe(4 + 1 + 1 + 2);
  });

  it('acknowledges only after InfluxDB confirmed the write, across an InfluxDB outage, and bounds what waits', async () => {
    // A worker that holds at most 3 waiting points, so the bound is reached during the outage.
    await ingest.stop();
    ingest = newIngest({ maxWaitingPoints: 3 });
    await ingest.start();
    const before = await count('park', 'occ');
    await influx.stop();
    await g2.batch('during-outage', [park('ps-0', 200_000, 1), park('ps-1', 200_000, 1), park('ps-1', 200_000, 2)]);
    await g2.batch('over-bound', [park('ps-2', 200_000, 1)]);
    await expect(g2.ack('during-outage', 2_000)).rejects.toThrow(/timed out/);
    expect(ingest.counters().deferred_batches).toBe(1);
    influx = await startInfluxd({ dataDir: join(dir, 'influx'), logger, port: influx.port });
    const ack = await g2.ack('during-outage', 30_000);
    expect(ack).toEqual({ id: 'during-outage', stored: 3, rejected: 0 });
    expect(g2.acks.has('over-bound')).toBe(false);
    expect(await count('park', 'occ')).toBe(before + 3);
    expect(ingest.counters().write_retries).toBeGreaterThan(0);
    // The gateway still holds the deferred batch and resends it.
    await g2.batch('over-bound', [park('ps-2', 200_000, 1)]);
    expect(await g2.ack('over-bound')).toEqual({ id: 'over-bound', stored: 1, rejected: 0 });
    expect(await count('park', 'occ')).toBe(before + 4);
  });

  it('gets the messages queued while it was stopped (persistent session, fixed client id)', async () => {
    await ingest.stop();
    await g2.batch('while-stopped', [park('ps-2', 300_000, 1)]);
    ingest = newIngest();
    await ingest.start();
    expect(await g2.ack('while-stopped')).toEqual({ id: 'while-stopped', stored: 1, rejected: 0 });
  });

  it('stores images content-addressed, acks them, and refuses a body whose hash does not match', async () => {
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('fake jpeg body')]);
    const sha = ImageStore.sha256(jpeg);
    const frame = encodeImage({ v: 2, gw: 'gw1', id: 'img-1', sha256: sha, type: 'image/jpeg', camera: 'cam1', ev: 'ev-1' }, jpeg);
    await g1.raw(uplinkTopic('gw1', 'image'), Buffer.from(frame));
    expect(await g1.ack('img-1')).toEqual({ id: 'img-1', stored: 1, rejected: 0 });
    expect(await readFile(join(dir, 'images', sha.slice(0, 2), `${sha}.jpg`))).toEqual(jpeg);

    const bad = encodeImage({ v: 2, gw: 'gw1', id: 'img-2', sha256: 'b'.repeat(64), type: 'image/jpeg', camera: 'cam1' }, jpeg);
    await g1.raw(uplinkTopic('gw1', 'image'), Buffer.from(bad));
    expect(await g1.ack('img-2')).toEqual({ id: 'img-2', stored: 0, rejected: 1, codes: { E_MALFORMED: 1 } });
    await g1.raw(uplinkTopic('gw1', 'image'), Buffer.from('garbage'));
    await g1.raw(uplinkTopic('gw1', 'batch'), JSON.stringify({ v: 2, gw: 'gw1', id: 'after-images', recs: [park('ps-0', 400_000, 1)] }));
    expect(await g1.ack('after-images')).toMatchObject({ stored: 1 });
  });

  it('answers time requests and passes gateway status to the presence sink', async () => {
    const t0 = Date.now();
    await g1.raw(uplinkTopic('gw1', 'time'), JSON.stringify({ v: 2, t0 }));
    await g1.raw(statusTopic('gw1'), JSON.stringify({ v: 2, state: 'offline', ts: t0 }));
    await g1.until(() => g1.other.some((m) => m.topic.endsWith('/down/time')));
    const reply = JSON.parse(g1.other.find((m) => m.topic.endsWith('/down/time'))!.payload);
    expect(reply.t0).toBe(t0);
    expect(reply.srv).toBeGreaterThanOrEqual(t0);
    await g1.until(() => presence.statuses.some((s) => s.gw === 'gw1' && s.state === 'offline'));
  });

  it('refuses shared subscriptions on a broker that silently drops them (aedes)', async () => {
    const w = new Ingest({
      mqttUrl,
      influxUrl: influx.url,
      db: DB,
      directory,
      imagesDir: join(dir, 'images'),
      logger,
      sharedGroup: 'ingest',
      clientId: 'hutong-ingest-shared-probe',
    });
    await expect(w.start()).rejects.toThrow(/E_CONFIG.*shared subscriptions/);
    await w.stop();
  });
});
