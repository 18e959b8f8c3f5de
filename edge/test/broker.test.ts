import { createConnection } from 'node:net';
import type { ParkingReading, ScanAnswer, ScanRequest } from '@hutong/protocols';
import { connectAsync, type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceService } from '../src/adapters/contract.js';
import { DeviceRegistry } from '../src/adapters/devices.js';
import { MqttSiteAdapter } from '../src/adapters/mqtt-site.js';
import { SiteBroker } from '../src/broker/site-broker.js';
import { ClockStamper } from '../src/records/stamper.js';
import { OutboxSink } from '../src/records/outbox-sink.js';
import { TestOutbox } from './agent-fakes.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const outbox = new TestOutbox();
const sink = new OutboxSink(outbox);
const stamper = new ClockStamper();

/** Test-local services: one record per request, appended before the answer. */
const parking: DeviceService<ParkingReading, void> = {
  async handle(dev, req) {
    await sink.append([{ k: 'park', d: dev, ts: stamper.stamp(dev), lot: 'lot-a', space: dev, occ: req.occ }]);
  },
};
const scan: DeviceService<ScanRequest, ScanAnswer> = {
  async handle(dev, req) {
    if (req.code === 'nobin') return { code: req.code, result: 'unknown' };
    await sink.append([{ k: 'scan', d: dev, ts: stamper.stamp(dev), bin: req.code, cat: 'kitchen' }]);
    return { code: req.code, result: 'recorded' };
  },
};

const devices = new DeviceRegistry([
  { id: 'p-1', kind: 'parking', transport: 'mqtt', lot: 'lot-a', space: 's1' },
  { id: 'sc-1', kind: 'scanner', transport: 'mqtt' },
]);
let adapter: MqttSiteAdapter;
let broker: SiteBroker;
const clients: MqttClient[] = [];

beforeAll(async () => {
  let b: SiteBroker | undefined;
  adapter = new MqttSiteAdapter({ devices, services: { parking, scan }, publish: (t, p) => b!.publish(t, p), logger });
  b = new SiteBroker({ config: { enabled: true, host: '127.0.0.1', port: 0, maxPacket: 16_384 }, logger, route: adapter.route });
  broker = b;
  await broker.start();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
});
afterAll(async () => {
  await broker.stop();
});

async function device(id: string): Promise<MqttClient> {
  const c = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: id, protocolVersion: 4, reconnectPeriod: 0 });
  clients.push(c);
  return c;
}

function nextMessage(c: MqttClient, topic: string): Promise<string> {
  return new Promise((resolve) => {
    const on = (t: string, p: Buffer) => {
      if (t !== topic) return;
      c.off('message', on);
      resolve(p.toString());
    };
    c.on('message', on);
  });
}

