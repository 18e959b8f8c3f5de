import { checkConfig, type HutongRecord, nsTimestamp } from '@hutong/protocols';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryOutbox } from '../src/outbox/memory.js';
import { OutboxSink } from '../src/records/outbox-sink.js';
import { recordBytes } from '../src/records/provisional.js';
import type { RecordSink, Stamper } from '../src/records/sink.js';
import { SyncedStamper } from '../src/records/synced-stamper.js';
import { type BinsConfig, BinsSection, BinService, seedBinScans } from '../src/services/bins/index.js';
import { lastClosedSlot } from '../src/services/bins/schedule.js';
import { testRig } from './services-helpers.js';

function config(): BinsConfig {
  const r = checkConfig(BinsSection, {
    bins: [
      { id: 'BIN-0001', category: 'kitchen', grid: 'g-12', location: 'block 3', schedule: { times: ['07:00', '19:00'] } },
      { id: 'BIN-0002', category: 'recyclable', schedule: { times: ['09:00'], days: [1, 3, 5], graceMin: 30 } },
      { id: 'BIN-0003', category: 'hazardous' },
    ],
  });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
}

// Friday 2026-11-20 06:00 local (UTC+8) = 2026-11-19 22:00 UTC
const START = Date.UTC(2026, 10, 19, 22, 0, 0);

describe('bin service', () => {
  let rig: ReturnType<typeof testRig>;
  let svc: BinService;
  beforeEach(async () => {
    rig = testRig(START);
    svc = new BinService({ ...rig, now: rig.clock.now, config: config(), gatewayId: 'gw1' });
    await svc.start();
  });
  afterEach(() => svc.stop());

  it('records a known bin once, answers duplicates and unknown codes without storing them', async () => {
    expect(await svc.handle('sc-1', { code: 'BIN-0001', crew: 'crew-4', kg: 12.5, grade: 4 })).toEqual({
      code: 'BIN-0001',
      result: 'recorded',
    });
    expect((await svc.handle('sc-2', { code: 'BIN-0001', crew: 'crew-5' })).result).toBe('duplicate');
    expect((await svc.handle('sc-1', { code: 'NOPE-9' })).result).toBe('unknown');
    expect((await svc.handle('sc-1', { code: 'x'.repeat(200) } as never)).result).toBe('rejected');
    const scans = rig.sink.of('scan');
    expect(scans).toHaveLength(1);
    expect(scans[0]).toMatchObject({ d: 'sc-1', bin: 'BIN-0001', cat: 'kitchen', crew: 'crew-4', kg: 12.5, grade: 4 });
    // Past the window the same bin is a new collection.
    rig.clock.advance(600_000);
    expect((await svc.handle('sc-1', { code: ' BIN-0001 ' })).result).toBe('recorded');
    expect(rig.sink.of('scan')).toHaveLength(2);
    expect(svc.counters()).toMatchObject({ recorded: 2, duplicate: 1, unknown: 1, rejected: 1 });
  });

  it('a full report becomes one bin_full state record', async () => {
    expect((await svc.handle('sc-1', { code: 'BIN-0001', full: true, crew: 'crew-4' })).result).toBe('recorded');
    expect((await svc.handle('sc-1', { code: 'BIN-0001', full: true })).result).toBe('duplicate');
    const st = rig.sink.of('state');
    expect(st).toHaveLength(1);
    expect(st[0]).toMatchObject({ type: 'bin_full', subject: 'BIN-0001', grid: 'g-12', d: 'sc-1' });
    expect(rig.sink.of('scan')).toHaveLength(0);
    expect(svc.counters().full).toBe(1);
  });

  it('does not answer recorded, nor mark the bin, when the record cannot be stored', async () => {
    rig.sink.fail = true;
    expect(await svc.handle('sc-1', { code: 'BIN-0002' })).toMatchObject({ result: 'rejected' });
    rig.sink.fail = false;
    expect((await svc.handle('sc-1', { code: 'BIN-0002' })).result).toBe('recorded');
  });

  it('raises bin_overdue once per missed slot, not for collected ones', async () => {
    // 07:00 slot, grace 60 min: at 08:01 local BIN-0001 is overdue; BIN-0002 (Fri 09:00) not yet.
    rig.clock.advance(2 * 3_600_000 + 60_000);
    await svc.checkOverdue();
    await svc.checkOverdue();
    let od = rig.sink.of('state').filter((s) => s.type === 'bin_overdue');
    expect(od.map((s) => s.subject)).toEqual(['BIN-0001']);
    expect(od[0]).toMatchObject({ grid: 'g-12', d: 'gw1' });
    // BIN-0002 collected at 08:50 (10 min early); BIN-0001 collected late at 09:00.
    rig.clock.advance(49 * 60_000);
    await svc.handle('sc-1', { code: 'BIN-0002' });
    rig.clock.advance(10 * 60_000);
    await svc.handle('sc-1', { code: 'BIN-0001' });
    rig.clock.advance(60 * 60_000); // 10:00 local: the 09:00 slot of BIN-0002 closed, collected
    await svc.checkOverdue();
    od = rig.sink.of('state').filter((s) => s.type === 'bin_overdue');
    expect(od).toHaveLength(1);
    // 20:01 local: BIN-0001's 19:00 slot passed; its last scan (09:00) is too early for it.
    rig.clock.advance(10 * 3_600_000 + 60_000);
    await svc.checkOverdue();
    od = rig.sink.of('state').filter((s) => s.type === 'bin_overdue');
    expect(od.map((s) => s.subject)).toEqual(['BIN-0001', 'BIN-0001']);
    expect(svc.counters().overdue).toBe(2);
  });

  it('finds the last closed slot across days and weekdays', () => {
    const s = { times: ['09:00'], days: [1], graceMin: 0, earlyMin: 0 }; // Mondays 09:00 local
    const slot = lastClosedSlot(s, START, 480); // Friday 06:00 local → Monday 2026-11-16 09:00 local
    expect(new Date(slot as number).toISOString()).toBe('2026-11-16T01:00:00.000Z');
  });
});

