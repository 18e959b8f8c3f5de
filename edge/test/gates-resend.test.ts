import { rmSync } from 'node:fs';
import { checkConfig, type GateRecord, type HutongRecord, makeCode, nsTimestamp } from '@hutong/protocols';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryOutbox } from '../src/outbox/memory.js';
import { OutboxSink } from '../src/records/outbox-sink.js';
import { recordBytes } from '../src/records/provisional.js';
import type { RecordSink, Stamper } from '../src/records/sink.js';
import { SyncedStamper } from '../src/records/synced-stamper.js';
import { type GatesConfig, GatesSection, GateService, seedGateDecisions } from '../src/services/gates/index.js';
import { crypto, issue, type KeyPair, keyPair, tempDir, testRig } from './services-helpers.js';

/** A reader asking again for a request it got no answer to (request id `rid`): docs/passes.md. */
const issuer = keyPair();
const holder = keyPair();
const other = keyPair();

function config(): GatesConfig {
  const r = checkConfig(GatesSection, {
    compound: 'c1',
    issuerKeys: [{ kid: 2, publicKey: issuer.publicB64 }],
    gates: [
      { id: 'north', bit: 0, readers: [{ id: 'rd-n-in', dir: 'in' }, { id: 'rd-n-out', dir: 'out' }] },
      { id: 'south', bit: 1, readers: [{ id: 'rd-s-in', dir: 'in' }], antiPassback: true },
    ],
  });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
}

