import { type ScanAnswer, type ScanRecord, type ScanRequest, type StateRecord, scanRequest } from '@hutong/protocols';
import type { Logger } from 'pino';
import type { DeviceService } from '../../adapters/contract.js';
import type { RecordSink, Stamper } from '../../records/sink.js';
import type { BinConfig, BinsConfig } from './config.js';
import { lastClosedSlot } from './schedule.js';

export { BinsSection, type BinsConfig } from './config.js';

export interface BinServiceOptions {
  config: BinsConfig;
  sink: RecordSink;
  stamper: Stamper;
  logger: Logger;
  now?: () => number;
  /** Device id on gateway-level records (bin_overdue). */
  gatewayId?: string;
}

/**
 * Coded bins: a crew scans a bin at pickup. A known bin is recorded once (`scan` record) and answered `recorded`
 * only after the record is durable; a second scan within the duplicate window is answered `duplicate` and not
 * stored; an unknown code is answered `unknown` and counted. A `full` report becomes a `bin_full` state record.
 * A periodic check raises one `bin_overdue` per scheduled collection that passed its grace without a scan.
 */
export class BinService implements DeviceService<ScanRequest, ScanAnswer> {
  private readonly bins = new Map<string, BinConfig>();
  private readonly lastScan = new Map<string, number>();
  private readonly lastFull = new Map<string, number>();
  private readonly reportedSlot = new Map<string, number>();
  private readonly count = {
    recorded: 0,
    duplicate: 0,
    unknown: 0,
    full: 0,
    rejected: 0,
    overdue: 0,
  };
  private readonly now: () => number;
  private readonly gw: string;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> = Promise.resolve();

  constructor(private readonly o: BinServiceOptions) {
    this.now = o.now ?? Date.now;
    this.gw = o.gatewayId ?? 'gateway';
    for (const b of o.config.bins) this.bins.set(b.id, b);
  }

  async start(): Promise<void> {
    // Collections before the start are unknown: slots that closed before it are not reported as overdue.
    this.startedAt = this.now();
    this.timer = setInterval(() => {
      this.checking = this.checkOverdue().catch((e) => this.o.logger.error({ err: e }, 'bins: overdue check failed'));
    }, this.o.config.overdueCheckMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.checking;
  }

  counters(): Record<string, number> {
    return { ...this.count };
  }

  async handle(scannerId: string, req: ScanRequest): Promise<ScanAnswer> {
    if (!scanRequest.check(req)) {
      this.count.rejected++;
      return { code: String((req as { code?: unknown })?.code ?? ''), result: 'rejected', reason: 'E_SCHEMA' };
    }
    const code = req.code.trim();
    const bin = this.bins.get(code);
    if (!bin) {
      this.count.unknown++;
      this.o.logger.info({ code: 'E_UNKNOWN_BIN', scanner: scannerId, bin: code.slice(0, 64) }, 'bins: unknown bin code');
      return { code, result: 'unknown', reason: 'E_UNKNOWN_BIN' };
    }
    const now = this.now();
    const seen = req.full ? this.lastFull : this.lastScan;
    const prev = seen.get(bin.id);
    if (prev !== undefined && now - prev < this.o.config.duplicateWindowMs) {
      this.count.duplicate++;
      return { code, result: 'duplicate', reason: 'E_DUPLICATE_SCAN' };
    }
    // Claimed before the await so a concurrent second scan of the same bin is a duplicate, not a second record.
    seen.set(bin.id, now);
    const rec = req.full ? this.fullRecord(scannerId, bin, req) : this.scanRecord(scannerId, bin, req);
    try {
      await this.o.sink.append([rec]);
    } catch (e) {
      if (prev === undefined) seen.delete(bin.id);
      else seen.set(bin.id, prev);
      this.count.rejected++;
      this.o.logger.error({ err: e, bin: bin.id }, 'bins: scan could not be recorded');
      return { code, result: 'rejected', reason: 'E_OUTBOX_FULL' };
    }
    if (req.full) this.count.full++;
    else this.count.recorded++;
    return { code, result: 'recorded' };
  }

  /** Raises `bin_overdue` for every bin whose last closed slot has no collection; once per slot. */
  async checkOverdue(): Promise<void> {
    const now = this.now();
    const recs: StateRecord[] = [];
    for (const b of this.bins.values()) {
      if (!b.schedule) continue;
      const slot = lastClosedSlot(b.schedule, now, this.o.config.tzOffsetMin);
      if (slot === null || slot < this.startedAt || this.reportedSlot.get(b.id) === slot) continue;
      const last = this.lastScan.get(b.id);
      if (last !== undefined && last >= slot - b.schedule.earlyMin * 60_000) continue;
      this.reportedSlot.set(b.id, slot);
      const rec: StateRecord = {
        k: 'state',
        d: this.gw,
        ts: this.o.stamper.stamp(this.gw),
        type: 'bin_overdue',
        subject: b.id,
        detail: `collection due ${new Date(slot).toISOString()} not scanned`,
      };
      if (b.grid) rec.grid = b.grid;
      recs.push(rec);
    }
    if (recs.length === 0) return;
    try {
      await this.o.sink.append(recs);
    } catch (e) {
      // Not recorded: forget the slots so the next check raises them again.
      for (const r of recs) this.reportedSlot.delete(r.subject);
      throw e;
    }
    this.count.overdue += recs.length;
  }

  private scanRecord(scanner: string, bin: BinConfig, req: ScanRequest): ScanRecord {
    const rec: ScanRecord = { k: 'scan', d: scanner, ts: this.o.stamper.stamp(scanner), bin: bin.id, cat: bin.category };
    if (req.crew !== undefined) rec.crew = req.crew;
    if (req.kg !== undefined) rec.kg = req.kg;
    if (req.grade !== undefined) rec.grade = req.grade;
    return rec;
  }

  private fullRecord(scanner: string, bin: BinConfig, req: ScanRequest): StateRecord {
    const rec: StateRecord = {
      k: 'state',
      d: scanner,
      ts: this.o.stamper.stamp(scanner),
      type: 'bin_full',
      subject: bin.id,
      detail: `${bin.category}${req.crew ? ` reported by ${req.crew}` : ''}${bin.location ? ` at ${bin.location}` : ''}`.slice(0, 256),
    };
    if (bin.grid) rec.grid = bin.grid;
    return rec;
  }
}
