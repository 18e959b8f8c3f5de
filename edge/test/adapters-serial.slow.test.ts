import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SerialLinesAdapter } from '../src/adapters/serial-lines.js';
import { lineServices } from './adapters-services.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
let dir: string;
const pairs = new Set<ChildProcess>();
let socatLog = '';
let adapterNow: SerialLinesAdapter | undefined;

/** Awaits one step, failing after `ms` with the step's name, the adapter's counters and socat's log. */
async function step<T>(what: string | (() => string), p: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`step "${typeof what === 'string' ? what : what()}" hung ${ms} ms; adapter ${JSON.stringify(adapterNow?.counters())}; socat: ${socatLog}`)),
      ms,
    );
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts socat with a pty pair linked at `dir/<devName>` (the gateway's side) and `dir/<peerName>` (the device's). */
async function startPair(devName = 'dev', peerName = 'peer'): Promise<ChildProcess> {
  const p = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${join(dir, devName)}`, `pty,raw,echo=0,link=${join(dir, peerName)}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  pairs.add(p);
  await new Promise<void>((resolve, reject) => {
    let err = '';
    p.stderr?.on('data', (d) => {
      err += d.toString();
      socatLog += d.toString();
      if (err.includes('starting data transfer loop')) resolve();
    });
    p.once('exit', (code) => reject(new Error(`socat exited ${code}: ${err}`)));
  });
  return p;
}

async function stopPair(p: ChildProcess): Promise<void> {
  pairs.delete(p);
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await gone;
}

/** The fake device's side: writes lines, reads answer lines. */
async function device(lines: string, n: number, peerName = 'peer'): Promise<string[]> {
  const port = new SerialPort({ path: join(dir, peerName), baudRate: 9600 });
  await step('device port open', new Promise<void>((r, j) => port.once('open', () => r()).once('error', j)));
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
  await step(() => `${n} answers (got ${JSON.stringify(got)})`, done);
  await step('device port close', new Promise<void>((r) => port.close(() => r())));
  return got;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hutong-serial-'));
});
afterAll(async () => {
  await Promise.all([...pairs].map(stopPair));
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
    adapterNow = adapter;
    const opened = adapter.whenOpen();
    await adapter.start();
    let pair = await step('first pair', startPair());
    await step('first open', opened);
    try {
      const answers = await device(`bin-1\n\u0001\u0002garbage;;\n${'y'.repeat(1500)}\nnobin\n`, 4);
      expect(answers).toEqual(['OK recorded', 'NO rejected E_DEVICE_LINE', 'NO rejected E_DEVICE_LINE', 'NO unknown']);

      // the cable is pulled: the pty pair goes away, then comes back
      const reopened = adapter.whenOpen();
      await step('pair stopped', stopPair(pair));
      pair = await step('second pair', startPair());
      await step('reopen', reopened);
      expect(await device('bin-2\n', 1)).toEqual(['OK recorded']);
      const c = adapter.counters();
      expect(c.port_lost).toBeGreaterThanOrEqual(1);
      expect(c.rejected_e_device_line).toBe(2);
      expect(services.scans.map(([, r]) => r.code)).toEqual(['bin-1', 'bin-2']);
    } finally {
      await adapter.stop();
    }
  });

  it('moves to the new device when the port path is re-pointed while the old device stays alive', async () => {
    // A USB adapter re-enumerated behind a stable udev path: the old node never fails a read, the path now
    // names another device. Only the presence check can notice.
    const services = lineServices();
    const path = join(dir, 'stable');
    const adapter = new SerialLinesAdapter({
      device: { id: 'sc-r', kind: 'scanner', transport: { serial: { path, baud: 9600 } } },
      path,
      baud: 9600,
      services,
      logger,
      backoff: { minMs: 50, maxMs: 200 },
      presenceMs: 100,
    });
    adapterNow = adapter;
    const opened = adapter.whenOpen();
    await step('old pair', startPair('stable', 'old-peer'));
    await adapter.start();
    await step('first open', opened);
    try {
      expect(await device('bin-1\n', 1, 'old-peer')).toEqual(['OK recorded']);
      const reopened = adapter.whenOpen();
      await step('new pair', startPair('new-dev', 'new-peer'));
      await rename(join(dir, 'new-dev'), path);
      await step('reopen on the new device', reopened);
      expect(await device('bin-2\n', 1, 'new-peer')).toEqual(['OK recorded']);
      expect(adapter.counters().port_vanished).toBe(1);
      expect(services.scans.map(([, r]) => r.code)).toEqual(['bin-1', 'bin-2']);
    } finally {
      await adapter.stop();
    }
  });
});
