import type { HutongRecord } from '@hutong/protocols';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { UplinkSection } from '../src/config/schema.js';
import { OutboxSink } from '../src/records/outbox-sink.js';
import { SyncedStamper } from '../src/records/synced-stamper.js';
import { Uplink } from '../src/uplink/uplink.js';
import { checkConfig, encodeImage } from '@hutong/protocols';
import { TestOutbox } from './agent-fakes.js';
import { TestCloud } from './uplink-cloud.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const GW = 'gw-t';
let cloud: TestCloud | undefined;
let uplink: Uplink | undefined;

afterEach(async () => {
  await uplink?.stop();
  await cloud?.stop();
  uplink = undefined;
  cloud = undefined;
});

function uplinkConfig(port: number, extra: Record<string, unknown> = {}) {
  const r = checkConfig(UplinkSection, {
    url: `mqtt://127.0.0.1:${port}`,
    password: 'pw',
    reconnect: { minMs: 50, maxMs: 200 },
    ...extra,
  });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
}

async function setup(
  extra: Record<string, unknown> = {},
  prefill?: (sink: OutboxSink, st: SyncedStamper) => Promise<void>,
  cloudOffsetMs = 0,
) {
  cloud = new TestCloud();
  cloud.offsetMs = cloudOffsetMs;
  await cloud.start();
  const outbox = new TestOutbox();
  const stamper = new SyncedStamper('boot1');
  const sink = new OutboxSink(outbox, stamper);
  if (prefill) await prefill(sink, stamper);
  uplink = new Uplink({ gatewayId: GW, config: uplinkConfig(cloud.port, extra), outbox, stamper, logger });
  await uplink.start();
  return { outbox, stamper, sink, cloud, uplink };
}

const park = (st: SyncedStamper, d: string): HutongRecord => ({ k: 'park', d, ts: st.stamp(d), lot: 'l', space: d, occ: true });
const gate = (st: SyncedStamper, d: string): HutongRecord => ({
  k: 'gate',
  d,
  ts: st.stamp(d),
  gate: 'g1',
  dir: 'in',
  res: 'grant',
  reason: 'ok',
  ms: 3,
});

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

