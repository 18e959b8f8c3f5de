import type { ItemType } from './contract.js';

/**
 * The in-memory index both outboxes share: which items wait, which are in flight, in which order they leave,
 * and which are dropped when the outbox is full. Storage (memory or segment files) lives elsewhere; this file
 * only decides. The rules are written down in docs/outbox.md.
 */

export const WAITING = 0;
export const IN_FLIGHT = 1;
export const RETURNED = 2;
export const GONE = 3;
type State = typeof WAITING | typeof IN_FLIGHT | typeof RETURNED | typeof GONE;

/** Bytes an item counts against `maxBytes` besides its payload: the on-disk frame header (file.ts). */
export const FRAME_OVERHEAD = 28;

export interface Entry {
  id: number;
  cls: 0 | 1 | 2;
  type: ItemType;
  at: number;
  /** Payload bytes. */
  size: number;
  state: State;
}

export interface LeasePolicy {
  /** Up to this share of every lease batch is filled with the newest waiting items of the class (0..1). */
  liveShare: number;
}

/**
 * One class and type: ids ascending in `items` (head pointer at the oldest, lazy skipping of entries no longer
 * waiting; the newest are popped off the end), requeued ones in `returned`.
 */
class Lane<E extends Entry> {
  items: E[] = [];
  head = 0;
  /** Requeued entries, ids ascending. */
  returned: E[] = [];
  waiting = 0;

  push(e: E): void {
    this.items.push(e);
    this.waiting++;
  }

  /** Oldest waiting entry (requeued or never leased), without taking it. */
  peek(): E | undefined {
    this.skip();
    const a = this.items[this.head];
    const r = this.returned[0];
    if (a === undefined) return r;
    if (r === undefined) return a;
    return r.id < a.id ? r : a;
  }

  /** Takes the entry `peek` returned. */
  take(e: E): void {
    if (this.returned[0] === e) this.returned.shift();
    else this.head++;
    this.waiting--;
  }

  requeue(e: E): void {
    const r = this.returned;
    let lo = 0;
    let hi = r.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r[mid]!.id < e.id) lo = mid + 1;
      else hi = mid;
    }
    r.splice(lo, 0, e);
    this.waiting++;
  }

  /** The newest waiting entries (never leased or requeued), newest first, up to `max`; `accept` says if one more fits. */
  takeNewest(max: number, out: E[], accept: (e: E) => boolean): void {
    const items = this.items;
    const r = this.returned;
    for (let taken = 0; taken < max && this.waiting > 0; taken++) {
      // Entries at the end that are no longer waiting are in flight, requeued (in `returned`) or gone: drop them.
      while (items.length > this.head && items[items.length - 1]!.state !== WAITING) items.pop();
      const a = items.length > this.head ? items[items.length - 1] : undefined;
      const b = r[r.length - 1];
      const e = a === undefined ? b : b === undefined || a.id > b.id ? a : b;
      if (e === undefined || !accept(e)) return;
      if (e === a) items.pop();
      else r.pop();
      e.state = IN_FLIGHT;
      this.waiting--;
      out.push(e);
    }
  }

  private skip(): void {
    const items = this.items;
    while (this.head < items.length && items[this.head]!.state !== WAITING) this.head++;
    if (this.head > 4096 && this.head * 2 > items.length) {
      this.items = items.slice(this.head);
      this.head = 0;
    }
  }
}

const TYPES: readonly ItemType[] = ['rec', 'img'];

/**
 * id → entry for ids that only grow: a sliding array indexed by `id - base`. 8 bytes a slot instead of a Map's
 * ~40 per entry (a day of backlog is a million entries), and the oldest entry is the first slot.
 */
export class IdTable<E extends { id: number }> {
  private slots: (E | undefined)[] = [];
  private base = 0;
  private head = 0;
  size = 0;

  get(id: number): E | undefined {
    const i = id - this.base;
    return i >= this.head && i < this.slots.length ? this.slots[i] : undefined;
  }

  /** Ids must come in ascending order. */
  set(e: E): void {
    if (this.size === 0) {
      this.slots = [];
      this.base = e.id;
      this.head = 0;
    }
    const i = e.id - this.base;
    if (i < this.slots.length) throw new Error(`outbox id ${e.id} not above the last one`);
    while (this.slots.length < i) this.slots.push(undefined);
    this.slots.push(e);
    this.size++;
  }

  delete(id: number): void {
    const i = id - this.base;
    if (i < this.head || i >= this.slots.length || this.slots[i] === undefined) return;
    this.slots[i] = undefined;
    this.size--;
    while (this.head < this.slots.length && this.slots[this.head] === undefined) this.head++;
    if (this.head > 4096 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }

  /** The entry with the lowest id. */
  first(): E | undefined {
    return this.slots[this.head];
  }

  /** Every entry in id order, as a snapshot (the table may change while the caller works through it). */
  list(): E[] {
    const out: E[] = [];
    for (let i = this.head; i < this.slots.length; i++) {
      const e = this.slots[i];
      if (e !== undefined) out.push(e);
    }
    return out;
  }
}

export class PriorityIndex<E extends Entry> {
  /** Every unreleased entry by id (entries are added in ascending id order). */
  readonly entries = new IdTable<E>();
  private readonly lanes: Lane<E>[][] = [0, 1, 2].map(() => TYPES.map(() => new Lane<E>()));
  readonly depth: [number, number, number] = [0, 0, 0];
  /** Payload + frame bytes of every unreleased entry. */
  bytes = 0;
  inFlight = 0;
  /** Per class: bytes of all unreleased entries, and of those in flight (only waiting ones can be dropped). */
  private readonly heldBytes: [number, number, number] = [0, 0, 0];
  private readonly inFlightBytes: [number, number, number] = [0, 0, 0];

