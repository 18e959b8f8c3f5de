import type { GateRecord } from '@hutong/protocols';
import type { Outbox } from '../../outbox/contract.js';
import { recordBytes } from '../../records/provisional.js';

const dec = new TextDecoder();

/**
 * Seeds the gate service's recorded decisions from the gate records with a reader request id (`rid`) still held
 * in the outbox, in append order. Run after the outbox opened and before any reader can reach the gateway: a
 * decision whose answer was lost in a power loss was appended just before, and it is released only after the
 * cloud acknowledged its batch, long after the answer would have left (docs/faults.md).
 */
export function seedGateDecisions(outbox: Pick<Outbox, 'forEachHeld'>, gates: { seedHeld(rec: GateRecord): boolean }): { held: number; seeded: number } {
  let seeded = 0;
  const held = outbox.forEachHeld('rec', (item) => {
    const text = dec.decode(recordBytes(item.data));
    // Only gate records carry "rid"; the rest are skipped without a parse.
    if (!text.includes('"rid":')) return;
    let rec: { k?: unknown; d?: unknown; ts?: unknown; rid?: unknown; dir?: unknown; res?: unknown; reason?: unknown };
    try {
      rec = JSON.parse(text) as typeof rec;
    } catch {
      return;
    }
    const ok =
      rec.k === 'gate' &&
      typeof rec.d === 'string' &&
      typeof rec.ts === 'string' &&
      typeof rec.rid === 'number' &&
      (rec.dir === 'in' || rec.dir === 'out') &&
      (rec.res === 'grant' || rec.res === 'deny') &&
      typeof rec.reason === 'string';
    if (ok && gates.seedHeld(rec as GateRecord)) seeded++;
  });
  return { held, seeded };
}