describe('bin scans asked again (resends)', () => {
  const silent = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
  let svcs: BinService[] = [];
  afterEach(async () => {
    for (const s of svcs.splice(0)) await s.stop();
  });
  function service(rig: ReturnType<typeof testRig>, sink: RecordSink = rig.sink, stamper: Stamper = rig.stamper): BinService {
    const s = new BinService({ ...rig, sink, stamper, now: rig.clock.now, config: config(), gatewayId: 'gw1' });
    svcs.push(s);
    return s;
  }
  const scan = { code: 'BIN-0001', crew: 'crew-4', kg: 12.5, grade: 4 };

  it('the same scan from the same scanner is answered recorded again and stored once; another scan of the bin is a duplicate', async () => {
    const rig = testRig(START);
    const svc = service(rig);
    await svc.start();
    expect((await svc.handle('sc-1', scan)).result).toBe('recorded');
    expect((await svc.handle('sc-1', { ...scan })).result).toBe('recorded');
    // Another scanner, or the same scanner with another content: a second scan of an emptied bin.
    expect((await svc.handle('sc-2', scan)).result).toBe('duplicate');
    expect((await svc.handle('sc-1', { ...scan, kg: 13 })).result).toBe('duplicate');
    expect(rig.sink.of('scan')).toHaveLength(1);
    expect(svc.counters()).toMatchObject({ recorded: 1, replayed: 1, duplicate: 2 });
    // A full report asked again: the same.
    expect((await svc.handle('sc-3', { code: 'BIN-0002', full: true, crew: 'crew-1' })).result).toBe('recorded');
    expect((await svc.handle('sc-3', { code: 'BIN-0002', full: true, crew: 'crew-1' })).result).toBe('recorded');
    expect((await svc.handle('sc-1', { code: 'BIN-0002', full: true })).result).toBe('duplicate');
    expect(rig.sink.of('state').filter((r) => r.type === 'bin_full')).toHaveLength(1);
  });

  it('a resend while the first copy is being stored waits for it and gets its answer; a failed first copy lets the next one store', async () => {
    const rig = testRig(START);
    let open: () => void = () => {};
    const gate = new Promise<void>((r) => (open = r));
    let fail = false;
    const slow: RecordSink = {
      append: async (recs) => {
        await gate;
        if (fail) throw new Error('E_OUTBOX_FULL');
        return rig.sink.append(recs);
      },
    };
    const svc = service(rig, slow);
    await svc.start();
    const first = svc.handle('sc-1', scan);
    const again = svc.handle('sc-1', scan);
    open();
    expect((await Promise.all([first, again])).map((a) => a.result)).toEqual(['recorded', 'recorded']);
    expect(rig.sink.of('scan')).toHaveLength(1);
    fail = true;
    const f1 = svc.handle('sc-1', { code: 'BIN-0003' });
    const f2 = svc.handle('sc-1', { code: 'BIN-0003' });
    expect((await Promise.all([f1, f2])).map((a) => a.result)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect((await svc.handle('sc-1', { code: 'BIN-0003' })).result).toBe('recorded');
    expect(rig.sink.of('scan').map((r) => r.bin)).toEqual(['BIN-0001', 'BIN-0003']);
  });

  it('a restarted service seeded from the outbox answers a resend recorded without storing it, and keeps the duplicate window', async () => {
    const rig = testRig(START);
    const outbox = new MemoryOutbox({ maxBytes: 1 << 20, maxAgeMs: 86_400_000, liveShare: 0.25 }, silent);
    await outbox.open();
    // Before the clock sync the records carry a provisional header (records/provisional.ts).
    const boot1 = new SyncedStamper('boot-1', rig.clock.now);
    const before = service(rig, new OutboxSink(outbox, boot1), boot1);
    await before.start();
    expect((await before.handle('sc-1', scan)).result).toBe('recorded');
    expect((await before.handle('sc-2', { code: 'BIN-0002', full: true })).result).toBe('recorded');
    rig.clock.advance(60_000);
    expect((await before.handle('sc-1', { code: 'BIN-0003' })).result).toBe('recorded');
    const held = () => {
      const recs: HutongRecord[] = [];
      outbox.forEachHeld('rec', (it) => recs.push(JSON.parse(new TextDecoder().decode(recordBytes(it.data))) as HutongRecord));
      return recs;
    };
    expect(held()).toHaveLength(3);

    // "Power loss": a new service, its memory rebuilt from the outbox only.
    rig.clock.advance(5_000);
    const boot2 = new SyncedStamper('boot-2', rig.clock.now);
    const after = service(rig, new OutboxSink(outbox, boot2), boot2);
    expect(seedBinScans(outbox, after)).toEqual({ held: 3, seeded: 3 });
    await after.start();
    expect((await after.handle('sc-1', scan)).result).toBe('recorded');
    expect((await after.handle('sc-2', { code: 'BIN-0002', full: true })).result).toBe('recorded');
    expect((await after.handle('sc-4', { code: 'BIN-0003' })).result).toBe('duplicate');
    expect(after.counters()).toMatchObject({ recorded: 0, full: 0, replayed: 2, duplicate: 1 });
    expect(held()).toHaveLength(3);
    // The window runs from the first scan's time: BIN-0001 (scanned 65 s before) is free again 10 min after it.
    rig.clock.advance(600_000 - 65_000);
    expect((await after.handle('sc-2', { code: 'BIN-0001' })).result).toBe('recorded');
    expect((await after.handle('sc-4', { code: 'BIN-0003' })).result).toBe('duplicate');
    expect(held()).toHaveLength(4);
  });

  it('a held scan stamped ahead of the gateway clock holds the window from now, not from the future', async () => {
    const rig = testRig(START);
    const svc = service(rig);
    const ahead = nsTimestamp(START + 3_600_000, 1);
    expect(svc.seedHeld({ k: 'scan', d: 'sc-1', ts: ahead, bin: 'BIN-0001', cat: 'kitchen' })).toBe(true);
    expect(svc.seedHeld({ k: 'scan', d: 'sc-1', ts: ahead, bin: 'BIN-9999', cat: 'kitchen' })).toBe(false);
    expect(svc.seedHeld({ k: 'state', d: 'sc-1', ts: ahead, type: 'bin_overdue', subject: 'BIN-0001', detail: 'x' })).toBe(false);
    await svc.start();
    expect((await svc.handle('sc-2', { code: 'BIN-0001' })).result).toBe('duplicate');
    rig.clock.advance(600_000);
    expect((await svc.handle('sc-2', { code: 'BIN-0001' })).result).toBe('recorded');
  });
});
