import {
  type ErrorCode,
  formatPassAnswer,
  formatScanAnswer,
  HutongError,
  Limits,
  parsePassLine,
  parseScanLine,
} from '@hutong/protocols';
import type { Logger } from 'pino';
import type { DeviceEntry } from '../config/schema.js';
import { type Counters, rejectedKey, type SeenHook, type SiteServices } from './services.js';

/**
 * Splits a byte stream into lines (LF, optional CR) with a hard length bound: a line longer than `max` bytes is
 * reported once as oversized and the rest of it is skipped up to the next newline, so a device that never sends
 * a newline cannot grow memory. (A generic readline parser has no such bound.)
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private len = 0;
  private skipping = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOversize: () => void,
    private readonly max: number = Limits.deviceLineBytes,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.skipping) {
        const piece = chunk.subarray(start, end);
        if (this.len + piece.length > this.max) {
          this.skipping = true;
          this.parts = [];
          this.len = 0;
          this.onOversize();
        } else if (piece.length > 0) {
          this.parts.push(piece);
          this.len += piece.length;
        }
      }
      if (nl === -1) return;
      if (!this.skipping) {
        let line = Buffer.concat(this.parts).toString('utf8');
        if (line.endsWith('\r')) line = line.slice(0, -1);
        this.onLine(line);
      }
      this.parts = [];
      this.len = 0;
      this.skipping = false;
      start = nl + 1;
    }
  }
}

/**
 * One request line of one device → one answer line, through the services. Scanner lines and answers follow
 * parseScanLine / formatScanAnswer, reader lines parsePassLine / formatPassAnswer (protocols/site.ts).
 */
export class LineDevice {
  constructor(
    private readonly device: DeviceEntry,
    private readonly services: SiteServices,
    private readonly c: Counters,
    private readonly logger: Logger,
    private readonly onSeen?: SeenHook,
  ) {}

  /** The answer to a line that could not be read (oversized or garbage). */
  refusal(code: ErrorCode): string {
    this.c.inc(rejectedKey(code));
    this.logger.warn({ code, device: this.device.id }, 'device line refused');
    return this.device.kind === 'reader' ? formatPassAnswer({ result: 'deny', reason: code }) : `NO rejected ${code}`;
  }

  async handle(line: string): Promise<string> {
    this.c.inc('lines');
    if (line.trim() === '') return this.refusal('E_DEVICE_LINE');
    const d = this.device;
    if (d.kind === 'scanner') {
      const req = parseScanLine(line);
      if (!req) return this.refusal('E_DEVICE_LINE');
      this.onSeen?.(d.id);
      const svc = this.services.scan;
      if (!svc) return this.refusal('E_UNKNOWN_DEVICE');
      try {
        const a = await svc.handle(d.id, req);
        this.c.inc(`scan_${a.result}`);
        return formatScanAnswer(a);
      } catch (err) {
        return this.failed(err);
      }
    }
    if (d.kind === 'reader') {
      const req = parsePassLine(line);
      if (!req) return this.refusal('E_DEVICE_LINE');
      this.onSeen?.(d.id);
      const svc = this.services.pass;
      if (!svc) return this.refusal('E_UNKNOWN_DEVICE');
      try {
        const a = await svc.handle(d.id, d.dir && !req.dir ? { ...req, dir: d.dir } : req);
        this.c.inc(`pass_${a.result}`);
        return formatPassAnswer(a);
      } catch (err) {
        return this.failed(err);
      }
    }
    // Parking sensors and cameras do not speak the line protocols.
    return this.refusal('E_UNKNOWN_DEVICE');
  }

  /** The service could not store its records: the reading is not accepted, and the device is told so. */
  private failed(err: unknown): string {
    const code: ErrorCode = err instanceof HutongError ? err.code : 'E_OUTBOX_FULL';
    this.c.inc(`failed_${code.toLowerCase()}`);
    this.logger.error({ err, device: this.device.id }, 'device request not stored');
    return this.device.kind === 'reader' ? formatPassAnswer({ result: 'deny', reason: code }) : `NO rejected ${code}`;
  }
}

/**
 * Feeds one byte stream (a TCP connection, a serial port) to a LineDevice: requests are answered in order, one
 * at a time; while `maxPending` lines wait the stream is paused (backpressure instead of an unbounded queue).
 */
export class LineSession {
  private readonly splitter: LineSplitter;
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(
    private readonly dev: LineDevice,
    private readonly write: (line: string) => void,
    private readonly pause: () => void,
    private readonly resume: () => void,
    private readonly maxPending = 32,
  ) {
    this.splitter = new LineSplitter(
      (line) => this.enqueue(() => this.dev.handle(line)),
      () => this.enqueue(async () => this.dev.refusal('E_DEVICE_LINE')),
    );
  }

  push(chunk: Buffer): void {
    this.splitter.push(chunk);
  }

  /** Resolves when every queued line has been answered. */
  drained(): Promise<void> {
    return this.queue;
  }

  private enqueue(fn: () => Promise<string>): void {
    this.pending += 1;
    if (this.pending === this.maxPending) this.pause();
    this.queue = this.queue.then(async () => {
      try {
        this.write(`${await fn()}\n`);
      } catch {
        // the answer could not be written (connection gone): nothing to tell
      } finally {
        this.pending -= 1;
        if (this.pending === this.maxPending - 1) this.resume();
      }
    });
  }
}
