import { nsTimestamp } from '@hutong/protocols';
import type { Stamper } from './sink.js';

/**
 * Stamps readings with the gateway clock plus the offset measured against the cloud, and a per-device
 * sequence in the sub-millisecond digits (protocols/time.ts).
 */
export class ClockStamper implements Stamper {
  private readonly seq = new Map<string, number>();
  constructor(private readonly now: () => number = Date.now, public offsetMs = 0) {}

  stamp(deviceId: string): string {
    const n = (this.seq.get(deviceId) ?? 0) + 1;
    this.seq.set(deviceId, n);
    return nsTimestamp(Math.round(this.now() + this.offsetMs), n);
  }
}
