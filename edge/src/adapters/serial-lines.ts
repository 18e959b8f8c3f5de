import { stat } from 'node:fs';
import type { Logger } from 'pino';
import { SerialPort } from 'serialport';
import type { DeviceEntry } from '../config/schema.js';
import type { Adapter } from './contract.js';
import { LineDevice, LineSession } from './lines.js';
import { Counters, type SeenHook, type SiteServices } from './services.js';

export interface SerialLinesOptions {
  device: DeviceEntry;
  path: string;
  baud: number;
  services: SiteServices;
  logger: Logger;
  onSeen?: SeenHook;
  /** Reopen delays after the port disappeared or failed to open (ms). */
  backoff?: { minMs: number; maxMs: number };
  /** How often an open port's device node is checked to still be the one opened (ms). */
  presenceMs?: number;
}

/**
 * A serial line device (USB scanner, reader): the same line protocol as TCP. When the port disappears (cable
 * pulled, adapter re-enumerated) or cannot be opened it is reopened with exponential backoff, forever, and the
 * attempts are counted; the gateway keeps serving its other devices meanwhile.
 *
 * The driver reports a lost port only through a failed read or write, and some paths (a re-enumerated USB
 * adapter, a pty whose other end went away between polls) never fail one. So while the port is open its device
 * node is also checked every `presenceMs`: gone, or a different device than the one opened, closes the port and
 * reopens it (counted as `port_vanished`).
 */
export class SerialLinesAdapter implements Adapter {
  readonly name: string;
  private readonly c = new Counters();
  private readonly dev: LineDevice;
  private port: SerialPort | undefined;
  private running = false;
  private delay: number;
  private timer: NodeJS.Timeout | undefined;
  private presence: NodeJS.Timeout | undefined;
  private openListeners: (() => void)[] = [];

  constructor(private readonly o: SerialLinesOptions) {
    this.name = `serial:${o.device.id}`;
    this.dev = new LineDevice(o.device, o.services, this.c, o.logger, o.onSeen);
    this.delay = o.backoff?.minMs ?? 500;
  }

  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  /** Resolves the next time the port is (re)opened. */
  whenOpen(): Promise<void> {
    return new Promise((r) => this.openListeners.push(r));
  }

  counters(): Record<string, number> {
    return { ...this.c.snapshot(), open: this.isOpen ? 1 : 0 };
  }

  /** Starts trying to open the port; a missing port is not an error here, it is retried. */
  async start(): Promise<void> {
    this.running = true;
    this.open();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    clearInterval(this.presence);
    const p = this.port;
    this.port = undefined;
    if (p?.isOpen) await new Promise<void>((r) => p.close(() => r()));
  }

  private open(): void {
    if (!this.running) return;
    this.c.inc('open_attempts');
    const port = new SerialPort({ path: this.o.path, baudRate: this.o.baud, autoOpen: false });
    this.port = port;
    const session = new LineSession(
      this.dev,
      (line) => {
        if (port.isOpen) port.write(line);
      },
      () => port.pause(),
      () => port.resume(),
    );
    port.on('data', (chunk: Buffer) => session.push(chunk));
    port.on('error', (err) => {
      this.c.inc('port_errors');
      this.o.logger.warn({ err: err.message, path: this.o.path }, 'serial port error');
    });
    port.on('close', () => {
      if (this.port !== port) return;
      this.c.inc('port_lost');
      this.o.logger.warn({ path: this.o.path, device: this.o.device.id }, 'serial port closed: reopening');
      this.retry();
    });
    port.open((err) => {
      if (err) {
        this.o.logger.warn({ err: err.message, path: this.o.path, retryMs: this.delay }, 'serial port cannot be opened: retrying');
        if (this.port === port) this.retry();
        return;
      }
      this.delay = this.o.backoff?.minMs ?? 500;
      this.c.inc('opens');
      this.o.logger.info({ path: this.o.path, device: this.o.device.id }, 'serial port open');
      this.watchPresence(port);
      for (const l of this.openListeners.splice(0)) l();
    });
  }

  /** Closes `port` (and so reopens) when its device node disappears or now names another device. */
  private watchPresence(port: SerialPort): void {
    clearInterval(this.presence);
    stat(this.o.path, (err, opened) => {
      if (err || this.port !== port) return;
      this.presence = setInterval(() => {
        stat(this.o.path, (e, now) => {
          if (this.port !== port || !port.isOpen) return;
          if (!e && now.rdev === opened.rdev && now.ino === opened.ino) return;
          this.c.inc('port_vanished');
          this.o.logger.warn({ path: this.o.path, device: this.o.device.id }, 'serial device node vanished: reopening');
          clearInterval(this.presence);
          port.close((closeErr) => {
            // a close that fails leaves no close event: reopen from here
            if (closeErr && this.port === port) this.retry();
          });
        });
      }, this.o.presenceMs ?? 1000);
      this.presence.unref();
    });
  }

  private retry(): void {
    if (!this.running) return;
    this.port = undefined;
    clearTimeout(this.timer);
    clearInterval(this.presence);
    const d = this.delay;
    this.delay = Math.min(this.delay * 2, this.o.backoff?.maxMs ?? 30_000);
    this.timer = setTimeout(() => this.open(), d);
    this.timer.unref();
  }
}
