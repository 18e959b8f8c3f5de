import { HutongError } from '@hutong/protocols';
import type { Logger } from 'pino';
import type { ItemType, NewItem, Outbox, OutboxItem, OutboxStats } from './contract.js';
import { type Entry, FRAME_OVERHEAD, PriorityIndex } from './queue.js';

/** 2020-01-01T00:00Z: wall-clock stamps before this come from an unset clock. */
const PLAUSIBLE_MS = 1_577_836_800_000;
/** Items read per storage call by `forEachHeld`. */
const HELD_CHUNK = 4096;

/** What both outboxes need besides their storage. */
export interface OutboxLimits {
  /** Bound on payload + frame bytes of all unreleased items. */
  maxBytes: number;
  /** Items older than this are dropped (counted per class). */
  maxAgeMs: number;
  /** Share of each lease batch taken from the newest waiting items of the class (see queue.ts). */
  liveShare: number;
  /** Wall clock (item `at`, age bound); injectable for tests. */
  now?: () => number;
  /** Monotonic clock (rate limit of warnings); injectable for tests. */
  mono?: () => number;
}

/** Counters beyond the contract's stats, for /metrics and gateway stats. */
export interface OutboxCounters {
  /** Appends refused because nothing could make room, per class of the refused items. */
  rejectedFull: [number, number, number];
  /** Of `dropped`: items dropped for their age, per class. */
  expired: [number, number, number];
  /** Appends refused because the disk write failed (ENOSPC, EIO). */
  rejectedIo: number;
  /** Torn or corrupt regions found on open or on read-back (file outbox). */
  corrupt: number;
}

/**
 * The outbox logic shared by MemoryOutbox and FileOutbox: admission (bounds, the drop rule), lease order,
 * release/requeue bookkeeping, wake-ups and stats. Subclasses store the bytes.
 *
 * Drop rule (DESIGN.md req. 2): only class 2 (bulk telemetry) is ever dropped to make room, oldest first, and
 * only items not in flight. If the append still does not fit (the outbox holds class 0/1 items, in-flight
 * items, or the append is larger than the bound), the whole append is refused with E_OUTBOX_FULL and nothing
 * is dropped: the caller then does not answer the device, so nothing accepted is lost.
 */
export abstract class OutboxBase<E extends Entry> implements Outbox {
  protected readonly index: PriorityIndex<E>;
  protected readonly now: () => number;
  protected readonly mono: () => number;
  protected readonly dropped: [number, number, number] = [0, 0, 0];
  protected readonly counters: OutboxCounters = {
    rejectedFull: [0, 0, 0],
    expired: [0, 0, 0],
    rejectedIo: 0,
    corrupt: 0,
  };
  protected appended = 0;
  protected released = 0;
  /** Bytes of appends admitted but not yet durable (they count against the bound). */
  protected reservedBytes = 0;
  private waiters: (() => void)[] = [];
  private lastDropWarn = Number.NEGATIVE_INFINITY;
  private dropsSinceWarn = 0;

  constructor(
    protected readonly limits: OutboxLimits,
    protected readonly log: Logger,
  ) {
    this.index = new PriorityIndex<E>({ liveShare: limits.liveShare });
    this.now = limits.now ?? Date.now;
    this.mono = limits.mono ?? (() => performance.now());
  }

  abstract open(): Promise<void>;
  abstract append(items: NewItem[]): Promise<void>;
  abstract close(): Promise<void>;
  /** Payloads of leased entries. */
  protected abstract load(entries: E[]): OutboxItem[];
  /** Entries are gone (released, dropped, expired): make that durable eventually. */
  protected abstract forget(entries: E[]): Promise<void>;

  lease(maxItems: number, maxBytes: number, types?: ItemType): OutboxItem[] {
    this.expire();
    const entries = this.index.lease(maxItems, maxBytes, types);
    return entries.length === 0 ? [] : this.load(entries);
  }

  forEachHeld(type: ItemType, fn: (item: OutboxItem) => void): number {
    const held = this.index.entries.list().filter((e) => e.type === type);
    let n = 0;
    // In chunks, so a day of backlog is never in memory at once.
    for (let i = 0; i < held.length; i += HELD_CHUNK) {
      for (const it of this.load(held.slice(i, i + HELD_CHUNK))) {
        fn(it);
        n++;
      }
    }
    return n;
  }

  async release(ids: readonly number[]): Promise<void> {
    const gone: E[] = [];
    for (const id of ids) {
      const e = this.index.remove(id);
      if (e !== undefined) gone.push(e);
    }
    this.released += gone.length;
    if (gone.length > 0) await this.forget(gone);
  }

