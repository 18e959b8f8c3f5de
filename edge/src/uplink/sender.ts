import { type AckEntry, decodeImage, imageHeader, Limits, uplinkTopic } from '@hutong/protocols';
import type { Logger } from 'pino';
import { Counters } from '../adapters/services.js';
import type { Outbox, OutboxItem } from '../outbox/contract.js';
import { finalRecordBytes } from '../records/provisional.js';
import type { ProvisionalStamp } from '../records/synced-stamper.js';
import { BatchIds, batchHead, batchSize, buildBatch } from './batch.js';

export interface SenderOptions {
  gatewayId: string;
  outbox: Outbox;
  logger: Logger;
  batchRecords: number;
  batchBytes: number;
  window: number;
  ackTimeoutMs: number;
  /** Publishes QoS 1; resolves on the broker's PUBACK (which is not the end-to-end ack). */
  publish: (topic: string, payload: Buffer) => Promise<void>;
  /** Whether records may go out now (false while the clock offset is unknown: readings are held). */
  mayRecords: () => boolean;
  /** Final ms timestamp of a provisional stamp (undefined: another boot, sent as stamped). */
  finalMs: (p: ProvisionalStamp) => number | undefined;
}

interface InFlight {
  ids: number[];
  records: number;
  timer: NodeJS.Timeout;
}

/**
 * The uplink's sender loop: leases items from the outbox, sends them as batches (records) or one per message
 * (images), keeps up to `window` of them awaiting the cloud's ack, releases items only on that ack, and gives
 * them back to the outbox on ack timeout or when the connection drops.
 */
export class Sender {
  private readonly c = new Counters();
  private readonly inFlight = new Map<string, InFlight>();
  private readonly ids: BatchIds;
  private online = false;
  private running = false;
  private kick: (() => void) | undefined;
  private readable: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private preferImage = false;

  constructor(private readonly o: SenderOptions) {
    this.ids = new BatchIds();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    this.requeueAll('stop');
  }

  /** Connection state from the uplink: going offline gives every in-flight item back. */
  setOnline(up: boolean): void {
    this.online = up;
    if (!up) this.requeueAll('connection lost');
    this.wake();
  }

  /** Something changed that may let the loop send (clock synced, config). */
  wake(): void {
    const k = this.kick;
    this.kick = undefined;
    k?.();
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  counters(): Record<string, number> {
    return { ...this.c.snapshot(), in_flight: this.inFlight.size };
  }

  /** Handles the acks of one `down/ack` message. */
  async onAcks(acks: readonly AckEntry[]): Promise<void> {
    const release: number[] = [];
    for (const a of acks) {
      const f = this.inFlight.get(a.id);
      if (!f) {
        // A late ack of a batch already requeued (its items went out again under a new id) or of another boot.
        this.c.inc('acks_unknown');
        continue;
      }
      this.inFlight.delete(a.id);
      clearTimeout(f.timer);
      release.push(...f.ids);
      this.c.inc('acks');
      this.c.inc('acked_records', a.stored);
      if (a.rejected > 0) {
        this.c.inc('cloud_rejected_records', a.rejected);
        for (const [code, n] of Object.entries(a.codes ?? {})) this.c.inc(`cloud_rejected_${code.toLowerCase()}`, n);
        const refused = a.stored === 0;
        if (refused) this.c.inc('cloud_refused_batches');
        this.o.logger[refused ? 'error' : 'warn'](
          { batch: a.id, stored: a.stored, rejected: a.rejected, codes: a.codes },
          refused ? 'cloud refused the batch for good: released' : 'cloud rejected some records of the batch',
        );
      }
    }
    if (release.length > 0) await this.o.outbox.release(release);
    this.wake();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let sent = false;
      try {
        if (this.online && this.inFlight.size < this.o.window) sent = this.sendOne();
      } catch (err) {
        this.c.inc('send_errors');
        this.o.logger.error({ err }, 'uplink sender error');
      }
      if (sent) continue;
      await this.idle();
    }
  }

  /** Waits for an append/requeue in the outbox or a kick (ack, connect, clock sync, stop). */
  private idle(): Promise<void> {
    if (!this.readable) {
      const r = this.o.outbox.whenReadable().then(() => {
        if (this.readable === r) this.readable = undefined;
      });
      this.readable = r;
    }
    const kicked = new Promise<void>((resolve) => {
      this.kick = resolve;
    });
    return Promise.race([this.readable, kicked]);
  }

