import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkEdgeConfig, loadConfig } from '../src/config/index.js';

const good = {
  gateway: { id: 'gw-1', dataDir: '/var/lib/hutong', compound: 'c-1' },
  uplink: { url: 'mqtts://cloud.example:8883', password: 'secret' },
  broker: { port: 1883 },
  devices: [
    { id: 'sc-1', kind: 'scanner', transport: { tcp: { port: 7001 } } },
    { id: 'rd-1', kind: 'reader', transport: 'mqtt', gate: 'g-1' },
    { id: 'p-1', kind: 'parking', transport: 'mqtt', lot: 'lot-a', space: 's-1' },
    { id: 'sc-2', kind: 'scanner', transport: { serial: { path: '/dev/ttyUSB0' } } },
  ],
  parking: { lots: [{ id: 'lot-a', spaces: [{ id: 's-1', sensor: 'p-1' }] }] },
  gates: { gates: [{ id: 'g-1', bit: 0, readers: [{ id: 'rd-1', dir: 'in' }] }] },
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hutong-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('edge config', () => {
  it('accepts a good file and fills defaults', async () => {
    const f = join(dir, 'good.json');
    await writeFile(f, JSON.stringify(good));
    const c = await loadConfig(f);
    expect(c.uplink.batchRecords).toBe(500);
    expect(c.uplink.reconnect.maxMs).toBe(30_000);
    expect(c.health.timeoutsS.parking).toBe(180);
    expect(c.http.port).toBe(9180);
    const serial = c.devices[3]?.transport;
    expect(serial).toEqual({ serial: { path: '/dev/ttyUSB0', baud: 9600 } });
  });

  it('lists every mistake with its path at once', async () => {
    const bad = structuredClone(good) as Record<string, unknown> & typeof good;
    (bad.gateway as Record<string, unknown>).id = undefined; // missing id
    (bad.gateway as Record<string, unknown>).dataDri = '/x'; // typo key
    (bad.broker as Record<string, unknown>).port = 70000; // out of range
    (bad.devices[0] as Record<string, unknown>).transport = { udp: { port: 1 } }; // bad transport
    (bad.uplink as Record<string, unknown>).batchRecords = 900; // above the protocol limit
    const f = join(dir, 'bad.json');
    await writeFile(f, JSON.stringify(bad));
    const err = await loadConfig(f).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^E_CONFIG/);
    expect(msg).toContain('/gateway/id');
    expect(msg).toContain('/gateway/dataDri');
    expect(msg).toContain('/broker/port');
    expect(msg).toContain('/devices/0/transport');
    expect(msg).toContain('/uplink/batchRecords');
  });

  it('reports cross-field mistakes: duplicate ids and ports, missing password, devices the services do not know', () => {
    const bad = structuredClone(good);
    bad.devices.push({ id: 'sc-1', kind: 'scanner', transport: { tcp: { port: 7001 } } });
    bad.devices.push({ id: 'rd-2', kind: 'reader', transport: 'mqtt' } as (typeof good.devices)[number]);
    bad.parking.lots[0]!.spaces.push({ id: 's-2', sensor: 'p-9' });
    bad.uplink = { url: 'mqtts://x:8883' } as typeof good.uplink;
    const r = checkEdgeConfig(bad);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const paths = r.issues.map((i) => i.path);
    expect(paths).toContain('/devices/4/id');
    expect(paths).toContain('/devices/4/transport/tcp/port');
    expect(paths).toContain('/devices/5');
    expect(paths).toContain('/parking/lots/0/spaces/1/sensor');
    expect(paths).toContain('/uplink');
  });

  it('names an unreadable or non-JSON file', async () => {
    await expect(loadConfig(join(dir, 'nope.json'))).rejects.toThrow(/E_CONFIG: cannot read/);
    const f = join(dir, 'broken.json');
    await writeFile(f, '{ "gateway": ');
    await expect(loadConfig(f)).rejects.toThrow(/not valid JSON/);
  });
});
