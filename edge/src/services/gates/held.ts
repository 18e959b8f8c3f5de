import type { GateRecord } from '@hutong/protocols';
import type { Outbox } from '../../outbox/contract.js';
import { type HeldVisitor, restoreOne } from '../../records/held.js';

/**
 * Restores the gate service's recorded decisions from the held gate records that carry a reader request id
 * (`rid`): a decision whose answer was lost in a power loss was appended just before, and it is released only
 * after the cloud acknowledged its batch, long after the answer would have left (docs/faults.md).
 */
export function gateDecisionsVisitor(gates: { seedHeld(rec: GateRecord): boolean }): HeldVisitor {
  return {
    name: 'gates',
    wants: (text) => text.includes('"rid":'), // only gate records carry "rid"
    take: (rec) =>
      rec.k === 'gate' &&
      typeof rec.d === 'string' &&
      typeof rec.ts === 'string' &&
      typeof rec.rid === 'number' &&
      (rec.dir === 'in' || rec.dir === 'out') &&
      (rec.res === 'grant' || rec.res === 'deny') &&
      typeof rec.reason === 'string' &&
      gates.seedHeld(rec as unknown as GateRecord),
  };
}

export function seedGateDecisions(outbox: Pick<Outbox, 'forEachHeld'>, gates: { seedHeld(rec: GateRecord): boolean }): { held: number; seeded: number } {
  return restoreOne(outbox, gateDecisionsVisitor(gates));
}
