import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { DeviceEntry } from '../config/schema.js';
import type { Adapter } from './contract.js';
import { LineDevice, LineSession } from './lines.js';
import { Counters, type SeenHook, type SiteServices } from './services.js';

export interface TcpLinesOptions {
  device: DeviceEntry;
  port: number;
  host?: string;
  services: SiteServices;
  logger: Logger;
  onSeen?: SeenHook;
  /** Connections kept at once; more are closed at once and counted (a flood must not exhaust the gateway). */
  maxConnections?: number;
  /** Idle connections are closed after this long (ms). */
  idleMs?: number;
}

/** A TCP line server for one device (one device per port): one request per line, one answer line each. */
export class TcpLinesAdapter implements Adapter {
  readonly name: string;
  private readonly c = new Counters();
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly dev: LineDevice;

  constructor(private readonly o: TcpLinesOptions) {
    this.name = `tcp:${o.device.id}`;
    this.dev = new LineDevice(o.device, o.services, this.c, o.logger, o.onSeen);
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  counters(): Record<string, number> {
    return { ...this.c.snapshot(), connections_open: this.sockets.size };
  }

  async start(): Promise<void> {
    const server = createServer((sock) => this.accept(sock));
    server.on('error', (err) => this.o.logger.error({ err, device: this.o.device.id }, 'tcp line server error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.o.logger.info({ device: this.o.device.id, port: this.port }, 'tcp line device listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private accept(sock: Socket): void {
    this.c.inc('connections');
    if (this.sockets.size >= (this.o.maxConnections ?? 8)) {
      this.c.inc('connections_refused');
      sock.destroy();
      return;
    }
    this.sockets.add(sock);
    sock.setNoDelay(true);
    sock.setTimeout(this.o.idleMs ?? 600_000, () => sock.destroy());
    const session = new LineSession(
      this.dev,
      (line) => {
        if (!sock.destroyed) sock.write(line);
      },
      () => sock.pause(),
      () => sock.resume(),
    );
    sock.on('data', (chunk) => session.push(chunk));
    sock.on('error', (err) => {
      this.c.inc('socket_errors');
      this.o.logger.debug({ err: err.message, device: this.o.device.id }, 'tcp device socket error');
    });
    sock.on('close', () => this.sockets.delete(sock));
  }
}
