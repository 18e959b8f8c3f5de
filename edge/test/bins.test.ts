import { checkConfig } from '@hutong/protocols';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BinsConfig, BinsSection, BinService } from '../src/services/bins/index.js';
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
