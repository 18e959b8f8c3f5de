import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  type GateRecord,
  type HutongRecord,
  isValidId,
  nsToMs,
  type PassAnswer,
  type PassCrypto,
  type PassRequest,
  type RevocationMessage,
  revocationMessage,
} from '@hutong/protocols';
import type { Logger } from 'pino';
import type { DeviceService } from '../../adapters/contract.js';
import type { RecordSink, Stamper } from '../../records/sink.js';
import type { GatesConfig } from './config.js';
import { nodePassCrypto } from './crypto.js';
import { type ApplyResult, PersistedIdSet } from './revocations.js';
import { type Decision, PassVerifier } from './verifier.js';

export { GatesSection, type GatesConfig } from './config.js';
export { nodePassCrypto, ed25519PublicKey, ed25519PrivateKey } from './crypto.js';
export type { ApplyResult } from './revocations.js';
export { gateDecisionsVisitor, seedGateDecisions } from './held.js';

type Gate = GatesConfig['gates'][number];

/**
 * A decision made for one reader request id (`rid`) and recorded: what a repeat of that request is answered.
 * `done` is set while its record is being stored and resolves with the answer, or undefined if it was not stored.
 */
interface Answered {
  at: number;
  dir: 'in' | 'out';
  holder: string | undefined;
  answer: PassAnswer;
  done?: Promise<PassAnswer | undefined>;
}

/** Request ids remembered per reader: a reader asks again for its last request, not for older ones. */
const ANSWERED_PER_READER = 16;

export interface GateServiceOptions {
  config: GatesConfig;
  sink: RecordSink;
  stamper: Stamper;
  logger: Logger;
  /** Drives the gate's relay (site/gate/{id}/relay in the agent). Must not throw; errors are counted if it does. */
  relay: (gate: string, open: boolean) => void;
  /** The gateway's data dir: the revocation list and used single-use passes persist there. */
  dataDir: string;
  /** Device id on gateway-level gate records (fire alarm, manual open). */
  gatewayId?: string;
  now?: () => number;
  crypto?: PassCrypto;
}

/**
 * Access gates: verifies passes offline (PassVerifier), records every decision as a `gate` record and answers the
 * reader only once that record is durable; a grant pulses the relay. Fire alarms release their gates; a guard's
 * manual open is recorded like any decision. Repeated denials at one gate raise one `pass_denied` state record.
 *
 * A reader that sends a request id (`rid`) and asks again with the same id because it got no answer (MQTT QoS 1
 * resend, a TCP or serial reader retrying after the gateway restarted) gets the recorded decision again, without
 * a second decision or record; a grant pulses the relay again, since the person is still at the gate. Recorded
 * decisions are seeded on start from the gate records still held in the outbox (docs/passes.md).
 */
