import { checkConfig } from '@hutong/protocols';
import { afterEach, describe, expect, it } from 'vitest';
import { type LotCounts, type ParkingConfig, ParkingSection, ParkingService } from '../src/services/parking/index.js';
import { testRig } from './services-helpers.js';

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
