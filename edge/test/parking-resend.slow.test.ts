import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type HutongRecord, site } from '@hutong/protocols';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileOutbox } from '../src/outbox/file.js';
import { recordBytes } from '../src/records/provisional.js';
import { freePort, healthy, partStat, segmentText, spawnGateway, until } from './agent-process.js';
import { MuteProxy } from './mute-proxy.js';
import { TestCloud } from './uplink-cloud.js';

/**
 * The power-loss window of DESIGN.md req. 2 that MQTT QoS 1 leaves open: a parking reading is durable in the
 * outbox, the gateway dies before the sensor got its PUBACK, and the sensor's mqtt.js client sends the same
 * publish again once the restarted gateway is back. Made deterministic with a proxy between sensors and the
 * site broker that holds back everything the broker sends (so no PUBACK can arrive), a wait until the records
 * are in the outbox's segment files, then SIGKILL. The resend is mqtt.js's own (its outgoing store).
 */

let dir: string;
let cloud: TestCloud;
let child: ChildProcess | undefined;
let proxy: MuteProxy | undefined;
const clients: MqttClient[] = [];
const startGateway = (configFile: string): ChildProcess => (child = spawnGateway(configFile));

const parkingStat = (httpPort: number, name: string) => partStat(httpPort, 'parking', name, Number.NaN);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hutong-resend-'));
  cloud = new TestCloud();
  await cloud.start();
});
afterAll(async () => {
  for (const c of clients) await c.endAsync(true).catch(() => {});
  child?.kill('SIGKILL');
  await proxy?.stop();
  await cloud?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('parking reading resent after a gateway power loss', () => {
  it('is stored once when it carries a frame counter; without one it is stored twice', async () => {
    const sitePort = await freePort();
    const httpPort = await freePort();
    const dataDir = join(dir, 'data');
    const file = join(dir, 'gw.json');
    await writeFile(
      file,
      JSON.stringify({
        gateway: { id: 'gw-r', dataDir, compound: 'c-1' },
        uplink: { url: `mqtt://127.0.0.1:${cloud.port}`, password: 'pw', reconnect: { minMs: 50, maxMs: 500 } },
        broker: { host: '127.0.0.1', port: sitePort },
        http: { port: httpPort },
        devices: [
          { id: 'ps-fc', kind: 'parking', transport: 'mqtt' },
          { id: 'ps-plain', kind: 'parking', transport: 'mqtt' },
        ],
        parking: {
          lots: [
            {
              id: 'lot-a',
              spaces: [
                { id: 's1', sensor: 'ps-fc' },
                { id: 's2', sensor: 'ps-plain' },
              ],
            },
          ],
        },
      }),
    );
    // The cloud never acks: every record stays in the outbox, where the test counts them.
    let gw = startGateway(file);
    await until(() => healthy(httpPort));
    proxy = new MuteProxy(sitePort);
    await proxy.start();
    const sensor = async (id: string) => {
      const c = await connectAsync(`mqtt://127.0.0.1:${proxy!.port}`, { clientId: id, protocolVersion: 4, reconnectPeriod: 100 });
      c.on('error', () => {});
      clients.push(c);
      return c;
    };
    const withFc = await sensor('ps-fc');
    const plain = await sensor('ps-plain');

    proxy.muted = true;
    const sentFc = withFc.publishAsync(site.parking('ps-fc'), JSON.stringify({ occ: true, bat: 71, fcnt: 4_000_000_000 }), { qos: 1 });
    const sentPlain = plain.publishAsync(site.parking('ps-plain'), JSON.stringify({ occ: true, bat: 71 }), { qos: 1 });
    // Durable (written by the gateway) but not acknowledged to the sensors: the window of the fault.
    const outboxDir = join(dataDir, 'var', 'outbox');
    await until(async () => {
      const t = await segmentText(outboxDir);
      return t.includes('"k":"park","d":"ps-fc"') && t.includes('"k":"park","d":"ps-plain"');
    });
    const gone = new Promise((r) => gw.once('exit', r));
    gw.kill('SIGKILL');
    await gone;

    proxy.muted = false;
    gw = startGateway(file);
    // Each sensor reconnects and mqtt.js resends its unacknowledged publish; now the PUBACK gets through.
    await Promise.all([sentFc, sentPlain]);
    expect(await parkingStat(httpPort, 'replayed')).toBe(1);

    const stopped = new Promise<number | null>((r) => gw.once('exit', r));
    gw.kill('SIGTERM');
    expect(await stopped).toBe(0);
    child = undefined;

    const ob = new FileOutbox(
      { dir: outboxDir, maxBytes: 1 << 26, maxAgeMs: 7 * 86_400_000, liveShare: 0.25, segmentBytes: 1 << 24, groupCommitMs: 0, fsync: 'data', ackFlushMs: 0 },
      pino({ level: 'silent' }),
    );
    await ob.open();
    const parks: HutongRecord[] = [];
    ob.forEachHeld('rec', (it) => {
      const r = JSON.parse(Buffer.from(recordBytes(it.data)).toString('utf8')) as HutongRecord;
      if (r.k === 'park') parks.push(r);
    });
    await ob.close();
    const of = (d: string) => parks.filter((r) => r.d === d);
    // With the frame counter: one record for one reading, across the kill.
    expect(of('ps-fc')).toMatchObject([{ occ: true, bat: 71, fc: 4_000_000_000 }]);
    // Control: without it the resent copy is a second reading with a new timestamp (a second point in InfluxDB).
    const twice = of('ps-plain');
    expect(twice).toHaveLength(2);
    expect(twice[0]!.ts).not.toBe(twice[1]!.ts);
  });
});
