import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAgent, startAgent } from '../src/agent.js';
import { checkEdgeConfig } from '../src/config/index.js';
import { TestCloud } from './uplink-cloud.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
let dir: string;
let cloud: TestCloud;
let agent: RunningAgent;
let tcpPort: number;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hutong-agent-'));
  cloud = new TestCloud();
  cloud.autoAck = true;
  await cloud.start();
  tcpPort = await freePort();
  const r = checkEdgeConfig({
    gateway: { id: 'gw-a', dataDir: join(dir, 'data'), compound: 'c-1' },
    uplink: { url: `mqtt://127.0.0.1:${cloud.port}`, password: 'pw', reconnect: { minMs: 50, maxMs: 500 } },
    broker: { host: '127.0.0.1', port: 0 },
    http: { port: 0 },
    devices: [
      { id: 'sc-1', kind: 'scanner', transport: 'mqtt' },
      { id: 'sc-2', kind: 'scanner', transport: { tcp: { port: tcpPort } } },
      { id: 'sc-3', kind: 'scanner', transport: { serial: { path: join(dir, 'no-such-tty') } } },
      { id: 'rd-1', kind: 'reader', transport: 'mqtt' },
    ],
    gates: { gates: [{ id: 'g-1', bit: 0, readers: [{ id: 'rd-1', dir: 'in' }], fireZones: ['z1'] }] },
    bins: { bins: [{ id: 'bin-1', category: 'kitchen' }, { id: 'bin-2', category: 'recyclable' }] },
  });
  if (!r.ok) throw new Error(r.message);
  agent = await startAgent(r.config, logger, { bootId: 'test' });
});

afterAll(async () => {
  await agent?.stop();
  await cloud?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('gateway agent', () => {
  it('takes a scan over site MQTT and over TCP to the cloud, released on ack', async () => {
    const dev = await connectAsync(`mqtt://127.0.0.1:${agent.siteBroker!.port}`, { clientId: 'sc-1', protocolVersion: 4 });
    await dev.subscribeAsync('site/scanner/sc-1/answer', { qos: 1 });
    const answer = new Promise<string>((r) => dev.once('message', (_t, p) => r(p.toString())));
    await dev.publishAsync('site/scanner/sc-1/scan', JSON.stringify({ code: 'bin-1', crew: 'crew-7' }), { qos: 1 });
    expect(JSON.parse(await answer)).toMatchObject({ code: 'bin-1', result: 'recorded' });
    await dev.endAsync();

    const line = await new Promise<string>((resolve, reject) => {
      const s = createConnection(tcpPort, '127.0.0.1', () => s.write('bin-2;kg=4\n'));
      s.on('data', (d) => {
        resolve(d.toString().trim());
        s.destroy();
      });
      s.on('error', reject);
    });
    expect(line).toBe('OK recorded');

    await until(() => cloud.batches.flatMap((b) => b.recs).filter((r) => r.k === 'scan').length >= 2);
    const scans = cloud.batches.flatMap((b) => b.recs).filter((r) => r.k === 'scan');
    expect(scans.map((r) => (r as unknown as { bin: string }).bin).sort()).toEqual(['bin-1', 'bin-2']);
    await until(() => agent.outbox.stats().depth.every((d) => d === 0));
  });

  it('serves /metrics and /health, and a missing serial port does not stop the rest', async () => {
    const base = `http://127.0.0.1:${agent.http!.port}`;
    const m = await (await fetch(`${base}/metrics`)).text();
    expect(m).toContain('hutong_outbox_depth{gateway="gw-a",class="0"}');
    expect(m).toContain('hutong_uplink_connected{gateway="gw-a"} 1');
    expect(m).toMatch(/hutong_part_stat\{gateway="gw-a",part="serial:sc-3",name="open_attempts"\} [1-9]/);
    const h = (await (await fetch(`${base}/health`)).json()) as { status: string; uplink: boolean; clockSynced: boolean };
    expect(h).toMatchObject({ status: 'ok', uplink: true, clockSynced: true });
  });
});

describe('gateway agent downlink and alarms', () => {
  it('applies a revocation list from the cloud to the gate service', async () => {
    const msg = { v: 2, from: 0, to: 1, full: true, add: ['pass-1'], remove: [] };
    await cloud.sub!.publishAsync('hutong/gw/gw-a/down/revocations', JSON.stringify(msg), { qos: 1 });
    await until(() => (agent.sources.counters().gates?.revocation_applied ?? 0) === 1);
    expect(agent.sources.counters().gates?.revocations_size).toBe(1);
  });

  it('answers a forged pass with a deny and stores the decision', async () => {
    const rd = await connectAsync(`mqtt://127.0.0.1:${agent.siteBroker!.port}`, { clientId: 'rd-1', protocolVersion: 4 });
    await rd.subscribeAsync('site/reader/rd-1/decision', { qos: 1 });
    const answer = new Promise<string>((r) => rd.once('message', (_t, p) => r(p.toString())));
    await rd.publishAsync('site/reader/rd-1/code', JSON.stringify({ code: 'HT:not-a-pass' }), { qos: 1 });
    expect(JSON.parse(await answer)).toMatchObject({ result: 'deny' });
    await rd.endAsync();
    await until(() => cloud.batches.flatMap((b) => b.recs).some((r) => r.k === 'gate' && r.d === 'rd-1'));
  });

  it('takes a fire alarm message, drives the gate relay, and refuses a malformed one', async () => {
    const panel = await connectAsync(`mqtt://127.0.0.1:${agent.siteBroker!.port}`, { clientId: 'panel', protocolVersion: 4 });
    await panel.subscribeAsync('site/gate/+/relay', { qos: 1 });
    const relay = new Promise<[string, string]>((r) => panel.once('message', (t, p) => r([t, p.toString()])));
    await panel.publishAsync('site/alarm/z1', JSON.stringify({ active: true }), { qos: 1 });
    expect(await relay).toEqual(['site/gate/g-1/relay', JSON.stringify({ open: true })]);
    await panel.publishAsync('site/alarm/z1', JSON.stringify({ on: 1 }), { qos: 1 });
    await panel.endAsync();
    const c = agent.sources.counters()['mqtt-site']!;
    expect(c.alarms_active).toBe(1);
    expect(c.rejected_e_schema).toBe(1);
  });

  it('serves /metrics that promtool accepts', async () => {
    const text = await (await fetch(`http://127.0.0.1:${agent.http!.port}/metrics`)).text();
    const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d.toString();
    });
    p.stderr.on('data', (d) => {
      out += d.toString();
    });
    p.stdin.end(text);
    const code = await new Promise<number | null>((r) => p.on('exit', r));
    // promtool exits non-zero for parse errors and for lint problems (naming); both are printed
    expect({ code, out }).toEqual({ code: 0, out: '' });
  });
});

describe('main', () => {
  it('prints every config error and exits 2', async () => {
    const f = join(dir, 'bad.json');
    await writeFile(f, JSON.stringify({ gateway: { id: 'bad id!', dataDir: '/x' }, uplink: { url: 'http://x' }, brokr: {} }));
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '../src/main.ts'), '--config', f], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d.toString();
    });
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(2);
    expect(err).toContain('E_CONFIG');
    for (const p of ['/gateway/id', '/gateway/compound', '/uplink/url', '/brokr', '/uplink']) expect(err).toContain(p);
  });
});
