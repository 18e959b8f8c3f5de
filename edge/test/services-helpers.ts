import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64urlDecode, type HutongRecord, type PassBody, signPass } from '@hutong/protocols';
import { pino } from 'pino';
import type { RecordSink } from '../src/records/sink.js';
import { ClockStamper } from '../src/records/stamper.js';
import { nodePassCrypto } from '../src/services/gates/index.js';

/** A real in-memory sink: collects what services append; `fail` makes the next appends reject (outbox full). */
export class MemorySink implements RecordSink {
  readonly records: HutongRecord[] = [];
  fail = false;
  async append(recs: HutongRecord[]): Promise<void> {
    if (this.fail) throw new Error('E_OUTBOX_FULL: test outbox refuses');
    this.records.push(...recs);
  }
  of<K extends HutongRecord['k']>(k: K): Extract<HutongRecord, { k: K }>[] {
    return this.records.filter((r): r is Extract<HutongRecord, { k: K }> => r.k === k);
  }
}

/** A clock the test moves by hand. */
export class TestClock {
  constructor(public t: number) {}
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export function testRig(startMs = Date.UTC(2026, 10, 20, 8, 0, 0)) {
  const clock = new TestClock(startMs);
  return {
    clock,
    sink: new MemorySink(),
    stamper: new ClockStamper(clock.now),
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
  };
}

export function tempDir(prefix = 'hutong-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface KeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
  publicB64: string;
}

export function keyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ format: 'jwk' }).x as string;
  const priv = privateKey.export({ format: 'jwk' }).d as string;
  return { publicKey: base64urlDecode(pub) as Uint8Array, privateKey: base64urlDecode(priv) as Uint8Array, publicB64: pub };
}

export const crypto = nodePassCrypto();

export function hex8(): string {
  return randomBytes(8).toString('hex');
}

/** Issues a pass with `issuer`, defaults: resident of compound c1, all gates, valid ±1 day around `nowMs`. */
export function issue(issuer: KeyPair, kid: number, holder: KeyPair, nowMs: number, over: Partial<PassBody> = {}): Uint8Array {
  const s = Math.floor(nowMs / 1000);
  const body: PassBody = {
    kid,
    passId: hex8(),
    holder: hex8(),
    compound: 'c1',
    gates: 0xffffffff,
    validFrom: s - 86_400,
    validUntil: s + 86_400,
    type: 'resident',
    singleUse: false,
    holderKey: holder.publicKey,
    ...over,
  };
  return signPass(body, issuer.privateKey, crypto);
}
