import type { ItemType, NewItem, Outbox, OutboxItem, OutboxStats } from '../src/outbox/contract.js';

/**
 * A small in-memory Outbox for the edge's own tests. `hold()` makes the next appends wait until `releaseHeld()`,
 * so a test can prove that acceptance (PUBACK, answer) waits for the append.
 */
export class TestOutbox implements Outbox {
  readonly items = new Map<number, OutboxItem>();
  readonly inFlight = new Set<number>();
  readonly releasedIds: number[] = [];
  private next = 1;
  private held: (() => void)[] | undefined;
  private waiters: (() => void)[] = [];
  private appendCalls: (() => void)[] = [];
  failNext: Error | undefined;

  async open(): Promise<void> {}
  async close(): Promise<void> {}

  hold(): void {
    this.held = [];
  }
  releaseHeld(): void {
    const h = this.held ?? [];
    this.held = undefined;
    for (const r of h) r();
  }
  /** Resolves when append is next called. */
  appendCalled(): Promise<void> {
    return new Promise((r) => this.appendCalls.push(r));
  }

  async append(items: NewItem[]): Promise<void> {
    for (const r of this.appendCalls.splice(0)) r();
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
    if (this.held) await new Promise<void>((r) => this.held?.push(r));
    for (const it of items) {
      const id = this.next++;
      this.items.set(id, { ...it, id, at: Date.now() });
    }
    this.wake();
  }

  lease(maxItems: number, maxBytes: number, types?: ItemType): OutboxItem[] {
    const ready = [...this.items.values()]
      .filter((i) => !this.inFlight.has(i.id) && (types === undefined || i.type === types))
      .sort((a, b) => a.cls - b.cls || a.id - b.id);
    const out: OutboxItem[] = [];
    let bytes = 0;
    for (const i of ready) {
      if (out.length >= maxItems) break;
      if (out.length > 0 && bytes + i.data.length > maxBytes) break;
      bytes += i.data.length;
      out.push(i);
      this.inFlight.add(i.id);
    }
    return out;
  }

  async release(ids: readonly number[]): Promise<void> {
    for (const id of ids) {
      if (this.items.delete(id)) this.releasedIds.push(id);
      this.inFlight.delete(id);
    }
  }

  requeue(ids: readonly number[]): void {
    for (const id of ids) this.inFlight.delete(id);
    this.wake();
  }

  forEachHeld(type: ItemType, fn: (item: OutboxItem) => void): number {
    const held = [...this.items.values()].filter((i) => i.type === type).sort((a, b) => a.id - b.id);
    for (const i of held) fn(i);
    return held.length;
  }

  whenReadable(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  stats(): OutboxStats {
    const depth: [number, number, number] = [0, 0, 0];
    let bytes = 0;
    let oldest = Date.now();
    for (const i of this.items.values()) {
      depth[i.cls]++;
      bytes += i.data.length;
      oldest = Math.min(oldest, i.at);
    }
    return {
      depth,
      bytes,
      inFlight: this.inFlight.size,
      oldestAgeMs: Date.now() - oldest,
      dropped: [0, 0, 0],
      appended: this.next - 1,
      released: this.releasedIds.length,
    };
  }
}
