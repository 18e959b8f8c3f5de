import type { Outbox } from '../outbox/contract.js';
import { recordBytes } from './provisional.js';

/**
 * What a service restores from the records still held in the outbox (waiting or in flight) when the agent
 * starts: a cheap test on the record's JSON text, so most records are skipped without a parse, and what to do
 * with a parsed one. Why held records are enough: docs/faults.md, "QoS 1 redelivery at a power loss".
 */
export interface HeldVisitor {
  name: string;
  wants(text: string): boolean;
  /** A parsed record the visitor wanted; true when it was taken. */
  take(rec: Record<string, unknown>): boolean;
}

const dec = new TextDecoder();

/**
 * One pass over the held records in append order (so the last one per key wins): each is decoded once and
 * parsed at most once, whatever the number of visitors. Unparseable records are skipped (they were checked when
 * they were stored; a torn one is the outbox's business). Returns the records read and what each visitor took.
 */
export function restoreHeld(outbox: Pick<Outbox, 'forEachHeld'>, visitors: readonly HeldVisitor[]): { held: number; seeded: Record<string, number> } {
  const seeded: Record<string, number> = Object.fromEntries(visitors.map((v) => [v.name, 0]));
  const held = outbox.forEachHeld('rec', (item) => {
    const text = dec.decode(recordBytes(item.data));
    const wanting = visitors.filter((v) => v.wants(text));
    if (wanting.length === 0) return;
    let rec: unknown;
    try {
      rec = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof rec !== 'object' || rec === null) return;
    for (const v of wanting) if (v.take(rec as Record<string, unknown>)) seeded[v.name] = (seeded[v.name] ?? 0) + 1;
  });
  return { held, seeded };
}

/** One visitor alone, as `{ held, seeded }` (tests and tools). */
export function restoreOne(outbox: Pick<Outbox, 'forEachHeld'>, visitor: HeldVisitor): { held: number; seeded: number } {
  const r = restoreHeld(outbox, [visitor]);
  return { held: r.held, seeded: r.seeded[visitor.name] ?? 0 };
}
