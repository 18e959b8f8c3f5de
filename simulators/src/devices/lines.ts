import net from 'node:net';

/**
 * A line-oriented device (TCP scanner or pass reader): writes one request line and reads one answer line.
 * Requests are answered in order, so a simple FIFO of waiters matches answers to requests.
 */
export class LineClient {
  private sock: net.Socket | undefined;
  private buf = '';
  private readonly waiters: { resolve: (l: string) => void; reject: (e: Error) => void }[] = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = net.connect(this.port, this.host, () => resolve());
      s.setNoDelay(true);
      s.setEncoding('utf8');
      s.on('data', (d: string) => this.onData(d));
      s.on('error', (e) => {
        reject(e);
        this.failAll(e);
      });
      s.on('close', () => this.failAll(new Error('connection closed')));
      this.sock = s;
    });
  }

  private onData(d: string): void {
    this.buf += d;
    for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, i).replace(/\r$/, '');
      this.buf = this.buf.slice(i + 1);
      this.waiters.shift()?.resolve(line);
    }
  }

  private failAll(e: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  /**
   * Sends one line and resolves with the answer line; reconnects first if the gateway dropped the line. With
   * `timeoutMs`, a missing answer rejects instead of waiting for ever (and the connection is dropped, since a late
   * answer would be taken for the next request's).
   */
  async request(line: string, timeoutMs?: number): Promise<string> {
    if (!this.sock || this.sock.destroyed) {
      this.buf = '';
      await this.connect();
    }
    const s = this.sock as net.Socket;
    return new Promise((resolve, reject) => {
      const timer = timeoutMs
        ? setTimeout(() => {
            s.destroy();
            reject(new Error(`no answer within ${timeoutMs} ms`));
          }, timeoutMs)
        : undefined;
      this.waiters.push({
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      s.write(`${line}\n`);
    });
  }

  close(): void {
    this.sock?.destroy();
  }
}
