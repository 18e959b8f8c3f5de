import type { ScanRecord, StateRecord } from '@hutong/protocols';
import type { Outbox } from '../../outbox/contract.js';
import { type HeldVisitor, restoreOne } from '../../records/held.js';

/**
 * Restores the bin service's duplicate window from the held `scan` and `bin_full` records: a scan whose answer
 * was lost in a power loss was appended just before, and a release needs the cloud's acknowledgement of a batch
 * that holds it, long after that answer would have left (docs/faults.md).
 */
export function binScansVisitor(bins: { seedHeld(rec: ScanRecord | StateRecord): boolean }): HeldVisitor {
  return {
    name: 'bins',
    wants: (text) => text.includes('"k":"scan"') || text.includes('"type":"bin_full"'),
    take: (rec) => {
      if (typeof rec.d !== 'string' || typeof rec.ts !== 'string') return false;
      const ok = (rec.k === 'scan' && typeof rec.bin === 'string') || (rec.k === 'state' && rec.type === 'bin_full' && typeof rec.subject === 'string');
      return ok && bins.seedHeld(rec as unknown as ScanRecord | StateRecord);
    },
  };
}

export function seedBinScans(outbox: Pick<Outbox, 'forEachHeld'>, bins: { seedHeld(rec: ScanRecord | StateRecord): boolean }): { held: number; seeded: number } {
  return restoreOne(outbox, binScansVisitor(bins));
}
