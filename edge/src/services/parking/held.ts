import type { ParkRecord } from '@hutong/protocols';
import type { Outbox } from '../../outbox/contract.js';
import { recordBytes } from '../../records/provisional.js';

const dec = new TextDecoder();

/**
 * Seeds the parking service's last frame per sensor from the park records still held in the outbox (waiting or
 * in flight), in append order, so the last one per sensor wins. Run after the outbox opened and before the site
 * broker accepts devices. Why the held records are enough: a resent frame's original was appended and its
 * PUBACK never left, while a release needs the uplink to lease the record and the cloud to acknowledge it, long
 * after that PUBACK would have gone out (docs/faults.md, "QoS 1 redelivery at a power loss").
 */
export function seedParkingFrames(outbox: Pick<Outbox, 'forEachHeld'>, parking: { seedFrame(rec: ParkRecord): boolean }): { held: number; seeded: number } {
  let seeded = 0;
  const held = outbox.forEachHeld('rec', (item) => {
    const text = dec.decode(recordBytes(item.data));
    // Only park records carry "fc"; the rest are skipped without a parse.
    if (!text.includes('"fc":')) return;
    let rec: { k?: unknown; d?: unknown; fc?: unknown };
    try {
      rec = JSON.parse(text) as typeof rec;
    } catch {
      return;
    }
    if (rec.k === 'park' && typeof rec.d === 'string' && typeof rec.fc === 'number' && parking.seedFrame(rec as ParkRecord)) seeded++;
  });
  return { held, seeded };
}