describe('site broker acceptance', () => {
  it('sends the PUBACK only after the outbox append resolved', async () => {
    const dev = await device('p-1');
    outbox.hold();
    const before = outbox.items.size;
    const called = outbox.appendCalled();
    let acked = false;
    const pub = dev.publishAsync('site/parking/p-1', JSON.stringify({ occ: true }), { qos: 1 }).then(() => {
      acked = true;
    });
    await called;
    // Let the broker run: an eager PUBACK would arrive within these turns.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(acked).toBe(false);
    expect(outbox.items.size).toBe(before);
    outbox.releaseHeld();
    await pub;
    expect(acked).toBe(true);
    expect(outbox.items.size).toBe(before + 1);
  });

  it('answers a scanner after storing, and answers rejections without storing', async () => {
    const dev = await device('sc-1');
    await dev.subscribeAsync('site/scanner/+/answer', { qos: 1 });
    let ans = nextMessage(dev, 'site/scanner/sc-1/answer');
    await dev.publishAsync('site/scanner/sc-1/scan', JSON.stringify({ code: 'bin-7' }), { qos: 1 });
    expect(JSON.parse(await ans)).toEqual({ code: 'bin-7', result: 'recorded' });

    const size = outbox.items.size;
    ans = nextMessage(dev, 'site/scanner/sc-1/answer');
    await dev.publishAsync('site/scanner/sc-1/scan', 'not json', { qos: 1 });
    expect(JSON.parse(await ans)).toMatchObject({ result: 'rejected', reason: 'E_MALFORMED' });

    ans = nextMessage(dev, 'site/scanner/sc-1/answer');
    await dev.publishAsync('site/scanner/sc-1/scan', JSON.stringify({ code: 'b', kg: -3 }), { qos: 1 });
    expect(JSON.parse(await ans)).toMatchObject({ code: 'b', result: 'rejected', reason: 'E_SCHEMA' });

    ans = nextMessage(dev, 'site/scanner/sc-9/answer');
    await dev.publishAsync('site/scanner/sc-9/scan', JSON.stringify({ code: 'b' }), { qos: 1 });
    expect(JSON.parse(await ans)).toMatchObject({ result: 'rejected', reason: 'E_UNKNOWN_DEVICE' });

    ans = nextMessage(dev, 'site/scanner/sc-1/answer');
    await dev.publishAsync('site/scanner/sc-1/scan', JSON.stringify({ code: 'x'.repeat(5000) }), { qos: 1 });
    expect(JSON.parse(await ans)).toMatchObject({ result: 'rejected', reason: 'E_OVERSIZED' });

    await dev.publishAsync('site/elsewhere', 'x', { qos: 1 });
    expect(outbox.items.size).toBe(size);
    const c = adapter.counters();
    expect(c.rejected_e_malformed).toBe(1);
    expect(c.rejected_e_schema).toBe(1);
    expect(c.rejected_e_unknown_device).toBe(1);
    expect(c.rejected_e_oversized).toBe(1);
    expect(c.rejected_e_topic).toBe(1);
  });

  it('sends no PUBACK when the records could not be stored; the device sends again', async () => {
    const dev = await device('p-1');
    outbox.failNext = new Error('disk gone');
    const closed = new Promise<void>((r) => dev.once('close', () => r()));
    let acked = false;
    dev.publishAsync('site/parking/p-1', JSON.stringify({ occ: false }), { qos: 1 }).then(
      () => {
        acked = true;
      },
      () => {},
    );
    await closed;
    expect(acked).toBe(false);
    expect(adapter.counters().failed_e_outbox_full).toBe(1);
  });

  it('closes a connection whose packet is above maxPacket, without a PUBACK', async () => {
    const dev = await device('p-1');
    const closed = new Promise<void>((r) => dev.once('close', () => r()));
    let acked = false;
    dev.publishAsync('site/parking/p-1', Buffer.alloc(20_000, 0x20), { qos: 1 }).then(
      () => {
        acked = true;
      },
      () => {},
    );
    await closed;
    expect(acked).toBe(false);
    expect(broker.stats().rejected_e_oversized_packet).toBe(1);
  });

  it('lets devices subscribe only to answers, decisions and relay commands', async () => {
    const dev = await device('sc-1');
    const granted = await dev.subscribeAsync(['site/scanner/sc-1/answer', 'site/gate/+/relay'], { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1, 1]);
    for (const f of ['site/#', 'site/reader/+/code', '#']) {
      await expect(dev.subscribeAsync(f, { qos: 1 })).rejects.toThrow(/Subscribe error/);
    }
    expect(broker.stats().subscribe_refused).toBe(3);
  });

  it('refuses malformed CONNECTs', async () => {
    const port = broker.port;
    await expect(
      connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'a\u0000b', protocolVersion: 4, reconnectPeriod: 0 }),
    ).rejects.toThrow(/Identifier rejected/);
    await expect(
      connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'ok', username: 'a\u0000b', protocolVersion: 4, reconnectPeriod: 0 }),
    ).rejects.toThrow(/username or password/);
    // Clients refuse to build these two, so they go as raw bytes: a client id that is not UTF-8, and a
    // password without a username (flags 0x42).
    expect(await rawConnect(port, 0x02, [0xff, 0xfe], [])).toEqual([0x20, 0x02, 0x00, 0x02]);
    expect(await rawConnect(port, 0x42, [0x6f, 0x6b], [0x00, 0x01, 0x78])).toEqual([0x20, 0x02, 0x00, 0x04]);
    expect(broker.stats().connect_refused).toBe(4);
    // and it keeps serving
    const dev = await device('p-1');
    await dev.publishAsync('site/parking/p-1', JSON.stringify({ occ: true }), { qos: 1 });
  });
});

/** Sends one hand-made MQTT 3.1.1 CONNECT and returns the bytes received until the broker closes. */
function rawConnect(port: number, flags: number, clientId: number[], tail: number[]): Promise<number[]> {
  const vh = [0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, flags, 0x00, 0x3c];
  const body = [...vh, 0x00, clientId.length, ...clientId, ...tail];
  return new Promise((resolve, reject) => {
    const got: number[] = [];
    const s = createConnection(port, '127.0.0.1', () => s.write(Buffer.from([0x10, body.length, ...body])));
    s.on('data', (d) => got.push(...d));
    s.on('error', reject);
    s.on('close', () => resolve(got));
  });
}
