import { type HutongRecord, PRIORITY_OF } from '@hutong/protocols';
import type { NewItem, Outbox } from '../outbox/contract.js';
import { encodeProvisional } from './provisional.js';
import type { RecordSink } from './sink.js';
import type { SyncedStamper } from './synced-stamper.js';

const enc = new TextEncoder();

/**
 * The RecordSink in front of the outbox: one outbox append per service call, so a service's records are durable
 * together, and `append` resolves only when they are on disk. Records are stored as their JSON text (the uplink
 * concatenates them without re-serialising); those stamped before the clock sync carry a provisional header.
 */
export class OutboxSink implements RecordSink {
  private readonly byKind = new Map<string, number>();
  private failed = 0;

  constructor(
    private readonly outbox: Outbox,
    private readonly stamper?: SyncedStamper,
  ) {}

  async append(recs: HutongRecord[]): Promise<void> {
    if (recs.length === 0) return;
    const items: NewItem[] = recs.map((r) => {
      const json = JSON.stringify(r);
      const p = this.stamper?.takeProvisional(r.d, r.ts);
      return { cls: PRIORITY_OF[r.k], type: 'rec', data: p ? encodeProvisional(p, json) : enc.encode(json) };
    });
    try {
      await this.outbox.append(items);
    } catch (e) {
      this.failed += recs.length;
      throw e;
    }
    for (const r of recs) this.byKind.set(r.k, (this.byKind.get(r.k) ?? 0) + 1);
  }

  counters(): Record<string, number> {
    const out: Record<string, number> = { append_failed: this.failed };
    for (const [k, n] of this.byKind) out[`records_${k}`] = n;
    return out;
  }
}
