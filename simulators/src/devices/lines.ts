import net from 'node:net';

/** How one request of a line device ended: its answer, or none (and whether the gateway can have read it). */
export interface LineOutcome {
  answer: string | undefined;
  /** Times the line was written; more than 1 means the device asked again. */
  sent: number;
}

/** Options of `LineClient.ask`: how long to keep asking, and the pause between attempts. */
export interface AskOptions {
  giveUpMs?: number;
  retryMs?: number;
  /** An answer not here within this is taken as lost (the connection is dropped and the line sent again). */
  answerMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A line-oriented device (TCP scanner or pass reader): writes one request line and reads one answer line.
 * Requests are answered in order, so a simple FIFO of waiters matches answers to requests.
 */
export class LineClient {
  private sock: net.Socket | undefined;
  private buf = '';
  private readonly waiters: { resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  private turn: Promise<unknown> = Promise.resolve();
  private closed = false;

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

  /**
   * What a real scanner or reader does: sends the line and, if the connection drops (or cannot be made) before
   * the answer came, connects again and sends the same line again, until answered or `giveUpMs` passed or the
   * client was closed. One request at a time: a request waits until the one before it ended.
   */
  ask(line: string, o: AskOptions = {}): Promise<LineOutcome> {
    const run = async (): Promise<LineOutcome> => {
      const until = Date.now() + (o.giveUpMs ?? 60_000);
      let sent = 0;
      while (!this.closed) {
        try {
          if (!this.sock || this.sock.destroyed) {
            this.buf = '';
            await this.connect();
          }
          sent++;
          return { answer: await this.request(line, o.answerMs ?? 10_000), sent };
        } catch {
          // Refused (gateway down), dropped (gateway died), or no answer: ask again after a pause.
          if (Date.now() >= until) break;
          await sleep(o.retryMs ?? 250);
        }
      }
      return { answer: undefined, sent };
    };
    const p = this.turn.then(run, run);
    this.turn = p;
    return p;
  }

  close(): void {
    this.closed = true;
    this.sock?.destroy();
  }
}
