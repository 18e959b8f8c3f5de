import { type ChildProcess, spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { HutongError } from '@hutong/protocols';
import type { Logger } from 'pino';

/**
 * Runs InfluxDB 1.x (Debian package `influxdb`) as a child process with its own config and data dir, for when
 * no InfluxDB URL is configured. The Debian systemd unit is not used: the project starts and stops it itself.
 */
export interface InfluxdOptions {
  dataDir: string;
  logger: Logger;
  /** HTTP port; 0 (default) picks a free one. A restart on the same data dir may pass the previous port. */
  port?: number;
  /** Program to run (default `influxd` from PATH). */
  binary?: string;
  /** How long to wait for /ping after spawning (ms). */
  startTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace on stop (ms). */
  stopGraceMs?: number;
  /** Largest write body InfluxDB accepts (bytes); must fit the biggest batch a writer sends. */
  maxBodyBytes?: number;
}

export interface Influxd {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function findOnPath(bin: string): Promise<string | undefined> {
  const candidates = bin.includes('/') ? [bin] : (process.env.PATH ?? '').split(delimiter).map((d) => join(d, bin));
  for (const c of candidates) {
    try {
      await access(c, fsConstants.X_OK);
      return c;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

export function influxdConfig(dataDir: string, httpPort: number, rpcPort: number, maxBodyBytes: number): string {
  const q = (s: string) => JSON.stringify(s);
  return [
    'reporting-disabled = true',
    // The RPC (backup) port defaults to 8088 and collides between instances.
    `bind-address = ${q(`127.0.0.1:${rpcPort}`)}`,
    '[meta]',
    `  dir = ${q(join(dataDir, 'meta'))}`,
    '[data]',
    `  dir = ${q(join(dataDir, 'data'))}`,
    `  wal-dir = ${q(join(dataDir, 'wal'))}`,
    '  query-log-enabled = false',
    '[http]',
    `  bind-address = ${q(`127.0.0.1:${httpPort}`)}`,
    '  log-enabled = false',
    `  max-body-size = ${maxBodyBytes}`,
    // The 10 s default makes a busy influxd answer 500 "timeout" for writes it then completes anyway, and
    // the retry repeats the work; a longer bound keeps a loaded machine from amplifying its own load.
    '[coordinator]',
    '  write-timeout = "60s"',
    '[monitor]',
    '  store-enabled = false',
    '[logging]',
    '  level = "warn"',
    '',
  ].join('\n');
}

function ping(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${url}/ping`, { method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 204 || res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startInfluxd(opts: InfluxdOptions): Promise<Influxd> {
  const { dataDir, logger } = opts;
  const log = logger.child({ component: 'influxd' });
  const bin = await findOnPath(opts.binary ?? 'influxd');
  if (!bin) throw new HutongError('E_BINARY_MISSING', 'influxd not found: install the Debian package "influxdb"');

  await mkdir(dataDir, { recursive: true });
  const port = opts.port && opts.port > 0 ? opts.port : await freePort();
  const rpcPort = await freePort();
  const confPath = join(dataDir, 'influxdb.conf');
  await writeFile(confPath, influxdConfig(dataDir, port, rpcPort, opts.maxBodyBytes ?? 64 * 1024 * 1024));
  const url = `http://127.0.0.1:${port}`;

  const child = spawn(bin, ['-config', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderrTail = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderrTail = (stderrTail + d.toString('utf8')).slice(-4000);
  });
  let exited = false;
  let stopping = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      process.off('exit', killOnParentExit);
      if (!stopping) {
        log.error({ code: 'E_CHILD_EXIT', exitCode: code, signal, stderr: stderrTail.slice(-1000) }, 'influxd exited unexpectedly');
      }
      resolve();
    });
  });
  child.once('error', (err) => log.error({ code: 'E_CHILD_EXIT', err }, 'influxd process error'));

  // Never leave influxd behind: on a normal parent exit kill it synchronously, and if the parent is killed
  // outright a watchdog notices its stdin pipe closing and kills influxd.
  const killOnParentExit = () => {
    if (!exited) child.kill('SIGKILL');
  };
  process.on('exit', killOnParentExit);
  const watchdog = startWatchdog(child);

  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
  while (!(await ping(url, 1000))) {
    if (exited) {
      watchdog?.kill('SIGKILL');
      throw new HutongError('E_CHILD_EXIT', `influxd exited during start: ${stderrTail.slice(-800)}`);
    }
    if (Date.now() > deadline) {
      stopping = true;
      child.kill('SIGKILL');
      await exitPromise;
      watchdog?.kill('SIGKILL');
      throw new HutongError('E_CHILD_EXIT', `influxd did not answer ${url}/ping within ${opts.startTimeoutMs ?? 30_000} ms: ${stderrTail.slice(-800)}`);
    }
    await sleep(50);
  }
  log.info({ url, childPid: child.pid, dataDir }, 'influxd ready');

  return {
    url,
    port,
    pid: child.pid ?? -1,
    async stop() {
      stopping = true;
      if (!exited) {
        child.kill('SIGTERM');
        const grace = opts.stopGraceMs ?? 10_000;
        const timer = setTimeout(() => {
          if (!exited) {
            log.warn({ graceMs: grace }, 'influxd did not stop after SIGTERM: SIGKILL');
            child.kill('SIGKILL');
          }
        }, grace);
        await exitPromise;
        clearTimeout(timer);
      }
      watchdog?.kill('SIGKILL');
    },
  };
}

/** A tiny shell that kills influxd when this process's end of its stdin pipe closes (we died). */
function startWatchdog(child: ChildProcess): ChildProcess | undefined {
  if (!child.pid) return undefined;
  const w = spawn('/bin/sh', ['-c', `read _ignored; kill -9 ${child.pid} 2>/dev/null`], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  w.on('error', () => {});
  w.unref();
  // The pipe must not keep the event loop alive.
  (w.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return w;
}

export interface RetentionPolicy {
  name: string;
  /** InfluxQL duration literal, e.g. "90d" or "INF". */
  duration: string;
  default?: boolean;
}

/** Retention policies Hutong writes to (docs/influx-schema.md). */
export const HUTONG_RETENTION: readonly RetentionPolicy[] = [
  { name: 'telemetry', duration: '90d', default: true },
  { name: 'events', duration: '400d' },
];

export async function influxQuery(url: string, q: string, db?: string): Promise<unknown> {
  const body = new URLSearchParams(db ? { q, db } : { q }).toString();
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/query`,
      { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          // InfluxDB 1.x sends the 200 header before the statement finished: errors are in the body.
          const text = Buffer.concat(chunks).toString('utf8');
          let json: { results?: { error?: string }[]; error?: string };
          try {
            json = JSON.parse(text);
          } catch {
            reject(new Error(`InfluxDB query answered ${res.statusCode}: ${text.slice(0, 200)}`));
            return;
          }
          const err = json.error ?? json.results?.find((r) => r.error)?.error;
          if (err || (res.statusCode ?? 500) >= 300) reject(new Error(`InfluxDB query failed (${res.statusCode}): ${err ?? text.slice(0, 200)}`));
          else resolve(json);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const quoteIdent = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** Creates the database and its retention policies (idempotent; an existing policy gets the new duration). */
export async function ensureDatabase(url: string, db: string, retentionPolicies: readonly RetentionPolicy[] = HUTONG_RETENTION): Promise<void> {
  await influxQuery(url, `CREATE DATABASE ${quoteIdent(db)}`);
  for (const rp of retentionPolicies) {
    const spec = `ON ${quoteIdent(db)} DURATION ${rp.duration} REPLICATION 1${rp.default ? ' DEFAULT' : ''}`;
    try {
      await influxQuery(url, `CREATE RETENTION POLICY ${quoteIdent(rp.name)} ${spec}`);
    } catch (e) {
      if (!/already exists/.test(String(e))) throw e;
      await influxQuery(url, `ALTER RETENTION POLICY ${quoteIdent(rp.name)} ${spec}`);
    }
  }
}
