import { rmSync } from 'node:fs';
import { checkConfig, makeCode, PASS_DENY_REASONS, type PassDenyReason, type RevocationMessage } from '@hutong/protocols';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type GatesConfig, GatesSection, GateService } from '../src/services/gates/index.js';
import { crypto, hex8, issue, type KeyPair, keyPair, tempDir, testRig } from './services-helpers.js';

const issuer = keyPair();
const oldIssuer = keyPair();
const holder = keyPair();

function config(): GatesConfig {
  const r = checkConfig(GatesSection, {
    compound: 'c1',
    issuerKeys: [
      { kid: 1, publicKey: oldIssuer.publicB64 },
      { kid: 2, publicKey: issuer.publicB64 },
    ],
    gates: [
      { id: 'north', bit: 0, readers: [{ id: 'rd-n-in', dir: 'in' }, { id: 'rd-n-out', dir: 'out' }], fireZones: ['z1'] },
      { id: 'south', bit: 1, readers: [{ id: 'rd-s-in', dir: 'in' }], antiPassback: true, failMode: 'fail-open' },
    ],
  });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
}

describe('gate service', () => {
  let rig: ReturnType<typeof testRig>;
  let dir: string;
  let svc: GateService;
  let relay: Array<[string, boolean]>;

  const make = () =>
    new GateService({ ...rig, now: rig.clock.now, config: config(), dataDir: dir, relay: (g, o) => relay.push([g, o]), gatewayId: 'gw1' });
  const code = (pass: Uint8Array, key: KeyPair = holder, at = rig.clock.t) => makeCode(pass, key.privateKey, at, crypto);

  beforeEach(async () => {
    rig = testRig();
    dir = tempDir();
    relay = [];
    svc = make();
    await svc.start();
  });
  afterEach(async () => {
    await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies config defaults and rejects typos all at once', () => {
    const c = config();
    expect(c.freshnessMs).toBe(60_000);
    expect(c.denials.count).toBe(5);
    expect(c.gates[0]?.failMode).toBe('fail-secure');
    const bad = checkConfig(GatesSection, { compound: 'c1', gatess: [], freshnessMs: 5 });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues.length).toBeGreaterThanOrEqual(2);
  });

  it('grants a valid pass, pulses the relay and records the decision without the code', async () => {
    const pass = issue(issuer, 2, holder, rig.clock.t);
    const text = code(pass);
    const a = await svc.handle('rd-n-in', { code: text });
    expect(a).toEqual({ result: 'grant', reason: 'ok' });
    expect(relay).toEqual([['north', true]]);
    const [rec] = rig.sink.of('gate');
    expect(rec).toMatchObject({ gate: 'north', dir: 'in', res: 'grant', reason: 'ok', d: 'rd-n-in' });
    expect(rec?.holder).toMatch(/^[0-9a-f]{16}$/);
    expect(rec?.ms).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(rig.sink.records)).not.toContain(text.slice(10, 40));
    // A pass signed by the previous (still listed) issuer key is accepted too: key rotation.
    const old = await svc.handle('rd-n-in', { code: code(issue(oldIssuer, 1, holder, rig.clock.t)) });
    expect(old.result).toBe('grant');
  });

  it('denies each bad input with its own reason and counter', async () => {
    const now = rig.clock.t;
    const s = Math.floor(now / 1000);
    const valid = () => issue(issuer, 2, holder, now);
    const cases: Array<[PassDenyReason, () => string | Promise<string>, string?]> = [
      ['garbled', () => 'HT:not a pass'],
      ['unknown_key', () => code(issue(keyPair(), 7, holder, now))],
      [
        'bad_issuer_sig',
        () => {
          const p = valid();
          const at = p.length - 64 - 32 - 1 - 4 - 4 - 1; // last byte of the gate mask
          p[at] = (p[at] as number) ^ 0x01; // one gate bit flipped: the issuer signature no longer matches
          return code(p);
        },
      ],
      ['bad_holder_sig', () => code(valid(), keyPair())],
      ['stale', () => code(valid(), holder, now - 61_000)],
      ['not_yet_valid', () => code(issue(issuer, 2, holder, now, { validFrom: s + 3600, validUntil: s + 7200 }))],
      ['expired', () => code(issue(issuer, 2, holder, now, { validFrom: s - 7200, validUntil: s - 3600 }))],
      ['wrong_gate', () => code(issue(issuer, 2, holder, now, { gates: 0b10 }))],
      [
        'revoked',
        async () => {
          const passId = hex8();
          await svc.applyRevocations({ v: 2, from: 0, to: 1, full: false, add: [passId], remove: [] });
          return code(issue(issuer, 2, holder, now, { passId }));
        },
      ],
    ];
    for (const [reason, mk] of cases) {
      const a = await svc.handle('rd-n-in', { code: await mk() });
      expect(a, reason).toEqual({ result: 'deny', reason });
      expect(svc.counters()[`deny_${reason}`], reason).toBe(1);
    }
    // A code from further in the future than the skew allowance is stale too.
    expect((await svc.handle('rd-n-in', { code: code(valid(), holder, now + 61_000) })).reason).toBe('stale');

    // replayed: the same code twice (a screenshot)
    const text = code(valid());
    expect((await svc.handle('rd-n-in', { code: text })).result).toBe('grant');
    expect(await svc.handle('rd-n-out', { code: text })).toEqual({ result: 'deny', reason: 'replayed' });

    // used: a single-use visitor pass shown again at the next time step
    const visitor = issue(issuer, 2, holder, now, { type: 'visitor', singleUse: true });
    expect((await svc.handle('rd-n-in', { code: code(visitor) })).result).toBe('grant');
    rig.clock.advance(30_000);
    expect(await svc.handle('rd-n-in', { code: code(visitor) })).toEqual({ result: 'deny', reason: 'used' });

    // passback: anti-passback gate south, twice "in" without an "out"
    const res = valid();
    expect((await svc.handle('rd-s-in', { code: code(res) })).result).toBe('grant');
    rig.clock.advance(30_000);
    expect(await svc.handle('rd-s-in', { code: code(res) })).toEqual({ result: 'deny', reason: 'passback' });
    rig.clock.advance(30_000);
    expect((await svc.handle('rd-s-in', { code: code(res), dir: 'out' })).result).toBe('grant');

    const c = svc.counters();
    for (const r of PASS_DENY_REASONS) expect(c[`deny_${r}`], r).toBeGreaterThanOrEqual(1);
    const denied = rig.sink.of('gate').filter((g) => g.res === 'deny');
    expect(new Set(denied.map((g) => g.reason))).toEqual(new Set(PASS_DENY_REASONS));
    // Garbled and unknown-key codes carry no holder: nothing authentic to name.
    expect(denied.find((g) => g.reason === 'garbled')?.holder).toBeUndefined();
  });

  it('garbled covers bad prefix, bad alphabet, truncation and trailing bytes', async () => {
    const text = code(issue(issuer, 2, holder, rig.clock.t));
    for (const bad of ['hello', 'HT:', 'HT:@@@', text.slice(0, -6), `${text}00`, text.replace('HT:', 'HX:')]) {
      expect((await svc.handle('rd-n-in', { code: bad })).reason, bad.slice(0, 12)).toBe('garbled');
    }
  });

  it('a revocation is honoured by the very next verify, before it is persisted', async () => {
    const pass = issue(issuer, 2, holder, rig.clock.t);
    const passId = Buffer.from(pass.subarray(2, 10)).toString('hex');
    const p = svc.applyRevocations({ v: 2, from: 0, to: 5, full: true, add: [passId], remove: [] });
    expect(await svc.handle('rd-n-in', { code: code(pass) })).toEqual({ result: 'deny', reason: 'revoked' });
    expect(await p).toEqual({ applied: true, version: 5 });
    // Un-revoked by an incremental message 5→6.
    await svc.applyRevocations({ v: 2, from: 5, to: 6, full: false, add: [], remove: [passId] });
    rig.clock.advance(30_000);
    expect((await svc.handle('rd-n-in', { code: code(pass) })).result).toBe('grant');
    // A gap (from 9, we are at 6) is skipped and counted; the list stays at 6.
    expect(await svc.applyRevocations({ v: 2, from: 9, to: 10, full: false, add: [passId], remove: [] })).toMatchObject({
      applied: false,
      reason: 'gap',
    });
    expect(svc.revocationVersion()).toBe(6);
    expect(svc.counters().revocation_gap).toBe(1);
  });

  it('persists a 100 000-entry revocation list and spent single-use passes across a restart', async () => {
    const ids = Array.from({ length: 100_000 }, () => hex8());
    const first: RevocationMessage = { v: 2, from: 0, to: 40, full: true, add: ids.slice(0, 50_000), remove: [] };
    const rest: RevocationMessage = { v: 2, from: 40, to: 40, full: false, add: ids.slice(50_000), remove: [] };
    await svc.applyRevocations(first);
    await svc.applyRevocations(rest);
    const visitor = issue(issuer, 2, holder, rig.clock.t, { singleUse: true });
    expect((await svc.handle('rd-n-in', { code: code(visitor) })).result).toBe('grant');
    await svc.stop();

    svc = make();
    await svc.start();
    expect(svc.revocationVersion()).toBe(40);
    expect(svc.counters().revocations_size).toBe(100_000);
    const revoked = issue(issuer, 2, holder, rig.clock.t, { passId: ids[99_999] as string });
    expect((await svc.handle('rd-n-in', { code: code(revoked) })).reason).toBe('revoked');
    rig.clock.advance(30_000);
    expect((await svc.handle('rd-n-in', { code: code(visitor) })).reason).toBe('used');
  });

  it('raises one pass_denied state record for a burst of denials at one gate', async () => {
    for (let i = 0; i < 7; i++) await svc.handle('rd-n-in', { code: `HT:junk${i}` });
    const alerts = rig.sink.of('state').filter((s) => s.type === 'pass_denied');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ subject: 'north', d: 'rd-n-in' });
    rig.clock.advance(120_000);
    for (let i = 0; i < 5; i++) await svc.handle('rd-n-in', { code: `HT:junk${i}` });
    expect(rig.sink.of('state').filter((s) => s.type === 'pass_denied')).toHaveLength(2);
  });

  it('fire alarm releases its gates and manual opens are audited', async () => {
    await svc.fireAlarm('z1', true);
    expect(relay).toEqual([['north', true]]);
    await svc.fireAlarm('z1', false);
    expect(relay.at(-1)).toEqual(['north', false]);
    await svc.manualOpen('south', 'guard-7');
    expect(relay.at(-1)).toEqual(['south', true]);
    const recs = rig.sink.of('gate');
    expect(recs.map((r) => [r.gate, r.res, r.reason, r.holder])).toEqual([
      ['north', 'grant', 'fire_alarm', undefined],
      ['north', 'deny', 'fire_clear', undefined],
      ['south', 'grant', 'manual', 'guard-7'],
    ]);
    await expect(svc.manualOpen('west', 'guard-7')).rejects.toThrow(/unknown gate/);
  });

  it('answers only after the record is durable; when it cannot be recorded, follows the gate fail mode', async () => {
    rig.sink.fail = true;
    const a = await svc.handle('rd-n-in', { code: code(issue(issuer, 2, holder, rig.clock.t)) });
    expect(a).toEqual({ result: 'deny', reason: 'not_recorded' });
    expect(relay).toEqual([]);
    const b = await svc.handle('rd-s-in', { code: code(issue(issuer, 2, holder, rig.clock.t)) });
    expect(b).toEqual({ result: 'grant', reason: 'fail_open' });
    expect(relay).toEqual([['south', true]]);
    expect(svc.counters().record_failed).toBe(2);
    expect(await svc.handle('nobody', { code: 'x' })).toEqual({ result: 'deny', reason: 'unknown_reader' });
  });
});