describe('uplink', () => {
  it('releases a batch only when the cloud acks its id', async () => {
    const { outbox, sink, stamper, cloud } = await setup();
    await sink.append([park(stamper, 'p1'), park(stamper, 'p2')]);
    await cloud.waitBatches(1);
    const b = cloud.batches[0]!;
    expect(b.recs.map((r) => r.d)).toEqual(['p1', 'p2']);
    expect(outbox.items.size).toBe(2);
    expect(outbox.inFlight.size).toBe(2);
    await cloud.ack(GW, [b.id]);
    await until(() => outbox.items.size === 0);
    expect(outbox.releasedIds).toEqual([1, 2]);
    expect(cloud.statuses[0]).toBe('online');
  });

  it('holds readings until the clock offset is known and restamps them with it', async () => {
    const hour = 3_600_000;
    // the cloud clock is an hour ahead of this gateway
    const { sink, stamper, cloud, outbox } = await setup(
      {},
      async (sink, st) => {
        await sink.append([park(st, 'p1')]); // before any sync: provisional
        expect(st.synced).toBe(false);
      },
      hour,
    );
    await cloud.waitBatches(1);
    expect(stamper.synced).toBe(true);
    const ms = Number(cloud.batches[0]!.recs[0]!.ts.slice(0, -6));
    expect(ms).toBeGreaterThan(Date.now() + hour - 60_000);
    // after the sync a new reading is stamped with the offset directly
    await sink.append([park(stamper, 'p1')]);
    await cloud.ack(GW, [cloud.batches[0]!.id]);
    await cloud.waitBatches(2);
    const r2 = cloud.batches[1]!.recs[0]!;
    expect(Number(r2.ts.slice(0, -6))).toBeGreaterThan(Date.now() + hour - 60_000);
    expect(r2.ts.slice(-6)).toBe('000002'); // per-device sequence kept
    await until(() => outbox.items.size === 1);
    expect(uplink!.counters().records_restamped).toBe(1);
  });

  it('sends higher priority first', async () => {
    const { cloud } = await setup({ batchRecords: 2, window: 1 }, async (sink, st) => {
      await sink.append([park(st, 'p1'), park(st, 'p2'), park(st, 'p3')]);
      await sink.append([gate(st, 'r1'), gate(st, 'r2')]);
    });
    cloud.autoAck = true;
    await cloud.waitBatches(3);
    expect(cloud.batches.map((b) => b.recs.map((r) => r.k).join(','))).toEqual(['gate,gate', 'park,park', 'park']);
  });

  it('requeues a batch whose ack does not come and sends it again', async () => {
    const { outbox, sink, stamper, cloud, uplink } = await setup({ ackTimeoutMs: 200 });
    await sink.append([gate(stamper, 'r1')]);
    await cloud.waitBatches(2); // the first one is never acked
    const [first, second] = cloud.batches;
    expect(second!.id).not.toBe(first!.id);
    expect(second!.recs).toEqual(first!.recs);
    expect(outbox.items.size).toBe(1);
    await cloud.ack(GW, [first!.id]); // a late ack of the requeued batch releases nothing
    await cloud.ack(GW, [cloud.batches.at(-1)!.id]);
    await until(() => outbox.items.size === 0);
    expect(uplink.counters().ack_timeouts).toBeGreaterThanOrEqual(1);
  });

  it('requeues in-flight batches when the broker restarts and delivers after reconnecting', async () => {
    const { outbox, sink, stamper, cloud, uplink } = await setup();
    await sink.append([gate(stamper, 'r1'), park(stamper, 'p1')]);
    await cloud.waitBatches(1);
    const port = cloud.port;
    await cloud.stop();
    await until(() => !uplink.isConnected);
    expect(outbox.inFlight.size).toBe(0);
    expect(outbox.items.size).toBe(2);
    const again = new TestCloud();
    cloud.batches.length = 0;
    await again.start(port);
    try {
      await again.waitBatches(1);
      const b = again.batches[0]!;
      expect(b.recs.map((r) => r.k)).toEqual(['gate', 'park']);
      await again.ack(GW, [b.id]);
      await until(() => outbox.items.size === 0);
      expect(uplink.counters().connects).toBe(2);
    } finally {
      await again.stop();
    }
  });

  it('sends images one per message on up/image and releases them on the ack of their header id', async () => {
    const { outbox, cloud } = await setup();
    const frame = (id: string) =>
      encodeImage({ v: 2, gw: GW, id, sha256: 'a'.repeat(64), type: 'image/jpeg', camera: 'cam-1' }, new Uint8Array([0xff, 0xd8, 1, 2, 3]));
    await outbox.append([
      { cls: 0, type: 'img', data: frame('img-1') },
      { cls: 0, type: 'img', data: frame('img-2') },
    ]);
    await until(() => cloud.images.length === 2);
    expect(cloud.images).toEqual(['img-1', 'img-2']);
    expect(cloud.batches).toEqual([]);
    await cloud.ack(GW, ['img-2']);
    await until(() => outbox.releasedIds.length === 1);
    expect(outbox.releasedIds).toEqual([2]);
    await cloud.ack(GW, ['img-1']);
    await until(() => outbox.items.size === 0);
  });

  it('counts a batch the cloud refused for good and releases it', async () => {
    const { outbox, sink, stamper, cloud, uplink } = await setup();
    await sink.append([park(stamper, 'p1')]);
    await cloud.waitBatches(1);
    await cloud.ack(GW, [cloud.batches[0]!.id], 0, { E_UNKNOWN_DEVICE: 1 });
    await until(() => outbox.items.size === 0);
    expect(uplink.counters().cloud_refused_batches).toBe(1);
    expect(uplink.counters().cloud_rejected_e_unknown_device).toBe(1);
  });
});

describe('uplink with the real outboxes', () => {
  for (const kind of ['memory', 'file'] as const) {
    it(`${kind}: delivers, survives an unacked batch, and releases on ack`, async () => {
      const { mkdtemp, rm } = await import('node:fs/promises');
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      const { createOutbox, OutboxSection } = await import('../src/outbox/index.js');
      const dir = await mkdtemp(join(tmpdir(), 'hutong-uplink-ob-'));
      const cfg = checkConfig(OutboxSection, { kind, dir, fsync: 'data' });
      if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
      const outbox = createOutbox(cfg.value, logger);
      await outbox.open();
      cloud = new TestCloud();
      await cloud.start();
      const stamper = new SyncedStamper('boot-r');
      const sink = new OutboxSink(outbox, stamper);
      uplink = new Uplink({ gatewayId: GW, config: uplinkConfig(cloud.port, { ackTimeoutMs: 300 }), outbox, stamper, logger });
      try {
        const recs = Array.from({ length: 30 }, (_, i) => park(stamper, `p${i}`));
        await sink.append(recs.slice(0, 10));
        await sink.append([gate(stamper, 'r1')]);
        await sink.append(recs.slice(10));
        await uplink.start();
        await cloud.waitBatches(2); // the first batch is never acked: it times out and goes again
        cloud.autoAck = true;
        await cloud.ack(GW, [cloud.batches[1]!.id]);
        await until(() => outbox.stats().released === 31);
        const seen = new Set(cloud.batches.flatMap((b) => b.recs.map((r) => `${r.d}/${r.ts}`)));
        expect(seen.size).toBe(31);
        expect(cloud.batches[0]!.recs[0]!.k).toBe('gate');
        expect(outbox.stats().depth).toEqual([0, 0, 0]);
      } finally {
        await uplink.stop();
        uplink = undefined;
        await outbox.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
