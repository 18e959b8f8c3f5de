import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SerialLinesAdapter } from '../src/adapters/serial-lines.js';
import { lineServices } from './adapters-services.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
let dir: string;
let socat: ChildProcess | undefined;

/** Starts socat with a pty pair at fixed link names: `dev` for the gateway, `peer` for the fake device. */
async function startPair(): Promise<void> {
  const p = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${join(dir, 'dev')}`, `pty,raw,echo=0,link=${join(dir, 'peer')}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  socat = p;
  await new Promise<void>((resolve, reject) => {
    let err = '';
    p.stderr?.on('data', (d) => {
      err += d.toString();
      if (err.includes('starting data transfer loop')) resolve();
    });
    p.once('exit', (code) => reject(new Error(`socat exited ${code}: ${err}`)));
  });
}

async function stopPair(): Promise<void> {
  const p = socat;
  socat = undefined;
  if (!p || p.exitCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await gone;
}

/** The fake device's side: writes lines, reads answer lines. */
async function device(lines: string, n: number): Promise<string[]> {
  const port = new SerialPort({ path: join(dir, 'peer'), baudRate: 9600 });
  await new Promise<void>((r, j) => port.once('open', () => r()).once('error', j));
  const got: string[] = [];
  let buf = '';
  const done = new Promise<void>((resolve) =>
    port.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      got.push(...parts);
      if (got.length >= n) resolve();
    }),
  );
  port.write(lines);
  await done;
  await new Promise<void>((r) => port.close(() => r()));
  return got;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hutong-serial-'));
});
afterAll(async () => {
  await stopPair();
  await rm(dir, { recursive: true, force: true });
});

describe('serial line adapter', () => {
  it('answers lines, refuses garbage, and reopens the port after it disappeared', async () => {
    const services = lineServices();
    const adapter = new SerialLinesAdapter({
      device: { id: 'sc-s', kind: 'scanner', transport: { serial: { path: join(dir, 'dev'), baud: 9600 } } },
      path: join(dir, 'dev'),
      baud: 9600,
      services,
      logger,
      backoff: { minMs: 50, maxMs: 200 },
    });
    // The port does not exist yet: start() must not fail, the adapter keeps trying.
    const opened = adapter.whenOpen();
    await adapter.start();
    await startPair();
    await opened;
    try {
      const answers = await device(`bin-1\n\u0001\u0002garbage;;\n${'y'.repeat(1500)}\nnobin\n`, 4);
      expect(answers).toEqual(['OK recorded', 'NO rejected E_DEVICE_LINE', 'NO rejected E_DEVICE_LINE', 'NO unknown']);

      // the cable is pulled: the pty pair goes away, then comes back
      const reopened = adapter.whenOpen();
      await stopPair();
      await startPair();
      await reopened;
      expect(await device('bin-2\n', 1)).toEqual(['OK recorded']);
      const c = adapter.counters();
      expect(c.port_lost).toBeGreaterThanOrEqual(1);
      expect(c.rejected_e_device_line).toBe(2);
      expect(services.scans.map(([, r]) => r.code)).toEqual(['bin-1', 'bin-2']);
    } finally {
      await adapter.stop();
    }
  });
});