  /** Leases and sends one batch or one image; false if there was nothing to send. */
  private sendOne(): boolean {
    const records = this.o.mayRecords();
    this.preferImage = !this.preferImage;
    if (this.preferImage || !records) {
      if (this.sendImage()) return true;
      return records ? this.sendBatch() : false;
    }
    return this.sendBatch() || this.sendImage();
  }

  private sendImage(): boolean {
    const [item] = this.o.outbox.lease(1, Limits.imageBytes, 'img');
    if (!item) return false;
    const d = decodeImage(item.data);
    if (!d.ok || !imageHeader.check(d.header)) {
      this.drop([item], 'stored image frame is not valid');
      return true;
    }
    const id = d.header.id;
    this.track(id, [item.id], 0);
    this.c.inc('images_sent');
    this.publish(uplinkTopic(this.o.gatewayId, 'image'), Buffer.from(item.data.buffer, item.data.byteOffset, item.data.byteLength));
    return true;
  }

  private sendBatch(): boolean {
    const id = this.ids.next();
    const head = batchHead(this.o.gatewayId, id).length;
    const max = this.o.batchRecords;
    const budget = this.o.batchBytes - batchSize(head, max, 0);
    const items = this.o.outbox.lease(max, Math.max(1, budget), 'rec');
    if (items.length === 0) return false;
    const bytes: Uint8Array[] = [];
    const keep: OutboxItem[] = [];
    let total = 0;
    const back: number[] = [];
    for (const it of items) {
      let b: Uint8Array;
      try {
        const f = finalRecordBytes(it.data, this.o.finalMs);
        if (f.restamped) this.c.inc('records_restamped');
        if (f.unknownBoot) this.c.inc('records_unsynced_sent');
        b = f.bytes;
      } catch (err) {
        this.drop([it], `stored record is not readable: ${(err as Error).message}`);
        continue;
      }
      if (batchSize(head, keep.length + 1, total + b.length) > this.o.batchBytes) {
        if (keep.length === 0) {
          this.drop([it], 'record alone is larger than a batch');
          continue;
        }
        back.push(it.id);
        continue;
      }
      keep.push(it);
      bytes.push(b);
      total += b.length;
    }
    if (back.length > 0) this.o.outbox.requeue(back);
    if (keep.length === 0) return true;
    this.track(
      id,
      keep.map((i) => i.id),
      keep.length,
    );
    this.c.inc('batches_sent');
    this.c.inc('records_sent', keep.length);
    this.publish(uplinkTopic(this.o.gatewayId, 'batch'), buildBatch(this.o.gatewayId, id, bytes));
    return true;
  }

  private track(id: string, ids: number[], records: number): void {
    const timer = setTimeout(() => this.timeout(id), this.o.ackTimeoutMs);
    timer.unref();
    this.inFlight.set(id, { ids, records, timer });
  }

  private publish(topic: string, payload: Buffer): void {
    this.o.publish(topic, payload).catch((err: unknown) => {
      // The ack timeout or the connection loss requeues the items; nothing else to do here.
      this.c.inc('publish_errors');
      this.o.logger.warn({ err }, 'uplink publish failed');
    });
  }

  private timeout(id: string): void {
    const f = this.inFlight.get(id);
    if (!f) return;
    this.inFlight.delete(id);
    this.c.inc('ack_timeouts');
    this.c.inc('resends');
    this.o.logger.warn({ batch: id, items: f.ids.length }, 'no ack in time: items requeued');
    this.o.outbox.requeue(f.ids);
    this.wake();
  }

  private requeueAll(why: string): void {
    if (this.inFlight.size === 0) return;
    const ids: number[] = [];
    for (const f of this.inFlight.values()) {
      clearTimeout(f.timer);
      ids.push(...f.ids);
      this.c.inc('resends');
    }
    this.inFlight.clear();
    this.o.logger.info({ items: ids.length, why }, 'in-flight items requeued');
    this.o.outbox.requeue(ids);
  }

  /** An item that can never be sent: released so it does not block the queue, counted and logged. */
  private drop(items: OutboxItem[], why: string): void {
    this.c.inc('items_unsendable', items.length);
    this.o.logger.error({ ids: items.map((i) => i.id), why }, 'unsendable outbox item dropped');
    this.o.outbox.release(items.map((i) => i.id)).catch((err: unknown) => this.o.logger.error({ err }, 'release failed'));
  }
}
