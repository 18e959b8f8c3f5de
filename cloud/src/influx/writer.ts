import { Agent, request } from 'node:http';
import type { Logger } from 'pino';

/**
 * Posts line protocol to InfluxDB 1.x `/write` over node:http with a keep-alive agent and at most
 * `maxInFlight` requests at a time (two keep influxd's cores busy while the next batch is encoded).
 *
 * Delivery rule: a write resolves only when InfluxDB answered 204, or answered 400 (it parsed the body, wrote
 * what it could and told us what it dropped: resending the same bytes would be refused again). Everything
 * else (connection refused, 5xx, timeouts, auth or missing-database errors an operator can fix) is retried
 * with capped exponential backoff, without end: an InfluxDB outage delays acknowledgements, it never drops
 * data and never acknowledges it early.
 */
export interface WriterOptions {
  url: string;
  db: string;
  logger: Logger;
  maxInFlight?: number;
  /** First retry delay; doubles up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Per-request timeout (ms); a timed-out request is retried. */
  timeoutMs?: number;
}

export interface WriteResult {
  /** Points InfluxDB reported as dropped (400 partial write or unparseable body); 0 on 204. */
  dropped: number;
  /** InfluxDB's error text when it refused some or all points. */
  error?: string;
  attempts: number;
}

export interface WriterCounters {
  writes: number;
  writeRetries: number;
  writeErrors: number;
  droppedPoints: number;
  bytes: number;
}

interface Attempt {
  status: number;
  body: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class InfluxWriter {
  private readonly agent: Agent;
  private readonly maxInFlight: number;
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];
  private closed = false;
  readonly stats: WriterCounters = { writes: 0, writeRetries: 0, writeErrors: 0, droppedPoints: 0, bytes: 0 };
  private lastErrorLog = 0;
  private readonly host: string;
  private readonly port: number;
  private readonly basePath: string;

  constructor(private readonly opts: WriterOptions) {
    this.maxInFlight = opts.maxInFlight ?? 2;
    this.agent = new Agent({ keepAlive: true, maxSockets: this.maxInFlight, keepAliveMsecs: 10_000 });
    const u = new URL(opts.url);
    this.host = u.hostname;
    this.port = Number(u.port || 80);
    this.basePath = u.pathname.replace(/\/$/, '');
  }

  /** True when a write would start at once (the caller may batch more while false). */
  get idle(): boolean {
    return this.inFlight < this.maxInFlight;
  }

  get pending(): number {
    return this.inFlight + this.waiters.length;
  }

  /**
   * Writes `body` (complete lines) to retention policy `rp`, retrying until InfluxDB took it.
   * The caller must not touch `body` until the promise settles. `points` is only used for accounting.
   */
  async write(rp: string, body: Buffer, points: number): Promise<WriteResult> {
    await this.acquire();
    try {
      return await this.writeWithRetry(rp, body, points);
    } finally {
      this.release();
    }
  }

  /** Stops retrying: pending writes reject (their data was never acknowledged, the gateways will resend). */
  close(): void {
    this.closed = true;
    this.agent.destroy();
    for (const w of this.waiters.splice(0)) w();
  }

  private async acquire(): Promise<void> {
    if (this.inFlight < this.maxInFlight) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((r) => this.waiters.push(r));
    this.inFlight++;
  }

  private release(): void {
    this.inFlight--;
    this.waiters.shift()?.();
  }

  private async writeWithRetry(rp: string, body: Buffer, points: number): Promise<WriteResult> {
    const path = `${this.basePath}/write?db=${encodeURIComponent(this.opts.db)}&rp=${encodeURIComponent(rp)}&precision=ns`;
    let backoff = this.opts.minBackoffMs ?? 100;
    const maxBackoff = this.opts.maxBackoffMs ?? 5_000;
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new Error('writer closed before InfluxDB took the write');
      let res: Attempt | undefined;
      let err: unknown;
      try {
        res = await this.post(path, body);
      } catch (e) {
        err = e;
      }
      if (res && res.status === 204) {
        this.stats.writes++;
        this.stats.bytes += body.length;
        return { dropped: 0, attempts: attempt };
      }
      if (res && res.status === 400) {
        // Partial write: InfluxDB stored the valid points and names how many it dropped.
        const m = /dropped=(\d+)/.exec(res.body);
        const dropped = m ? Math.min(Number(m[1]), points) : points;
        this.stats.writes++;
        this.stats.writeErrors++;
        this.stats.droppedPoints += dropped;
        this.opts.logger.warn({ code: 'E_INFLUX_WRITE', rp, status: 400, dropped, points, error: res.body.slice(0, 500) }, 'InfluxDB refused points');
        return { dropped, error: res.body.slice(0, 500), attempts: attempt };
      }
      this.stats.writeRetries++;
      const now = Date.now();
      if (now - this.lastErrorLog > 5_000) {
        this.lastErrorLog = now;
        this.opts.logger.warn(
          { code: 'E_INFLUX_WRITE', rp, status: res?.status, error: res ? res.body.slice(0, 300) : String(err), attempt, retryInMs: backoff },
          'InfluxDB write failed: retrying',
        );
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, maxBackoff);
    }
  }

  private post(path: string, body: Buffer): Promise<Attempt> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.host,
          port: this.port,
          path,
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length },
          timeout: this.opts.timeoutMs ?? 30_000,
        },
        (res) => {
          // Always read the body: InfluxDB reports partial writes there, and the socket is reused after it.
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('InfluxDB write timed out')));
      req.on('error', reject);
      req.end(body);
    });
  }
}
