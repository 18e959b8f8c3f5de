import { HutongError, nsTimestamp } from '@hutong/protocols';
import type { Stamper } from './sink.js';

/**
 * Stamps readings with the gateway clock corrected by the offset measured against the cloud (up/time → down/time).
 *
 * A gateway that boots without a good clock must not stamp with a clock known to be wrong, yet it must accept
 * readings at once. So until the first offset is known a stamp is *provisional*: the best local guess, plus the
 * monotonic time and sequence it was taken at. The sink stores provisional records with a small header
 * (`provisional.ts`), and the uplink restamps them before sending, using the offset fixed at the first sync of
 * this boot. That boot offset never changes afterwards, so a record resent after a lost ack gets exactly the
 * same timestamp (replays stay idempotent). Readings stamped after the first sync use the latest offset directly.
 */
export interface ProvisionalStamp {
  boot: string;
  /** performance.now() when stamped */
  mono: number;
  seq: number;
}

const MAX_PENDING = 100_000;

export class SyncedStamper implements Stamper {
  private readonly seq = new Map<string, number>();
  private readonly pending = new Map<string, ProvisionalStamp>();
  private offset: number | undefined;
  private bootOffset: number | undefined;
  private lastRtt: number | undefined;

  constructor(
    readonly boot: string,
    private readonly wall: () => number = Date.now,
    private readonly mono: () => number = () => performance.now(),
    private readonly monoOrigin: number = performance.timeOrigin,
  ) {}

  get synced(): boolean {
    return this.offset !== undefined;
  }

  /** Latest measured offset (cloud − gateway, ms), undefined before the first sync. */
  get offsetMs(): number | undefined {
    return this.offset;
  }

  get rttMs(): number | undefined {
    return this.lastRtt;
  }

  /** Feeds one offset measurement; the first one also fixes the boot offset used for restamping. */
  setOffset(offsetMs: number, rttMs?: number): void {
    this.offset = offsetMs;
    this.lastRtt = rttMs;
    if (this.bootOffset === undefined) this.bootOffset = offsetMs + (this.wall() - (this.monoOrigin + this.mono()));
  }

  stamp(deviceId: string): string {
    const n = (this.seq.get(deviceId) ?? 0) + 1;
    this.seq.set(deviceId, n);
    if (this.offset !== undefined) return nsTimestamp(Math.round(this.wall() + this.offset), n);
    const ts = nsTimestamp(Math.round(this.wall()), n);
    if (this.pending.size >= MAX_PENDING) {
      const first = this.pending.keys().next().value;
      if (first !== undefined) this.pending.delete(first);
    }
    this.pending.set(`${deviceId}|${ts}`, { boot: this.boot, mono: this.mono(), seq: n });
    return ts;
  }

  /** The provisional stamp behind a record's ts, once (the sink calls it when storing the record). */
  takeProvisional(deviceId: string, ts: string): ProvisionalStamp | undefined {
    const key = `${deviceId}|${ts}`;
    const p = this.pending.get(key);
    if (p) this.pending.delete(key);
    return p;
  }

  /**
   * The final ms timestamp of a provisional stamp of this boot, or throws E_CLOCK_UNSYNCED while the offset is
   * unknown. Returns undefined for a stamp of another boot (its monotonic clock is gone).
   */
  finalMs(p: ProvisionalStamp): number | undefined {
    if (p.boot !== this.boot) return undefined;
    if (this.bootOffset === undefined) throw new HutongError('E_CLOCK_UNSYNCED');
    return Math.round(this.monoOrigin + p.mono + this.bootOffset);
  }
}