export class GateService implements DeviceService<PassRequest, PassAnswer> {
  private readonly byReader = new Map<string, { gate: Gate; dir: 'in' | 'out' }>();
  private readonly gates = new Map<string, Gate>();
  private readonly revoked: PersistedIdSet;
  private readonly used: PersistedIdSet;
  private readonly verifier: PassVerifier;
  private readonly now: () => number;
  private readonly gw: string;
  private readonly pulses = new Map<string, NodeJS.Timeout>();
  private readonly alarms = new Set<string>();
  private readonly released = new Set<string>();
  private readonly denials = new Map<string, { times: number[]; raised: boolean }>();
  /** reader → rid → its recorded decision, for as long as the request's code could be valid. */
  private readonly answered = new Map<string, Map<number, Answered>>();
  private readonly count: Record<string, number> = {};
  private pruneTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: GateServiceOptions) {
    this.now = o.now ?? Date.now;
    this.gw = o.gatewayId ?? 'gateway';
    for (const g of o.config.gates) {
      this.gates.set(g.id, g);
      for (const r of g.readers) this.byReader.set(r.id, { gate: g, dir: r.dir });
    }
    this.revoked = new PersistedIdSet(join(o.dataDir, o.config.revocationsFile));
    this.used = new PersistedIdSet(join(o.dataDir, 'passes-used.json'));
    this.verifier = new PassVerifier(o.config, o.crypto ?? nodePassCrypto(), this.revoked, this.used);
  }

  async start(): Promise<void> {
    await this.revoked.load();
    await this.used.load();
    this.o.logger.info({ version: this.revoked.version, revoked: this.revoked.size }, 'gates: revocation list loaded');
    this.pruneTimer = setInterval(() => this.verifier.prune(this.now()), 30_000);
    this.pruneTimer.unref();
  }

  /** Leaves every relay in its fail-mode state: fail-open gates released, fail-secure gates shut. */
  async stop(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    for (const t of this.pulses.values()) clearTimeout(t);
    this.pulses.clear();
    for (const g of this.gates.values()) this.drive(g.id, g.failMode === 'fail-open');
    await Promise.allSettled([this.revoked.flush(), this.used.flush()]);
  }

  counters(): Record<string, number> {
    return {
      ...this.count,
      revocations_version: this.revoked.version,
      revocations_size: this.revoked.size,
      replay_cache: this.verifier.seenSize,
      replay_cache_dropped: this.verifier.replayDropped,
    };
  }

  revocationVersion(): number {
    return this.revoked.version;
  }

  async handle(readerId: string, req: PassRequest): Promise<PassAnswer> {
    const t0 = performance.now();
    const reader = this.byReader.get(readerId);
    if (!reader) {
      this.inc('unknown_reader');
      this.o.logger.warn({ reader: readerId }, 'gates: pass from an unknown reader');
      return { result: 'deny', reason: 'unknown_reader' };
    }
    const { gate } = reader;
    // Adapters validate requests; a direct caller's junk is still only a garbled code, never a throw.
    const dir = req.dir === 'in' || req.dir === 'out' ? req.dir : reader.dir;
    const now = this.now();
    const rid = typeof req.rid === 'number' && typeof req.code === 'string' ? req.rid : undefined;
    // Looked up before any await, so a repeat arriving while the first copy is stored finds it.
    const first = rid === undefined ? undefined : this.repeatOf(readerId, rid, req.code, dir, now);
    if (first) {
      const a = first.done ? await first.done : first.answer;
      if (a) {
        this.inc('request_replayed');
        this.o.logger.debug({ reader: readerId, rid }, 'gates: repeated request answered with its recorded decision');
        if (a.result === 'grant') this.pulse(gate);
        return a;
      }
    }
    const d: Decision = typeof req.code === 'string' ? this.verifier.decide(req.code, gate, dir, now) : { res: 'deny', reason: 'garbled' };
    const ms = Math.round((performance.now() - t0) * 1000) / 1000;
    const rec: GateRecord = { k: 'gate', d: readerId, ts: this.o.stamper.stamp(readerId), gate: gate.id, dir, res: d.res, reason: d.reason, ms };
    if (d.holder) rec.holder = d.holder;
    if (rid !== undefined) rec.rid = rid;
    const recs: HutongRecord[] = [rec];
    if (d.res === 'deny') {
      this.inc(`deny_${d.reason}`);
      const alert = this.noteDenial(gate.id, readerId, now, d.reason);
      if (alert) recs.push(alert);
    } else {
      this.inc('grant');
    }
    const answer: PassAnswer = { result: d.res, reason: d.reason };
    let settle: (a: PassAnswer | undefined) => void = () => {};
    const mem: Answered | undefined =
      rid === undefined ? undefined : { at: now, dir, holder: d.holder, answer, done: new Promise((r) => (settle = r)) };
    if (mem && rid !== undefined) this.remember(readerId, rid, mem);
    try {
      const writes: Promise<void>[] = [this.o.sink.append(recs)];
      // A single-use pass is spent durably before the gate opens, so a crash cannot hand it out twice.
      if (d.res === 'grant' && d.singleUse) writes.push(this.used.add(d.passId));
      await Promise.all(writes);
      if (mem) delete mem.done;
      settle(answer);
    } catch (e) {
      // Not recorded: a repeat of this request is decided afresh.
      if (rid !== undefined && this.answered.get(readerId)?.get(rid) === mem) this.answered.get(readerId)?.delete(rid);
      settle(undefined);
      this.inc('record_failed');
      this.o.logger.error({ err: e, gate: gate.id }, 'gates: decision could not be recorded');
      if (d.res === 'grant' && gate.failMode === 'fail-open') {
        this.pulse(gate);
        return { result: 'grant', reason: 'fail_open' };
      }
      return { result: 'deny', reason: 'not_recorded' };
    }
    if (d.res === 'grant') this.pulse(gate);
    return answer;
  }

  /**
   * Takes a gate record still held in the outbox as a recorded decision (called on start, in append order, before
   * devices connect): a reader that asks again, with the same request id, for a decision whose answer was lost in
   * a power loss then gets that decision. Only reader records with a request id; returns whether it was taken.
   */
  seedHeld(rec: GateRecord): boolean {
    if (rec.rid === undefined || !this.byReader.has(rec.d)) return false;
    const at = Math.min(nsToMs(rec.ts), this.now());
    this.remember(rec.d, rec.rid, { at, dir: rec.dir, holder: rec.holder, answer: { result: rec.res, reason: rec.reason } });
    return true;
  }

  /**
   * The first copy of request `rid` of this reader if this is a repeat of it, else undefined. A repeat names the
   * same direction and, within the time its code can be valid at all, shows the same holder's authentic code (or,
   * like the first, no authentic code): a reader that restarted its ids and sends another pass under an old id is
   * decided afresh.
   */
  private repeatOf(readerId: string, rid: number, code: string, dir: 'in' | 'out', now: number): Answered | undefined {
    const mem = this.answered.get(readerId)?.get(rid);
    if (!mem || mem.dir !== dir || now - mem.at > this.o.config.freshnessMs + this.o.config.skewMs) return undefined;
    return this.verifier.authenticHolder(code) === mem.holder ? mem : undefined;
  }

  private remember(readerId: string, rid: number, mem: Answered): void {
    let m = this.answered.get(readerId);
    if (!m) {
      m = new Map();
      this.answered.set(readerId, m);
    }
    m.delete(rid);
    m.set(rid, mem);
    if (m.size > ANSWERED_PER_READER) m.delete(m.keys().next().value as number);
  }

  /**
   * Applies a revocation list message from the cloud. The in-memory set changes before this returns, so the
   * next verify already honours it; the promise resolves once the list is on disk.
   */
  async applyRevocations(msg: RevocationMessage): Promise<ApplyResult> {
    if (!revocationMessage.check(msg)) {
      this.inc('revocation_rejected');
      this.o.logger.warn({ code: 'E_SCHEMA' }, 'gates: revocation message does not match its schema');
      return { applied: false, version: this.revoked.version, reason: 'gap' };
    }
    const { result, persisted } = this.revoked.apply(msg);
    if (!result.applied) {
      this.inc(`revocation_${result.reason}`);
      this.o.logger.info({ have: this.revoked.version, from: msg.from, to: msg.to }, 'gates: revocation message skipped');
      return result;
    }
    this.inc('revocation_applied');
    await persisted;
    return result;
  }

  /** A fire alarm zone changed: its gates are released while any of their zones is active. */
  async fireAlarm(zone: string, active: boolean): Promise<void> {
    if (active) this.alarms.add(zone);
    else this.alarms.delete(zone);
    const recs: HutongRecord[] = [];
    for (const g of this.gates.values()) {
      if (!g.fireZones.includes(zone)) continue;
      const release = g.fireZones.some((z) => this.alarms.has(z));
      if (release === this.released.has(g.id)) continue;
      if (release) this.released.add(g.id);
      else this.released.delete(g.id);
      this.drive(g.id, release);
      recs.push(this.gatewayRecord(g.id, release ? 'grant' : 'deny', release ? 'fire_alarm' : 'fire_clear'));
    }
    this.o.logger.warn({ zone, active, gates: recs.length }, 'gates: fire alarm');
    if (recs.length > 0) await this.o.sink.append(recs);
  }

  /** A guard opens a gate by hand: recorded (holder = the guard's id) before the relay pulses. */
  async manualOpen(gateId: string, guard: string): Promise<void> {
    const g = this.gates.get(gateId);
    if (!g) throw new TypeError(`unknown gate ${JSON.stringify(gateId)}`);
    if (!isValidId(guard)) throw new TypeError('guard must be an id');
    const rec = this.gatewayRecord(g.id, 'grant', 'manual');
    rec.holder = guard;
    await this.o.sink.append([rec]);
    this.inc('manual_open');
    this.pulse(g);
  }

  private gatewayRecord(gate: string, res: 'grant' | 'deny', reason: string): GateRecord {
    return { k: 'gate', d: this.gw, ts: this.o.stamper.stamp(this.gw), gate, dir: 'in', res, reason, ms: 0 };
  }

  private noteDenial(gate: string, reader: string, now: number, reason: string): HutongRecord | null {
    const { count, windowMs } = this.o.config.denials;
    let s = this.denials.get(gate);
    if (!s) {
      s = { times: [], raised: false };
      this.denials.set(gate, s);
    }
    s.times = s.times.filter((t) => now - t < windowMs);
    if (s.times.length === 0) s.raised = false;
    s.times.push(now);
    if (s.times.length < count || s.raised) return null;
    s.raised = true;
    this.inc('pass_denied_raised');
    return {
      k: 'state',
      d: reader,
      ts: this.o.stamper.stamp(reader),
      type: 'pass_denied',
      subject: gate,
      detail: `${s.times.length} denials within ${windowMs / 1000} s, last ${reason}`,
    };
  }

  private pulse(g: Gate): void {
    const prev = this.pulses.get(g.id);
    if (prev) clearTimeout(prev);
    this.drive(g.id, true);
    const t = setTimeout(() => {
      this.pulses.delete(g.id);
      if (!this.released.has(g.id)) this.drive(g.id, false);
    }, g.openMs);
    t.unref();
    this.pulses.set(g.id, t);
  }

  private drive(gate: string, open: boolean): void {
    try {
      this.o.relay(gate, open);
    } catch (e) {
      this.inc('relay_errors');
      this.o.logger.error({ err: e, gate }, 'gates: relay failed');
    }
  }

  private inc(k: string): void {
    this.count[k] = (this.count[k] ?? 0) + 1;
  }
}
