import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDatabase, influxdConfig, influxQuery, startInfluxd } from '../src/influx/influxd.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
let dir: string;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitFor(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return pred();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hutong-influxd-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('influxd supervisor', () => {
  it('names the Debian package when the binary is missing', async () => {
    await expect(startInfluxd({ dataDir: join(dir, 'none'), logger, binary: 'influxd-not-installed' })).rejects.toMatchObject({
      code: 'E_BINARY_MISSING',
      message: expect.stringContaining('install the Debian package "influxdb"'),
    });
  });

  it('writes a config with its own dirs, loopback ports and no reporting', () => {
    const conf = influxdConfig('/d', 1234, 5678, 1 << 20);
    expect(conf).toContain('bind-address = "127.0.0.1:5678"');
    expect(conf).toContain('bind-address = "127.0.0.1:1234"');
    expect(conf).toContain('wal-dir = "/d/wal"');
    expect(conf).toContain('reporting-disabled = true');
    expect(conf).toContain('store-enabled = false');
    expect(conf).toContain('log-enabled = false');
    expect(conf).toContain('max-body-size = 1048576');
  });

  it('starts, creates the database and retention policies idempotently, and stops without leftovers', async () => {
    const ix = await startInfluxd({ dataDir: join(dir, 'a'), logger });
    await ensureDatabase(ix.url, 'hutong');
    await ensureDatabase(ix.url, 'hutong', [
      { name: 'telemetry', duration: '30d', default: true },
      { name: 'events', duration: '400d' },
    ]);
    const res = (await influxQuery(ix.url, 'SHOW RETENTION POLICIES ON "hutong"')) as {
      results: { series: { values: [string, string, string, number, boolean][] }[] }[];
    };
    const rps = Object.fromEntries(res.results[0]!.series[0]!.values.map((v) => [v[0], { duration: v[1], isDefault: v[4] }]));
    expect(rps.telemetry).toEqual({ duration: '720h0m0s', isDefault: true });
    expect(rps.events).toEqual({ duration: '9600h0m0s', isDefault: false });
    await ix.stop();
    expect(alive(ix.pid)).toBe(false);
  });

  it('does not leave influxd behind when its parent is killed outright', async () => {
    const script = join(dir, 'parent.mts');
    const src = new URL('../src/influx/influxd.js', import.meta.url).pathname.replace(/\.js$/, '.ts');
    await writeFile(
      script,
      `import { startInfluxd } from ${JSON.stringify(src)};\n` +
        'const logger = { child: () => logger, info() {}, warn() {}, error() {} };\n' +
        `const ix = await startInfluxd({ dataDir: ${JSON.stringify(join(dir, 'b'))}, logger });\n` +
        'process.stdout.write(`${ix.pid}\\n`);\nsetInterval(() => {}, 1000);\n',
    );
    const parent = spawn(process.execPath, ['--import', 'tsx', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = await new Promise<number>((resolve, reject) => {
      parent.stdout.on('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      let err = '';
      parent.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      parent.on('exit', (code) => reject(new Error(`parent exited ${code}: ${err}`)));
    });
    expect(alive(pid)).toBe(true);
    parent.kill('SIGKILL');
    expect(await waitFor(() => !alive(pid), 10_000)).toBe(true);
  });
});
