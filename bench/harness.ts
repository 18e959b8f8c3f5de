/**
 * Shared by every benchmark: real servers in a temp dir (influxd, an aedes broker), timing helpers, statistics,
 * a table printer and the final `bench NAME: FIGURE (RATIO× BASELINE)` line. A benchmark is a program that
 * prints a table; nothing here asserts anything.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { type Agent, request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import pino, { type Logger } from 'pino';
import { ensureDatabase, freePort, type Influxd, influxQuery, startInfluxd } from '../cloud/src/influx/index.js';

export { ensureDatabase, freePort, influxQuery };

export const benchLogger = (): Logger => pino({ level: process.env.LOG_LEVEL ?? 'warn' });

export interface TempDir {
  path: string;
  remove(): Promise<void>;
}

export async function tempDir(prefix: string): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `hutong-bench-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** influxd with its own config and data dir; `stop()` also removes the dir. */
export async function benchInflux(logger: Logger): Promise<Influxd & { dir: TempDir }> {
  const dir = await tempDir('influx');
  const ix = await startInfluxd({ dataDir: dir.path, logger });
  return {
    ...ix,
    dir,
    async stop() {
      await ix.stop();
      await dir.remove();
    },
  };
}

export interface BenchBroker {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** A plain aedes broker (no auth) on a free port, in this process. */
export async function benchAedes(): Promise<BenchBroker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    async stop() {
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Total count of `field` in `rp.measurement` (the only figure a benchmark trusts). */
export async function countPoints(url: string, db: string, rp: string, measurement: string, field: string, where = ''): Promise<number> {
  const res = (await influxQuery(url, `SELECT count("${field}") FROM "${rp}"."${measurement}"${where}`, db)) as {
    results: { series?: { values: [string, number][] }[] }[];
  };
  return res.results[0]?.series?.[0]?.values[0]?.[1] ?? 0;
}

/** POSTs one line-protocol body; resolves with the status after reading the whole answer. */
export function postWrite(agent: Agent, url: string, db: string, rp: string, body: Buffer): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: `/write?db=${db}&rp=${rp}&precision=ns`,
        method: 'POST',
        agent,
        headers: { 'content-length': body.length },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => (res.statusCode === 204 ? resolve(204) : reject(new Error(`write ${res.statusCode}: ${text.slice(0, 200)}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export const now = (): number => performance.now();

export async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = now();
  const value = await fn();
  return { ms: now() - t0, value };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile, p in [0, 100]. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : String(n);

/** Prints rows as an aligned text table (first row = header). */
export function printTable(rows: readonly (readonly (string | number)[])[]): void {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const widths: number[] = [];
  for (const r of cells) {
    for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  }
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const [head, ...body] = cells;
  if (head) {
    console.log(line(head));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  for (const r of body) console.log(line(r));
}

/** The one line CI and readers look for. */
export function finalLine(name: string, figure: string, ratio: number, baseline: string): void {
  console.log(`bench ${name}: ${figure} (${ratio.toFixed(2)}× ${baseline})`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
