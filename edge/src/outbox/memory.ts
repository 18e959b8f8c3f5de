import type { Logger } from 'pino';
import { OutboxBase, type OutboxLimits } from './base.js';
import type { NewItem, OutboxItem } from './contract.js';
import { type Entry, WAITING } from './queue.js';

interface MemEntry extends Entry {
  data: Uint8Array;
}

/**
 * The outbox with the same bounds, priority and drop rules as FileOutbox, but held in memory: nothing survives
 * the process. For tests and for `outbox.kind: "memory"` (a gateway that accepts losing its backlog on restart).
 */
export class MemoryOutbox extends OutboxBase<MemEntry> {
  private nextId = 1;
  private opened = false;

  constructor(limits: OutboxLimits, log: Logger) {
    super(limits, log);
  }

  async open(): Promise<void> {
    this.opened = true;
  }

  async append(items: NewItem[]): Promise<void> {
    if (!this.opened) throw new Error('outbox is not open');
    if (items.length === 0) return;
    const reserved = this.admit(items);
    const at = this.now();
    for (const it of items) {
      this.index.add({
        id: this.nextId++,
        cls: it.cls,
        type: it.type,
        at,
        size: it.data.byteLength,
        state: WAITING,
        // A copy: the caller may reuse its buffer once append resolved.
        data: it.data.slice(),
      });
    }
    this.reservedBytes -= reserved;
    this.appended += items.length;
    this.wake();
  }

  async close(): Promise<void> {
    this.opened = false;
    this.wake();
  }

  protected load(entries: MemEntry[]): OutboxItem[] {
    return entries.map((e) => ({ id: e.id, cls: e.cls, type: e.type, at: e.at, data: e.data }));
  }

  protected async forget(): Promise<void> {}
}
