import { checkConfig, type HutongRecord, type ParkRecord } from '@hutong/protocols';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryOutbox } from '../src/outbox/memory.js';
import { OutboxSink } from '../src/records/outbox-sink.js';
import { isProvisional, recordBytes } from '../src/records/provisional.js';
import type { RecordSink, Stamper } from '../src/records/sink.js';
import { ClockStamper } from '../src/records/stamper.js';
import { SyncedStamper } from '../src/records/synced-stamper.js';
import { type LotCounts, type ParkingConfig, ParkingSection, ParkingService, seedParkingFrames } from '../src/services/parking/index.js';
import { MemorySink, testRig } from './services-helpers.js';

/** Small seeded PRNG (mulberry32) so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TYPES = ['normal', 'normal', 'normal', 'visitor', 'no_parking', 'shared'] as const;

function config(lots: number, perLot: number, over: Record<string, unknown> = {}): ParkingConfig {
  const r = checkConfig(ParkingSection, {
    lots: Array.from({ length: lots }, (_, l) => ({
      id: `lot-${l}`,
      grid: `g-${l}`,
      spaces: Array.from({ length: perLot }, (_, i) => {
        const type = TYPES[i % TYPES.length];
        return { id: `s${i}`, sensor: `ps-${l}-${i}`, type, ...(type === 'shared' ? { share: [{ from: '08:00', to: '18:00' }] } : {}) };
      }),
    })),
    ...over,
  });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
}

// 2026-11-20 07:00 local (UTC+8)
const START = Date.UTC(2026, 10, 19, 23, 0, 0);

describe('parking service', () => {
  let svc: ParkingService | undefined;
  afterEach(() => svc?.stop());

  function make(cfg: ParkingConfig, start = START) {
    const rig = testRig(start);
    const s = new ParkingService({ ...rig, now: rig.clock.now, config: cfg, gatewayId: 'gw1' });
    svc = s;
    return { rig, svc: s };
  }

  it('after 10 000 seeded events with flapping and silence, counts equal a model of the final state', async () => {
    const cfg = config(3, 60);
    const { rig, svc } = make(cfg);
    await svc.start();
    const live = new Map<string, LotCounts>();
    svc.subscribe((lot, c) => live.set(lot, c));
    const rand = rng(20261122);
    const sensors = cfg.lots.flatMap((l) => l.spaces.map((s) => ({ lot: l.id, space: s, sensor: s.sensor })));
    const last = new Map<string, { at: number; occ: boolean }>();
    const occ = new Map<string, boolean>();
    const quiet = new Set(sensors.filter(() => rand() < 0.15).map((s) => s.sensor));
    for (let i = 0; i < 10_000; i++) {
      rig.clock.advance(Math.floor(rand() * 2500));
      if (rand() < 0.02) {
        await svc.handle('ps-not-mapped', { occ: true });
        continue;
      }
      const s = sensors[Math.floor(rand() * sensors.length)] as (typeof sensors)[number];
      // A quarter of the sensors fall silent half way (and stay silent past the timeout).
      if (i > 5000 && quiet.has(s.sensor)) continue;
      // Flapping: most readings flip the state, often within the debounce time.
      const prev = occ.get(s.sensor) ?? false;
      const v = rand() < 0.6 ? !prev : prev;
      occ.set(s.sensor, v);
      last.set(s.sensor, { at: rig.clock.t, occ: v });
      await svc.handle(s.sensor, { occ: v, bat: 80 });
      if (rand() < 0.05) svc.tick();
    }
    // Past the debounce time: every last reading counts; silent sensors are past the silence timeout.
    rig.clock.advance(cfg.debounceMs + 1);
    svc.tick();
    const T = rig.clock.t;
    const localHour = new Date(T + 8 * 3_600_000).getUTCHours();
    const model: Record<string, LotCounts> = {};
    for (const s of sensors) {
      model[s.lot] ??= { free: 0, occupied: 0, unknown: 0 };
      const c = model[s.lot] as LotCounts;
      const t = s.space.type;
      if (t === 'no_parking' || (t === 'shared' && !(localHour >= 8 && localHour < 18))) continue;
      const l = last.get(s.sensor);
      if (!l || T - l.at > cfg.silenceMs) c.unknown++;
      else if (l.occ) c.occupied++;
      else c.free++;
    }
    expect(svc.counts()).toEqual(model);
    for (const [lot, c] of Object.entries(model)) expect(live.get(lot)).toEqual(c);
    // Sanity: the run exercised all three states.
    const all = Object.values(model).reduce((a, c) => ({ f: a.f + c.free, o: a.o + c.occupied, u: a.u + c.unknown }), { f: 0, o: 0, u: 0 });
    expect(all.f).toBeGreaterThan(0);
    expect(all.o).toBeGreaterThan(0);
    expect(all.u).toBeGreaterThan(0);
    // Every accepted reading was recorded; lot records, once the throttle passed, end at the live counts.
    expect(rig.sink.of('park')).toHaveLength(svc.counters().readings as number);
    expect(svc.counters().unknown_sensor).toBeGreaterThan(0);
    rig.clock.advance(cfg.lotThrottleMs);
    svc.tick();
    await Promise.resolve();
    for (const [lot, c] of Object.entries(model)) {
      const lr = rig.sink.of('lot').filter((r) => r.lot === lot).at(-1);
      expect(lr && { free: lr.free, occupied: lr.occupied, unknown: lr.unknown }).toEqual(c);
    }
  });

  it('a flapping sensor does not move the count; a held state does', async () => {
    const { rig, svc } = make(config(1, 1, { debounceMs: 10_000 }));
    await svc.start();
    expect(svc.counts()['lot-0']).toEqual({ free: 0, occupied: 0, unknown: 1 });
    await svc.handle('ps-0-0', { occ: false });
    rig.clock.advance(10_000);
    svc.tick();
    expect(svc.counts()['lot-0']).toEqual({ free: 1, occupied: 0, unknown: 0 });
    for (let i = 0; i < 10; i++) {
      rig.clock.advance(3000);
      await svc.handle('ps-0-0', { occ: i % 2 === 0 });
      expect(svc.counts()['lot-0']?.free).toBe(1);
    }
    await svc.handle('ps-0-0', { occ: true });
    rig.clock.advance(9_999);
    expect(svc.counts()['lot-0']?.occupied).toBe(0);
    rig.clock.advance(1);
    expect(svc.counts()['lot-0']?.occupied).toBe(1);
  });

  it('a silent sensor makes its space unknown, not free', async () => {
    const { rig, svc } = make(config(1, 1));
    await svc.start();
    await svc.handle('ps-0-0', { occ: false });
    rig.clock.advance(150_000);
    expect(svc.counts()['lot-0']).toEqual({ free: 1, occupied: 0, unknown: 0 });
    rig.clock.advance(1);
    expect(svc.counts()['lot-0']).toEqual({ free: 0, occupied: 0, unknown: 1 });
  });

  it('shared spaces count only inside their window; no-parking occupation and visitor overstay raise state records', async () => {
    const { rig, svc } = make(config(1, 6)); // s3 visitor, s4 no_parking, s5 shared 08-18
    await svc.start();
    for (let i = 0; i < 6; i++) await svc.handle(`ps-0-${i}`, { occ: i >= 3 });
    rig.clock.advance(10_000);
    svc.tick();
    // 07:00 local: the shared space is not offered.
    expect(svc.counts()['lot-0']).toEqual({ free: 3, occupied: 1, unknown: 0 });
    const np = rig.sink.of('state').filter((s) => s.type === 'no_parking');
    expect(np).toMatchObject([{ subject: 'lot-0.s4', grid: 'g-0', d: 'ps-0-4' }]);
    // Readings every 30 s for four hours; at 08:00 the shared space joins, after 4 h the visitor overstays.
    for (let t = 0; t < 4 * 120 + 2; t++) {
      rig.clock.advance(30_000);
      for (let i = 0; i < 6; i++) await svc.handle(`ps-0-${i}`, { occ: i >= 3 });
      svc.tick();
    }
    expect(svc.counts()['lot-0']).toEqual({ free: 3, occupied: 2, unknown: 0 });
    expect(rig.sink.of('state').filter((s) => s.type === 'no_parking')).toHaveLength(1);
    expect(rig.sink.of('state').filter((s) => s.type === 'space_overstay')).toMatchObject([{ subject: 'lot-0.s3' }]);
    // Lot records are throttled: far fewer than the count changes would allow per reading.
    expect(rig.sink.of('lot').length).toBeLessThan(5);
  });
});

describe('parking frame counters (QoS 1 resends)', () => {
  const silent = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
  let svcs: ParkingService[] = [];
  afterEach(async () => {
    for (const s of svcs.splice(0)) await s.stop();
  });

  function service(sink: RecordSink, stamper: Stamper = new ClockStamper(() => START)): ParkingService {
    const s = new ParkingService({ config: config(1, 3), sink, stamper, logger: silent, now: () => START, gatewayId: 'gw1' });
    svcs.push(s);
    return s;
  }
  const parks = (sink: MemorySink, sensor: string) => sink.of('park').filter((r) => r.d === sensor);

  it('a frame sent twice is stored once and counted as replayed; a new counter or no counter is stored', async () => {
    const sink = new MemorySink();
    const svc = service(sink);
    await svc.start();
    await svc.handle('ps-0-0', { occ: true, bat: 80, fcnt: 41 });
    await svc.handle('ps-0-0', { occ: true, bat: 80, fcnt: 41 });
    expect(parks(sink, 'ps-0-0')).toMatchObject([{ occ: true, bat: 80, fc: 41 }]);
    expect(svc.counters()).toMatchObject({ readings: 1, replayed: 1 });
    await svc.handle('ps-0-0', { occ: true, bat: 80, fcnt: 42 });
    expect(parks(sink, 'ps-0-0').map((r) => r.fc)).toEqual([41, 42]);
    // Another sensor's counter is its own.
    await svc.handle('ps-0-1', { occ: false, fcnt: 42 });
    expect(parks(sink, 'ps-0-1')).toHaveLength(1);
    // Without a counter every reading is a new one, as before.
    await svc.handle('ps-0-2', { occ: false });
    await svc.handle('ps-0-2', { occ: false });
    const plain = parks(sink, 'ps-0-2');
    expect(plain).toHaveLength(2);
    expect(plain[0]).not.toHaveProperty('fc');
    expect(svc.counters()).toMatchObject({ readings: 5, replayed: 1 });
  });

  it('the same counter with other content is a restarted sensor, not a resend: stored', async () => {
    const sink = new MemorySink();
    const svc = service(sink);
    await svc.start();
    await svc.handle('ps-0-0', { occ: true, fcnt: 0 });
    await svc.handle('ps-0-0', { occ: false, fcnt: 0 });
    expect(parks(sink, 'ps-0-0').map((r) => r.occ)).toEqual([true, false]);
    expect(svc.counters().replayed).toBe(0);
  });

  it('a frame whose append failed (no PUBACK) is stored when it comes again', async () => {
    const sink = new MemorySink();
    const svc = service(sink);
    await svc.start();
    sink.fail = true;
    await expect(svc.handle('ps-0-0', { occ: true, fcnt: 7 })).rejects.toThrow(/E_OUTBOX_FULL/);
    sink.fail = false;
    await svc.handle('ps-0-0', { occ: true, fcnt: 7 });
    expect(parks(sink, 'ps-0-0')).toMatchObject([{ fc: 7 }]);
    expect(svc.counters().replayed).toBe(0);
  });

  it('a resend arriving while the first copy is still being stored waits for it and is not stored again', async () => {
    const sink = new MemorySink();
    let open: () => void = () => {};
    const gate = new Promise<void>((r) => (open = r));
    const slow: RecordSink = { append: async (recs) => (await gate, sink.append(recs)) };
    const svc = service(slow);
    await svc.start();
    let firstDone = false;
    const first = svc.handle('ps-0-0', { occ: true, fcnt: 9 }).then(() => (firstDone = true));
    let secondDone = false;
    const second = svc.handle('ps-0-0', { occ: true, fcnt: 9 }).then(() => (secondDone = true));
    await Promise.resolve();
    // Neither is answered before the record is durable.
    expect(firstDone || secondDone).toBe(false);
    open();
    await Promise.all([first, second]);
    expect(parks(sink, 'ps-0-0')).toHaveLength(1);
    expect(svc.counters().replayed).toBe(1);
  });

  it('a restarted service seeded from the outbox knows the last stored frame of each sensor, provisional stamps included', async () => {
    const outbox = new MemoryOutbox({ maxBytes: 1 << 20, maxAgeMs: 86_400_000, liveShare: 0.25 }, silent);
    await outbox.open();
    // Before the clock sync the records carry a provisional header (records/provisional.ts).
    const boot1 = new SyncedStamper('boot-1');
    const before = service(new OutboxSink(outbox, boot1), boot1);
    await before.start();
    await before.handle('ps-0-0', { occ: true, fcnt: 5 });
    await before.handle('ps-0-0', { occ: false, fcnt: 6 });
    await before.handle('ps-0-1', { occ: true, fcnt: 100 });
    await before.handle('ps-0-2', { occ: true });
    const held = () => {
      const recs: ParkRecord[] = [];
      outbox.forEachHeld('rec', (it) => {
        const r = JSON.parse(new TextDecoder().decode(recordBytes(it.data))) as HutongRecord;
        if (r.k === 'park') recs.push(r);
      });
      return recs;
    };
    expect(held()).toHaveLength(4);
    let provisional = 0;
    outbox.forEachHeld('rec', (it) => (provisional += isProvisional(it.data) ? 1 : 0));
    expect(provisional).toBeGreaterThanOrEqual(4);

    const boot2 = new SyncedStamper('boot-2');
    const after = service(new OutboxSink(outbox, boot2), boot2);
    expect(seedParkingFrames(outbox, after)).toMatchObject({ seeded: 3 });
    await after.start();
    // The resends of the last frames before the "power loss": answered, not stored.
    await after.handle('ps-0-0', { occ: false, fcnt: 6 });
    await after.handle('ps-0-1', { occ: true, fcnt: 100 });
    expect(after.counters()).toMatchObject({ replayed: 2, readings: 0 });
    expect(held()).toHaveLength(4);
    // The frame before the last one is not what a resend can be (docs/faults.md): it is stored, as is a new one.
    await after.handle('ps-0-0', { occ: true, fcnt: 7 });
    await after.handle('ps-0-2', { occ: true });
    expect(held().map((r) => `${r.d}:${r.fc ?? '-'}`)).toEqual(['ps-0-0:5', 'ps-0-0:6', 'ps-0-1:100', 'ps-0-2:-', 'ps-0-0:7', 'ps-0-2:-']);
  });
});
