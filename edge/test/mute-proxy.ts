import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of one gateway port; while `muted`, bytes from the gateway are dropped, so the device
 * hears no answer (or PUBACK) for what the gateway already stored. A dead gateway closes the upstream side and
 * the device sees its connection drop, as it would without the proxy.
 */
export class MuteProxy {
  muted = false;
  port = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly target: number) {
    this.server = createServer((down) => {
      const up = createConnection({ host: '127.0.0.1', port: this.target });
      for (const s of [down, up]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      down.on('data', (b) => up.write(b));
      up.on('data', (b) => {
        if (!this.muted) down.write(b);
      });
      down.on('close', () => up.destroy());
      up.on('close', () => down.destroy());
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
