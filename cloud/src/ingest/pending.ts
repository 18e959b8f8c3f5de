import type { AckEntry } from '@hutong/protocols';
import { LineBuffer, type RetentionName } from '../influx/lines.js';

/**
 * One write in the making: the lines for each retention policy, and the acknowledgements that may be sent
 * once InfluxDB confirmed all of them. Instances are pooled so their Buffers are reused between writes.
 */
export class PendingWrite {
  readonly lines: Record<RetentionName, LineBuffer> = {
    telemetry: new LineBuffer(1 << 20),
    events: new LineBuffer(1 << 16),
  };
  /** gateway → ack entries of the batches whose points are in this write */
  readonly acks = new Map<string, AckEntry[]>();
  batches = 0;

  get points(): number {
    return this.lines.telemetry.points + this.lines.events.points;
  }

  get empty(): boolean {
    return this.batches === 0;
  }

  addAck(gw: string, entry: AckEntry): void {
    let list = this.acks.get(gw);
    if (!list) {
      list = [];
      this.acks.set(gw, list);
    }
    list.push(entry);
    this.batches++;
  }

  reset(): void {
    this.lines.telemetry.reset();
    this.lines.events.reset();
    this.acks.clear();
    this.batches = 0;
  }
}
