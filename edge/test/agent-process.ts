import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** Helpers for tests that run the gateway agent as its own process (kill -9, restart on the same data dir). */

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 50));
}

/** The agent as a single node process, so a SIGKILL reaches the program itself. */
export function spawnGateway(configFile: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(__dirname, '../src/main.ts'), '--config', configFile], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
  });
}

/** The agent answers /health and its uplink is connected. */
export async function healthy(httpPort: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${httpPort}/health`);
    return r.ok && ((await r.json()) as { uplink: boolean }).uplink;
  } catch {
    return false;
  }
}

/** Raw bytes of every outbox segment file: what a killed process leaves behind. */
export async function segmentText(outboxDir: string): Promise<string> {
  const names = (await readdir(outboxDir).catch(() => [] as string[])).filter((n) => n.endsWith('.log'));
  const bufs = await Promise.all(names.map((n) => readFile(join(outboxDir, n))));
  return Buffer.concat(bufs).toString('latin1');
}

/** One `hutong_part_stat` counter from the agent's /metrics; `missing` when the counter is absent. */
export async function partStat(httpPort: number, part: string, name: string, missing: number): Promise<number> {
  const m = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const hit = new RegExp(`hutong_part_stat\\{[^}]*part="${part}",name="${name}"\\} (\\d+)`).exec(m);
  return Number(hit?.[1] ?? missing);
}