  constructor(private readonly policy: LeasePolicy) {}

  add(e: E): void {
    this.entries.set(e);
    this.lane(e).push(e);
    this.depth[e.cls]++;
    this.bytes += e.size + FRAME_OVERHEAD;
    this.heldBytes[e.cls] += e.size + FRAME_OVERHEAD;
  }

  /** Takes entry `id` out for good (released, dropped or expired); undefined if it was already gone. */
  remove(id: number): E | undefined {
    const e = this.entries.get(id);
    if (e === undefined) return undefined;
    this.entries.delete(id);
    if (e.state === IN_FLIGHT) {
      this.inFlight--;
      this.inFlightBytes[e.cls] -= e.size + FRAME_OVERHEAD;
    } else if (e.state === WAITING || e.state === RETURNED) {
      this.lane(e).waiting--;
      // A RETURNED entry sits in `returned`; take it out so peek never sees a gone entry there.
      if (e.state === RETURNED) {
        const r = this.lane(e).returned;
        r.splice(r.indexOf(e), 1);
      }
    }
    e.state = GONE;
    this.depth[e.cls]--;
    this.bytes -= e.size + FRAME_OVERHEAD;
    this.heldBytes[e.cls] -= e.size + FRAME_OVERHEAD;
    return e;
  }

  requeue(id: number): void {
    const e = this.entries.get(id);
    if (e === undefined || e.state !== IN_FLIGHT) return;
    e.state = RETURNED;
    this.inFlight--;
    this.inFlightBytes[e.cls] -= e.size + FRAME_OVERHEAD;
    this.lane(e).requeue(e);
  }

  /** Number of items that could be leased now. */
  waiting(): number {
    let n = 0;
    for (const lanes of this.lanes) for (const l of lanes) n += l.waiting;
    return n;
  }

  /**
   * The next batch: class 0 first, then 1, then 2 (strict). Within a class, the batch first takes that class's
   * newest waiting items, up to `liveShare` of `maxItems` over the whole batch, then its oldest. So a backlog
   * drains from both ends: live traffic leaves with the next batch of its class instead of after a day of
   * backlog, and the backlog still gets most of every batch. When a class has no more waiting items than fit,
   * the batch holds the same items as plain oldest-first.
   */
  lease(maxItems: number, maxBytes: number, type: ItemType | undefined): E[] {
    const out: E[] = [];
    if (maxItems <= 0) return out;
    let bytes = 0;
    const take = (e: E): void => {
      bytes += e.size;
      this.inFlightBytes[e.cls] += e.size + FRAME_OVERHEAD;
    };
    const accept = (e: E): boolean => {
      if (out.length > 0 && bytes + e.size > maxBytes) return false;
      take(e);
      return true;
    };
    // The newest share is bounded in bytes as well (no first-item exception), so a few big new items never
    // take the batch from the backlog.
    const shareBytes = Math.floor(maxBytes * this.policy.liveShare);
    let newestBytes = 0;
    const acceptNewest = (e: E): boolean => {
      if (newestBytes + e.size > shareBytes || bytes + e.size > maxBytes) return false;
      newestBytes += e.size;
      take(e);
      return true;
    };
    const typeIdx = type === undefined ? undefined : TYPES.indexOf(type);
    // Class by class (strict priority): first this class's newest, up to the live quota, then its oldest.
    let liveLeft = Math.floor(maxItems * this.policy.liveShare);
    let full = false;
    for (let c = 0; c < 3 && !full && out.length < maxItems; c++) {
      const lanes = this.lanes[c]!;
      for (let t = 0; t < lanes.length && liveLeft > 0; t++) {
        if (typeIdx !== undefined && t !== typeIdx) continue;
        const before = out.length;
        lanes[t]!.takeNewest(Math.min(liveLeft, maxItems - out.length), out, acceptNewest);
        liveLeft -= out.length - before;
      }
      while (out.length < maxItems) {
        const pick = this.oldest(lanes, typeIdx);
        if (pick === undefined) break;
        const [lane, e] = pick;
        if (!accept(e)) {
          full = true;
          break;
        }
        lane.take(e);
        e.state = IN_FLIGHT;
        out.push(e);
      }
    }
    this.inFlight += out.length;
    out.sort((a, b) => a.cls - b.cls || a.id - b.id);
    return out;
  }

  /** Oldest waiting entry of class `cls` (any type), for dropping and expiry. */
  oldestWaiting(cls: number): E | undefined {
    const pick = this.oldest(this.lanes[cls]!, undefined);
    return pick?.[1];
  }

  /** Bytes of waiting (not in-flight) entries of class `cls`: what dropping that class could free. */
  waitingBytes(cls: number): number {
    return this.heldBytes[cls]! - this.inFlightBytes[cls]!;
  }

  /** The first entry in id order (the oldest item still held). */
  first(): E | undefined {
    return this.entries.first();
  }

  private oldest(lanes: Lane<E>[], typeIdx: number | undefined): [Lane<E>, E] | undefined {
    let best: [Lane<E>, E] | undefined;
    for (let t = 0; t < lanes.length; t++) {
      if (typeIdx !== undefined && t !== typeIdx) continue;
      const lane = lanes[t]!;
      if (lane.waiting === 0) continue;
      const e = lane.peek();
      if (e !== undefined && (best === undefined || e.id < best[1].id)) best = [lane, e];
    }
    return best;
  }

  private lane(e: E): Lane<E> {
    return this.lanes[e.cls]![e.type === 'rec' ? 0 : 1]!;
  }
}