  requeue(ids: readonly number[]): void {
    let any = false;
    for (const id of ids) {
      const e = this.index.entries.get(id);
      if (e === undefined) continue;
      this.index.requeue(id);
      any = true;
    }
    if (any) this.wake();
  }

  whenReadable(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  stats(): OutboxStats {
    const first = this.index.first();
    return {
      depth: [this.index.depth[0], this.index.depth[1], this.index.depth[2]],
      bytes: this.index.bytes,
      inFlight: this.index.inFlight,
      oldestAgeMs: first === undefined ? 0 : Math.max(0, this.now() - first.at),
      dropped: [this.dropped[0], this.dropped[1], this.dropped[2]],
      appended: this.appended,
      released: this.released,
      expired: [...this.counters.expired],
      refused: { full: [...this.counters.rejectedFull], io: this.counters.rejectedIo },
      corrupt: this.counters.corrupt,
    };
  }

  /** Counters beyond the contract (refusals, expiries, corruption). */
  counts(): OutboxCounters {
    const c = this.counters;
    return { rejectedFull: [...c.rejectedFull], expired: [...c.expired], rejectedIo: c.rejectedIo, corrupt: c.corrupt };
  }

  protected wake(): void {
    const w = this.waiters;
    if (w.length === 0) return;
    this.waiters = [];
    for (const resolve of w) resolve();
  }

  /**
   * Checks the append against the bounds and makes room by dropping the oldest waiting class-2 items.
   * Returns the bytes reserved (release them with `unreserve` once the items are indexed or refused).
   * Throws E_OUTBOX_FULL (nothing dropped) when it cannot fit.
   */
  protected admit(items: NewItem[]): number {
    let need = 0;
    for (const it of items) need += it.data.byteLength + FRAME_OVERHEAD;
    this.expire();
    const free = this.limits.maxBytes - this.index.bytes - this.reservedBytes;
    if (need > free) {
      const droppable = this.index.waitingBytes(2);
      if (need > free + droppable) {
        for (const it of items) this.counters.rejectedFull[it.cls]++;
        throw new HutongError(
          'E_OUTBOX_FULL',
          `append of ${items.length} item(s), ${need} B refused: ${free} B free of ${this.limits.maxBytes}, ` +
            `${droppable} B of waiting class-2 items droppable (classes 0/1 and in-flight items are kept)`,
        );
      }
      const victims: E[] = [];
      let freed = 0;
      while (need > free + freed) {
        const e = this.index.oldestWaiting(2);
        if (e === undefined) break;
        this.index.remove(e.id);
        freed += e.size + FRAME_OVERHEAD;
        victims.push(e);
      }
      this.dropped[2] += victims.length;
      this.warnDrops(victims.length, 'full');
      void this.forget(victims).catch((err: unknown) => this.log.error({ err }, 'outbox: recording drops failed'));
    }
    this.reservedBytes += need;
    return need;
  }

  /**
   * Drops items older than maxAgeMs (any class, waiting only), oldest first; counted per class. An item stamped
   * before 2020 was appended while the gateway clock was not set (a box without RTC boots in 1970): its age
   * means nothing, so it is never expired (the byte bound still holds), and it stops the class's expiry scan.
   */
  protected expire(): void {
    const limit = this.now() - this.limits.maxAgeMs;
    const first = this.index.first();
    if (first === undefined || first.at >= limit) return;
    const victims: E[] = [];
    for (let c = 0; c < 3; c++) {
      for (;;) {
        const e = this.index.oldestWaiting(c);
        if (e === undefined || e.at >= limit || e.at < PLAUSIBLE_MS) break;
        this.index.remove(e.id);
        this.dropped[e.cls]++;
        this.counters.expired[e.cls]++;
        victims.push(e);
      }
    }
    if (victims.length === 0) return;
    this.warnDrops(victims.length, 'expired');
    void this.forget(victims).catch((err: unknown) => this.log.error({ err }, 'outbox: recording expiries failed'));
  }

  /** One warning per 10 s at most, with the count since the last one (a full outbox drops on every append). */
  private warnDrops(n: number, why: 'full' | 'expired'): void {
    this.dropsSinceWarn += n;
    const t = this.mono();
    if (t - this.lastDropWarn < 10_000) return;
    this.lastDropWarn = t;
    this.log.warn(
      { code: 'E_OUTBOX_FULL', why, dropped: this.dropsSinceWarn, total: [...this.dropped] },
      why === 'full' ? 'outbox full: oldest bulk items dropped' : 'outbox: items past maxAgeMs dropped',
    );
    this.dropsSinceWarn = 0;
  }
}
