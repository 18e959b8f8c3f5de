import type { ParkRecord } from '@hutong/protocols';
import type { Outbox } from '../../outbox/contract.js';
import { type HeldVisitor, restoreOne } from '../../records/held.js';

/**
 * Restores the parking service's last frame per sensor from the held park records: a resent frame's original
 * was appended and its PUBACK never left, while a release needs the uplink to lease the record and the cloud to
 * acknowledge it, long after that PUBACK would have gone out (docs/faults.md).
 */
export function parkingFramesVisitor(parking: { seedFrame(rec: ParkRecord): boolean }): HeldVisitor {
  return {
    name: 'parking',
    wants: (text) => text.includes('"fc":'), // only park records carry "fc"
    take: (rec) => rec.k === 'park' && typeof rec.d === 'string' && typeof rec.fc === 'number' && parking.seedFrame(rec as unknown as ParkRecord),
  };
}

export function seedParkingFrames(outbox: Pick<Outbox, 'forEachHeld'>, parking: { seedFrame(rec: ParkRecord): boolean }): { held: number; seeded: number } {
  return restoreOne(outbox, parkingFramesVisitor(parking));
}
