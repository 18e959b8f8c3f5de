import type { HutongRecord } from '@hutong/protocols';

/**
 * Where services put the records they produce. `append` resolves once the records are durable in the outbox:
 * only then may the service answer the device (that answer is the acceptance).
 */
export interface RecordSink {
  append(recs: HutongRecord[]): Promise<void>;
}

/** Gives each reading its ns timestamp: gateway clock (corrected by the measured cloud offset) + per-device sequence. */
export interface Stamper {
  stamp(deviceId: string): string;
}
