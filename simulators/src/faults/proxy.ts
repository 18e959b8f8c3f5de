import net from 'node:net';

/**
 * A TCP proxy between the gateway and the cloud broker, for cutting the uplink: `cut()` drops every live
 * connection and refuses new ones (as a dead WAN link would look to the gateway), `restore()` lets them through.
 */
export class CutProxy {
  private server: net.Server | undefined;
  private readonly conns = new Set<net.Socket>();
  private isCut = false;
  port = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly listenPort = 0,
  ) {}

  async start(): Promise<number> {
    this.server = net.createServer((client) => {
      if (this.isCut) {
        client.destroy();
        return;
      }
      const upstream = net.connect(this.target.port, this.target.host);
      this.conns.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.conns.delete(client);
        this.conns.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(this.listenPort, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  cut(): void {
    this.isCut = true;
    for (const s of this.conns) s.destroy();
    this.conns.clear();
  }

  restore(): void {
    this.isCut = false;
  }

  get cutNow(): boolean {
    return this.isCut;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