describe('gate requests asked again (reader request id)', () => {
  let rig: ReturnType<typeof testRig>;
  let dir: string;
  let relay: Array<[string, boolean]>;
  const svcs: GateService[] = [];
  const make = (sink: RecordSink = rig.sink, stamper: Stamper = rig.stamper) => {
    const s = new GateService({ ...rig, sink, stamper, now: rig.clock.now, config: config(), dataDir: dir, relay: (g, o) => relay.push([g, o]), gatewayId: 'gw1' });
    svcs.push(s);
    return s;
  };
  const code = (pass: Uint8Array, key: KeyPair = holder) => makeCode(pass, key.privateKey, rig.clock.t, crypto);
  const opens = () => relay.filter(([, o]) => o).length;

  beforeEach(() => {
    rig = testRig();
    dir = tempDir();
    relay = [];
  });
  afterEach(async () => {
    for (const s of svcs.splice(0)) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a repeated request gets its recorded decision again, opens the gate again, and is not recorded twice', async () => {
    const svc = make();
    await svc.start();
    const text = code(issue(issuer, 2, holder, rig.clock.t));
    expect(await svc.handle('rd-n-in', { code: text, rid: 7 })).toEqual({ result: 'grant', reason: 'ok' });
    expect(await svc.handle('rd-n-in', { code: text, rid: 7 })).toEqual({ result: 'grant', reason: 'ok' });
    expect(opens()).toBe(2);
    expect(rig.sink.of('gate')).toMatchObject([{ res: 'grant', rid: 7, d: 'rd-n-in' }]);
    expect(svc.counters()).toMatchObject({ grant: 1, request_replayed: 1 });
    // The same code under a new request id is a new presentation: a replay, denied and recorded.
    expect(await svc.handle('rd-n-in', { code: text, rid: 8 })).toEqual({ result: 'deny', reason: 'replayed' });
    // A denial is repeated as a denial.
    expect(await svc.handle('rd-n-in', { code: text, rid: 8 })).toEqual({ result: 'deny', reason: 'replayed' });
    expect(rig.sink.of('gate').map((g) => g.reason)).toEqual(['ok', 'replayed']);
    expect(opens()).toBe(2);
    // Without a request id every request is decided: the same code again is a replay, recorded again.
    expect(await svc.handle('rd-n-in', { code: text })).toEqual({ result: 'deny', reason: 'replayed' });
    expect(rig.sink.of('gate')).toHaveLength(3);
  });

  it('a single-use pass: the repeat of its granted request is granted, a later presentation is denied as used', async () => {
    const svc = make();
    await svc.start();
    const visitor = issue(issuer, 2, holder, rig.clock.t, { type: 'visitor', singleUse: true });
    const first = code(visitor);
    expect((await svc.handle('rd-n-in', { code: first, rid: 1 })).result).toBe('grant');
    expect((await svc.handle('rd-n-in', { code: first, rid: 1 })).result).toBe('grant');
    rig.clock.advance(30_000);
    expect(await svc.handle('rd-n-in', { code: code(visitor), rid: 2 })).toEqual({ result: 'deny', reason: 'used' });
    expect(rig.sink.of('gate').map((g) => `${g.res}:${g.reason}`)).toEqual(['grant:ok', 'deny:used']);
  });

  it('a request id reused for another pass, another direction, or after the code expired is decided afresh', async () => {
    const svc = make();
    await svc.start();
    expect((await svc.handle('rd-n-in', { code: code(issue(issuer, 2, holder, rig.clock.t)), rid: 1 })).result).toBe('grant');
    // A reader that restarted its ids: the next person's pass under id 1.
    expect((await svc.handle('rd-n-in', { code: code(issue(issuer, 2, other, rig.clock.t), other), rid: 1 })).result).toBe('grant');
    // A forged code under that id is not answered with the grant.
    expect(await svc.handle('rd-n-in', { code: 'HT:garbage', rid: 1 })).toEqual({ result: 'deny', reason: 'garbled' });
    // Same pass, other direction: anti-passback gate, the "in" grant is not repeated for an "out".
    const res = issue(issuer, 2, holder, rig.clock.t);
    const t = code(res);
    expect((await svc.handle('rd-s-in', { code: t, rid: 5 })).result).toBe('grant');
    expect(await svc.handle('rd-s-in', { code: t, rid: 5, dir: 'out' })).toEqual({ result: 'deny', reason: 'replayed' });
    // Past the time the code could be valid at all, the id is forgotten: decided again (stale by now).
    rig.clock.advance(91_000);
    expect(await svc.handle('rd-s-in', { code: t, rid: 5 })).toEqual({ result: 'deny', reason: 'stale' });
    expect(rig.sink.of('gate')).toHaveLength(6);
  });

  it('a repeat while the first copy is being stored waits for it; a first copy that was not recorded is not repeated', async () => {
    let open: () => void = () => {};
    const held = new Promise<void>((r) => (open = r));
    let fail = false;
    const slow: RecordSink = {
      append: async (recs) => {
        await held;
        if (fail) throw new Error('E_OUTBOX_FULL');
        return rig.sink.append(recs);
      },
    };
    const svc = make(slow);
    await svc.start();
    const text = code(issue(issuer, 2, holder, rig.clock.t));
    const a = svc.handle('rd-n-in', { code: text, rid: 3 });
    const b = svc.handle('rd-n-in', { code: text, rid: 3 });
    open();
    expect(await Promise.all([a, b])).toEqual([
      { result: 'grant', reason: 'ok' },
      { result: 'grant', reason: 'ok' },
    ]);
    expect(rig.sink.of('gate')).toHaveLength(1);
    fail = true;
    const t2 = code(issue(issuer, 2, holder, rig.clock.t));
    expect(await svc.handle('rd-n-in', { code: t2, rid: 4 })).toEqual({ result: 'deny', reason: 'not_recorded' });
    fail = false;
    // Decided again (the code was seen, so it is a replay now), and recorded this time.
    expect(await svc.handle('rd-n-in', { code: t2, rid: 4 })).toEqual({ result: 'deny', reason: 'replayed' });
    expect(rig.sink.of('gate').map((g) => g.reason)).toEqual(['ok', 'replayed']);
  });

  it('a restarted service seeded from the outbox answers a repeat with the decision recorded before the power loss', async () => {
    const outbox = new MemoryOutbox({ maxBytes: 1 << 20, maxAgeMs: 86_400_000, liveShare: 0.25 }, pino({ level: 'silent' }));
    await outbox.open();
    const boot1 = new SyncedStamper('boot-1', rig.clock.now);
    const before = make(new OutboxSink(outbox, boot1), boot1);
    await before.start();
    const visitor = issue(issuer, 2, holder, rig.clock.t, { type: 'visitor', singleUse: true });
    const granted = code(visitor);
    const denied = code(issue(issuer, 2, holder, rig.clock.t, { gates: 0b10 }));
    expect((await before.handle('rd-n-in', { code: granted, rid: 10 })).result).toBe('grant');
    expect((await before.handle('rd-n-out', { code: denied, rid: 11 })).reason).toBe('wrong_gate');
    expect((await before.handle('rd-n-out', { code: code(issue(issuer, 2, other, rig.clock.t), other) })).result).toBe('grant');
    await before.stop();
    const gates = (): GateRecord[] => {
      const out: GateRecord[] = [];
      outbox.forEachHeld('rec', (it) => {
        const r = JSON.parse(new TextDecoder().decode(recordBytes(it.data))) as HutongRecord;
        if (r.k === 'gate') out.push(r);
      });
      return out;
    };
    expect(gates()).toHaveLength(3);

    rig.clock.advance(8_000);
    relay = [];
    const boot2 = new SyncedStamper('boot-2', rig.clock.now);
    const after = make(new OutboxSink(outbox, boot2), boot2);
    expect(seedGateDecisions(outbox, after)).toEqual({ held: 3, seeded: 2 });
    await after.start();
    // The single-use pass was spent before the power loss: decided again it would be denied as used.
    expect(await after.handle('rd-n-in', { code: granted, rid: 10 })).toEqual({ result: 'grant', reason: 'ok' });
    expect(opens()).toBe(1);
    expect(await after.handle('rd-n-out', { code: denied, rid: 11 })).toEqual({ result: 'deny', reason: 'wrong_gate' });
    expect(gates()).toHaveLength(3);
    expect(after.counters()).toMatchObject({ request_replayed: 2 });
    // A new presentation of the spent pass is still refused.
    rig.clock.advance(30_000);
    expect(await after.handle('rd-n-in', { code: code(visitor), rid: 12 })).toEqual({ result: 'deny', reason: 'used' });
    expect(gates()).toHaveLength(4);
  });

  it('seeding skips records without a request id, of unknown readers, and holds the time of a future stamp to now', async () => {
    const svc = make();
    const base: GateRecord = { k: 'gate', d: 'rd-n-in', ts: nsTimestamp(rig.clock.t + 3_600_000, 1), gate: 'north', dir: 'in', res: 'deny', reason: 'garbled', ms: 1 };
    expect(svc.seedHeld(base)).toBe(false);
    expect(svc.seedHeld({ ...base, d: 'gw1', rid: 1 })).toBe(false);
    expect(svc.seedHeld({ ...base, rid: 1 })).toBe(true);
    await svc.start();
    expect(await svc.handle('rd-n-in', { code: 'HT:x', rid: 1 })).toEqual({ result: 'deny', reason: 'garbled' });
    expect(rig.sink.of('gate')).toHaveLength(0);
    rig.clock.advance(91_000);
    await svc.handle('rd-n-in', { code: 'HT:x', rid: 1 });
    expect(rig.sink.of('gate')).toHaveLength(1);
  });
});
