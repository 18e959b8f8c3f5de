import type { ScanRecord, StateRecord } from '@hutong/protocols';
import type { Outbox } from '../../outbox/contract.js';
import { recordBytes } from '../../records/provisional.js';

const dec = new TextDecoder();

/**
 * Seeds the bin service's duplicate window from the `scan` and `bin_full` records still held in the outbox
 * (waiting or in flight), in append order, so the last one per bin wins. Run after the outbox opened and before
 * any scanner can reach the gateway. Why the held records are enough: a scan whose answer was lost in a power
 * loss was appended just before, and a release needs the cloud's acknowledgement of a batch that holds it, long
 * after that answer would have left (docs/faults.md, "QoS 1 redelivery at a power loss").
 */
export function seedBinScans(
  outbox: Pick<Outbox, 'forEachHeld'>,
  bins: { seedHeld(rec: ScanRecord | StateRecord): boolean },
): { held: number; seeded: number } {
  let seeded = 0;
  const held = outbox.forEachHeld('rec', (item) => {
    const text = dec.decode(recordBytes(item.data));
    // Only scan and bin_full records are wanted; the rest are skipped without a parse.
    if (!text.includes('"k":"scan"') && !text.includes('"type":"bin_full"')) return;
    let rec: { k?: unknown; d?: unknown; ts?: unknown; bin?: unknown; subject?: unknown; type?: unknown };
    try {
      rec = JSON.parse(text) as typeof rec;
    } catch {
      return;
    }
    if (typeof rec.d !== 'string' || typeof rec.ts !== 'string') return;
    const ok = (rec.k === 'scan' && typeof rec.bin === 'string') || (rec.k === 'state' && rec.type === 'bin_full' && typeof rec.subject === 'string');
    if (ok && bins.seedHeld(rec as ScanRecord | StateRecord)) seeded++;
  });
  return { held, seeded };
}
