import { nsToMs, type ScanAnswer, type ScanRecord, type ScanRequest, type StateRecord, scanRequest } from '@hutong/protocols';
import type { Logger } from 'pino';
import type { DeviceService } from '../../adapters/contract.js';
import type { RecordSink, Stamper } from '../../records/sink.js';
import type { BinConfig, BinsConfig } from './config.js';
import { lastClosedSlot } from './schedule.js';

export { BinsSection, type BinsConfig } from './config.js';
export { binScansVisitor, seedBinScans } from './held.js';

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
 * The last scan (or full report) of one bin that the gateway stored or is storing: when, from which scanner,
 * with what content. `done` is set while its append is under way.
 */
interface Stored {
  at: number;
  scanner: string;
  what: string;
  done?: Promise<ScanAnswer>;
}

/** What a scan says besides its bin: a resend repeats it exactly, another crew's scan does not. */
const scanContent = (crew: string | undefined, kg: number | undefined, grade: number | undefined): string => `${crew ?? ''}|${kg ?? ''}|${grade ?? ''}`;
/** A full report's content is the text of its `bin_full` record (which names the crew). */
const fullDetail = (bin: BinConfig, crew: string | undefined): string =>
  `${bin.category}${crew ? ` reported by ${crew}` : ''}${bin.location ? ` at ${bin.location}` : ''}`.slice(0, 256);

/**
 * Coded bins: a crew scans a bin at pickup. A known bin is recorded once (`scan` record) and answered `recorded`
 * only after the record is durable; a second scan within the duplicate window is answered `duplicate` and not
 * stored; an unknown code is answered `unknown` and counted. A `full` report becomes a `bin_full` state record.
 * A periodic check raises one `bin_overdue` per scheduled collection that passed its grace without a scan.
 *
 * The same scan again, from the same scanner with the same content within the window, is a resend (MQTT QoS 1,
 * or a scanner asking again for want of an answer): it gets the answer the first copy got, `recorded`, and is
 * counted as `replayed`, not stored. The window is seeded on start from the scans still held in the outbox, so
 * a resend after a power loss is recognised too (docs/faults.md).
 */
export class BinService implements DeviceService<ScanRequest, ScanAnswer> {
  private readonly bins = new Map<string, BinConfig>();
  private readonly lastScan = new Map<string, Stored>();
  private readonly lastFull = new Map<string, Stored>();
  private readonly reportedSlot = new Map<string, number>();
  private readonly count = {
    recorded: 0,
    duplicate: 0,
    replayed: 0,
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
    const what = req.full ? fullDetail(bin, req.crew) : scanContent(req.crew, req.kg, req.grade);
    if (prev !== undefined && now - prev.at < this.o.config.duplicateWindowMs) {
      if (prev.scanner === scannerId && prev.what === what) {
        // A resend of the stored scan: the scanner never got its answer. Give it the same one; store nothing.
        const first = prev.done === undefined ? undefined : await prev.done;
        if (first !== undefined && first.result !== 'recorded') return { ...first, code };
        this.count.replayed++;
        this.o.logger.debug({ scanner: scannerId, bin: bin.id }, 'bins: resent scan answered, not stored again');
        return { code, result: 'recorded' };
      }
      this.count.duplicate++;
      return { code, result: 'duplicate', reason: 'E_DUPLICATE_SCAN' };
    }
    // Claimed before the await so a concurrent second scan of the same bin is a duplicate, not a second record.
    const mine: Stored = { at: now, scanner: scannerId, what };
    seen.set(bin.id, mine);
    const rec = req.full ? this.fullRecord(scannerId, bin, req) : this.scanRecord(scannerId, bin, req);
    mine.done = this.store(rec, code, () => {
      if (seen.get(bin.id) !== mine) return;
      if (prev === undefined) seen.delete(bin.id);
      else seen.set(bin.id, prev);
    });
    const a = await mine.done;
    delete mine.done;
    if (a.result === 'recorded') {
      if (req.full) this.count.full++;
      else this.count.recorded++;
    }
    return a;
  }

  /**
   * Takes a scan or `bin_full` record still held in the outbox as that bin's last one (called on start, in
   * append order, before devices connect): a scanner that asks again for a scan whose answer was lost in a power
   * loss then gets `recorded` again, and another scan of the bin within the window is a duplicate, as it would
   * have been without the restart. Its time is the record's timestamp, never later than now. Returns whether the
   * record named a bin of the registry.
   */
  seedHeld(rec: ScanRecord | StateRecord): boolean {
    const full = rec.k === 'state';
    if (full && rec.type !== 'bin_full') return false;
    const binId = rec.k === 'scan' ? rec.bin : rec.subject;
    if (!this.bins.has(binId)) return false;
    const at = Math.min(nsToMs(rec.ts), this.now());
    const what = rec.k === 'scan' ? scanContent(rec.crew, rec.kg, rec.grade) : (rec.detail ?? '');
    (full ? this.lastFull : this.lastScan).set(binId, { at, scanner: rec.d, what });
    return true;
  }

  /** Appends one scan's record; resolves with its answer (never rejects). `undo` runs when it was not stored. */
  private async store(rec: ScanRecord | StateRecord, code: string, undo: () => void): Promise<ScanAnswer> {
    try {
      await this.o.sink.append([rec]);
      return { code, result: 'recorded' };
    } catch (e) {
      undo();
      this.count.rejected++;
      this.o.logger.error({ err: e, bin: code }, 'bins: scan could not be recorded');
      return { code, result: 'rejected', reason: 'E_OUTBOX_FULL' };
    }
  }

  /** Raises `bin_overdue` for every bin whose last closed slot has no collection; once per slot. */
  async checkOverdue(): Promise<void> {
    const now = this.now();
    const recs: StateRecord[] = [];
    for (const b of this.bins.values()) {
      if (!b.schedule) continue;
      const slot = lastClosedSlot(b.schedule, now, this.o.config.tzOffsetMin);
      if (slot === null || slot < this.startedAt || this.reportedSlot.get(b.id) === slot) continue;
      const last = this.lastScan.get(b.id)?.at;
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
      detail: fullDetail(bin, req.crew),
    };
    if (bin.grid) rec.grid = bin.grid;
    return rec;
  }
}
