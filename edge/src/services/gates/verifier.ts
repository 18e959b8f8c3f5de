import { base64urlDecode, parseCode, type PassCrypto, type PassDenyReason, STEP_SECONDS } from '@hutong/protocols';
import type { GatesConfig } from './config.js';
import type { PersistedIdSet } from './revocations.js';

/**
 * Offline pass verification, in the documented order (docs/passes.md): each check that fails names its reason,
 * and the cheap stateless checks run before the stateful ones. The decision is synchronous, so two codes arriving
 * together cannot both pass a replay, single-use or anti-passback check.
 */
export type Decision =
  | { res: 'grant'; reason: 'ok'; holder: string; passId: string; singleUse: boolean }
  | { res: 'deny'; reason: PassDenyReason; holder?: string };

export interface GateScope {
  id: string;
  bit: number;
  antiPassback: boolean;
}

/** Seen codes are kept this long past their freshness (bounded map; pruned on a timer and when full). */
const REPLAY_CAP = 200_000;

export class PassVerifier {
  private readonly keys = new Map<number, Uint8Array>();
  /** `passId:step` → ms after which the code would be stale anyway. */
  private readonly seen = new Map<string, number>();
  /** `passId@gate` → last direction granted there (anti-passback). */
  private readonly lastDir = new Map<string, 'in' | 'out'>();
  replayDropped = 0;

  constructor(
    private readonly config: GatesConfig,
    private readonly crypto: PassCrypto,
    private readonly revoked: PersistedIdSet,
    private readonly used: PersistedIdSet,
  ) {
    for (const k of config.issuerKeys) {
      const raw = base64urlDecode(k.publicKey);
      if (raw && raw.length === 32) this.keys.set(k.kid, raw);
    }
  }

  decide(text: string, gate: GateScope, dir: 'in' | 'out', nowMs: number): Decision {
    const code = parseCode(text);
    if (!code) return { res: 'deny', reason: 'garbled' };
    const p = code.pass;
    const issuerKey = this.keys.get(p.kid);
    if (!issuerKey) return { res: 'deny', reason: 'unknown_key' };
    if (!this.crypto.verify(issuerKey, p.signed, p.issuerSig)) return { res: 'deny', reason: 'bad_issuer_sig' };
    // From here on the holder pseudonym is authentic and may be recorded.
    const holder = p.holder;
    if (!this.crypto.verify(p.holderKey, code.signed, code.holderSig)) return { res: 'deny', reason: 'bad_holder_sig' };

    const codeMs = code.step * STEP_SECONDS * 1000;
    const { freshnessMs, skewMs } = this.config;
    if (nowMs - codeMs > freshnessMs || codeMs - nowMs > skewMs) return { res: 'deny', reason: 'stale', holder };

    const seenKey = `${p.passId}:${code.step}`;
    if (this.seen.has(seenKey)) return { res: 'deny', reason: 'replayed', holder };
    this.remember(seenKey, codeMs + freshnessMs + skewMs, nowMs);

    const nowS = nowMs / 1000;
    const skewS = skewMs / 1000;
    if (nowS + skewS < p.validFrom) return { res: 'deny', reason: 'not_yet_valid', holder };
    if (nowS - skewS > p.validUntil) return { res: 'deny', reason: 'expired', holder };
    if (p.compound !== this.config.compound || ((p.gates >>> gate.bit) & 1) === 0) return { res: 'deny', reason: 'wrong_gate', holder };
    if (this.revoked.has(p.passId)) return { res: 'deny', reason: 'revoked', holder };
    if (p.singleUse && this.used.has(p.passId)) return { res: 'deny', reason: 'used', holder };
    if (gate.antiPassback) {
      const k = `${p.passId}@${gate.id}`;
      if (this.lastDir.get(k) === dir) return { res: 'deny', reason: 'passback', holder };
      this.lastDir.set(k, dir);
    }
    return { res: 'grant', reason: 'ok', holder, passId: p.passId, singleUse: p.singleUse };
  }

  /**
   * The holder pseudonym of a code whose issuer and holder signatures both verify, else undefined: exactly when
   * `decide` puts a holder on its record. Stateless; used to tell a reader's repeated request from another
   * presentation that happens to reuse its request id.
   */
  authenticHolder(text: string): string | undefined {
    const code = parseCode(text);
    if (!code) return undefined;
    const issuerKey = this.keys.get(code.pass.kid);
    if (!issuerKey || !this.crypto.verify(issuerKey, code.pass.signed, code.pass.issuerSig)) return undefined;
    return this.crypto.verify(code.pass.holderKey, code.signed, code.holderSig) ? code.pass.holder : undefined;
  }

  /** Drops seen codes that are stale by now (they would be refused as stale before the replay check). */
  prune(nowMs: number): void {
    for (const [k, exp] of this.seen) if (exp < nowMs) this.seen.delete(k);
  }

  get seenSize(): number {
    return this.seen.size;
  }

  private remember(key: string, expires: number, nowMs: number): void {
    if (this.seen.size >= REPLAY_CAP) {
      this.prune(nowMs);
      // Still full: a flood of distinct valid codes. Forget the oldest rather than grow without bound.
      if (this.seen.size >= REPLAY_CAP) {
        this.seen.delete(this.seen.keys().next().value as string);
        this.replayDropped++;
      }
    }
    this.seen.set(key, expires);
  }
}
