import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, healthy, spawnGateway, until } from './agent-process.js';
import { TestCloud } from './uplink-cloud.js';

let dir: string;
let cloud: TestCloud;
let child: ChildProcess | undefined;
const startGateway = (configFile: string): ChildProcess => (child = spawnGateway(configFile));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hutong-crash-'));
  cloud = new TestCloud();
  await cloud.start();
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await cloud?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('gateway power loss', () => {
  it('delivers every PUBACKed reading after kill -9 and a restart', async () => {
    const sitePort = await freePort();
    const httpPort = await freePort();
    const file = join(dir, 'gw.json');
    await writeFile(
      file,
      JSON.stringify({
        gateway: { id: 'gw-k', dataDir: join(dir, 'data'), compound: 'c-1' },
        uplink: { url: `mqtt://127.0.0.1:${cloud.port}`, password: 'pw', reconnect: { minMs: 50, maxMs: 500 } },
        broker: { host: '127.0.0.1', port: sitePort },
        http: { port: httpPort },
        devices: [{ id: 'sc-1', kind: 'scanner', transport: 'mqtt' }],
        bins: { bins: Array.from({ length: 40 }, (_, i) => ({ id: `bin-${i}`, category: 'other' })) },
      }),
    );
    let p = startGateway(file);
    await until(() => healthy(httpPort));
    // the cloud receives but never acks: everything stays in the outbox
    const dev = await connectAsync(`mqtt://127.0.0.1:${sitePort}`, { clientId: 'sc-1', protocolVersion: 4 });
    for (let i = 0; i < 40; i++) await dev.publishAsync('site/scanner/sc-1/scan', JSON.stringify({ code: `bin-${i}` }), { qos: 1 });
    await dev.endAsync(true);
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;

    cloud.autoAck = true;
    cloud.batches.length = 0;
    p = startGateway(file);
    await until(() => new Set(cloud.batches.flatMap((b) => b.recs).filter((r) => r.k === 'scan').map((r) => r.ts)).size >= 40);
    const scans = cloud.batches.flatMap((b) => b.recs).filter((r) => r.k === 'scan') as unknown as { bin: string }[];
    expect(new Set(scans.map((s) => s.bin)).size).toBe(40);
    await until(async () => {
      const m = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      return /hutong_outbox_depth\{gateway="gw-k",class="1"\} 0\n/.test(m);
    });
    const stopped = new Promise<number | null>((r) => p.once('exit', r));
    p.kill('SIGTERM');
    expect(await stopped).toBe(0);
    child = undefined;
  });
});
