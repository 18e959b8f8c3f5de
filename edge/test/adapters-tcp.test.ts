import { createConnection, type Socket } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineSplitter } from '../src/adapters/lines.js';
import { TcpLinesAdapter } from '../src/adapters/tcp-lines.js';
import { lineServices } from './adapters-services.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const services = lineServices();
const scanner = new TcpLinesAdapter({
  device: { id: 'sc-1', kind: 'scanner', transport: { tcp: { port: 1 } } },
  port: 0,
  host: '127.0.0.1',
  services,
  logger,
  maxConnections: 4,
});
const reader = new TcpLinesAdapter({
  device: { id: 'rd-1', kind: 'reader', transport: { tcp: { port: 2 } }, gate: 'g1', dir: 'in' },
  port: 0,
  host: '127.0.0.1',
  services,
  logger,
});
const parking = new TcpLinesAdapter({
  device: { id: 'p-1', kind: 'parking', transport: { tcp: { port: 3 } } },
  port: 0,
  host: '127.0.0.1',
  services,
  logger,
});

beforeAll(async () => {
  await Promise.all([scanner.start(), reader.start(), parking.start()]);
});
afterAll(async () => {
  await Promise.all([scanner.stop(), reader.stop(), parking.stop()]);
});

/** Opens a connection, writes `input`, and collects `n` answer lines. */
function converse(port: number, input: string | Buffer, n: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    let buf = '';
    const s: Socket = createConnection(port, '127.0.0.1', () => s.write(input));
    s.on('data', (d) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      lines.push(...parts);
      if (lines.length >= n) {
        s.destroy();
        resolve(lines);
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(lines));
  });
}

describe('line splitter', () => {
  it('bounds line length and reports an oversized line once', () => {
    const got: string[] = [];
    const sp = new LineSplitter(
      (l) => got.push(l),
      () => got.push('<over>'),
      8,
    );
    sp.push(Buffer.from('abc\r\nde'));
    sp.push(Buffer.from('f\n0123456789abcdef'));
    sp.push(Buffer.from('ghij\nok\n'));
    expect(got).toEqual(['abc', 'def', '<over>', 'ok']);
  });
});

describe('tcp line adapter', () => {
  it('answers scans in order and counts garbage, oversized lines and failures', async () => {
    const input = ['bin-1;crew=c1;kg=12', 'nobin', ';;;', 'x'.repeat(2000), 'bin-2;full', 'boom', 'bin-3;bogus=1'].join('\n') + '\n';
    const answers = await converse(scanner.port, input, 7);
    expect(answers).toEqual([
      'OK recorded',
      'NO unknown',
      'NO rejected E_DEVICE_LINE',
      'NO rejected E_DEVICE_LINE',
      'OK recorded',
      'NO rejected E_OUTBOX_FULL',
      'NO rejected E_DEVICE_LINE',
    ]);
    expect(services.scans.map(([d, r]) => [d, r.code])).toEqual([
      ['sc-1', 'bin-1'],
      ['sc-1', 'bin-2'],
    ]);
    const c = scanner.counters();
    expect(c.rejected_e_device_line).toBe(3);
    expect(c.failed_e_outbox_full).toBe(1);
  });

  it('answers a reader with GRANT/DENY and the configured direction', async () => {
    const answers = await converse(reader.port, 'good\nout forged\n', 2);
    expect(answers).toEqual(['GRANT ok', 'DENY bad_signature']);
    expect(services.passes).toEqual([
      ['rd-1', { code: 'good', dir: 'in' }],
      ['rd-1', { code: 'forged', dir: 'out' }],
    ]);
  });

  it('refuses a device kind that has no line protocol', async () => {
    expect(await converse(parking.port, 'occ\n', 1)).toEqual(['NO rejected E_UNKNOWN_DEVICE']);
    expect(parking.counters().rejected_e_unknown_device).toBe(1);
  });

  it('survives binary garbage and a connection flood, and keeps serving', async () => {
    const garbage = Buffer.alloc(64 * 1024);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 131) % 256;
    const flood = Array.from({ length: 20 }, () => createConnection(scanner.port, '127.0.0.1'));
    for (const s of flood) {
      s.on('error', () => {});
      s.write(garbage);
    }
    await Promise.all(flood.map((s) => new Promise((r) => s.once('close', r).once('data', r))));
    for (const s of flood) s.destroy();
    expect(scanner.counters().connections_refused).toBeGreaterThan(0);
    // closed sockets leave the set asynchronously: wait for room, then a normal request works
    let answers: string[] = [];
    for (let i = 0; i < 100 && answers.length === 0; i++) {
      answers = await converse(scanner.port, 'bin-9\n', 1).catch(() => []);
    }
    expect(answers).toEqual(['OK recorded']);
  });
});
