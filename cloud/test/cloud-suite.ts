import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig, downlinkFilter, nsTimestamp, statusTopic, uplinkTopic } from '@hutong/protocols';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudConfig } from '../src/config.js';
import { type RunningCloud, startCloud } from '../src/cloud.js';

/**
 * The whole cloud as one program: PGlite store, certificates, its own influxd, aedes over TLS, ingest, API.
 * A gateway is created, enrolled over HTTP, connects with what enrolment gave it, sends a batch, gets its ack,
 * and the API shows what arrived. Stopping leaves no listener and no child process behind.
 */
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const portOpen = (url: string) =>
  new Promise<boolean>((resolve) => {
    const u = new URL(url);
    const s = netConnect({ host: u.hostname === 'localhost' ? '127.0.0.1' : u.hostname, port: Number(u.port) }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });

export function cloudSuite(broker: 'aedes' | 'mosquitto'): void {
  describe(`cloud composition with ${broker}`, () => {
    let dir: string;
    let cloud: RunningCloud;
    let token: string;
    const api = async (method: string, path: string, body?: unknown, auth = true) => {
      const r = await fetch(`${cloud.apiUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${token}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      // biome-ignore lint/suspicious/noExplicitAny: the test reads replies whose schemas the API test pins
      return { status: r.status, body: (await r.json()) as Record<string, any> };
    };

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'hutong-cloud-'));
      process.env.HUTONG_TEST_ROOT_PW = 'root-password-1';
      const cfg = checkConfig(CloudConfig, {
        dataDir: join(dir, 'cloud'),
        mqtt: { port: 0, broker },
        api: { port: 0 },
        influx: { dataDir: join(dir, 'influx') },
        ingest: { imagesDir: join(dir, 'images'), flushMs: 5 },
        users: [
          { name: 'root', role: 'operator', grids: ['*'], passwordEnv: 'HUTONG_TEST_ROOT_PW' },
          { name: 'ivan', role: 'installer', passwordEnv: 'HUTONG_TEST_ROOT_PW' },
        ],
      });
      if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
      cloud = await startCloud(cfg.value, logger, { scrypt: { N: 1024, r: 8, p: 1, keylen: 32 } });
      const login = await api('POST', '/api/login', { name: 'root', password: 'root-password-1' }, false);
      token = login.body.token;
    }, 120_000);

    afterAll(async () => {
      await cloud?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('reports every part up', async () => {
      const h = await api('GET', '/health', undefined, false);
      expect(h.status).toBe(200);
      expect(h.body.checks).toEqual({ store: 'up', broker: 'up', influx: 'up', ingest: 'up', downlink: 'up' });
      // with Mosquitto, ingest shares its subscription so more workers can join the same group
      if (broker === 'mosquitto') expect(cloud.broker.sharedSubscriptions).toBe(true);
    });

    it('enrols a gateway over HTTP, takes its batch end to end and shows it in the API', async () => {
      expect((await api('POST', '/api/gateways', { id: 'gw-e2e', name: 'E2E', compound: 'c1', grid: 'g1' })).status).toBe(201);
      expect(
        (
          await api('PUT', '/api/gateways/gw-e2e/devices', {
            devices: [
              { id: 'board-1', kind: 'parking', lot: 'L1' },
              { id: 'sc-1', kind: 'scanner' },
            ],
          })
        ).status,
      ).toBe(403); // operators do not register devices: installers do
      const ivan = (await api('POST', '/api/login', { name: 'ivan', password: 'root-password-1' }, false)).body.token;
      const put = await fetch(`${cloud.apiUrl}/api/gateways/gw-e2e/devices`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ivan}` },
        body: JSON.stringify({ devices: [{ id: 'board-1', kind: 'parking', lot: 'L1' }, { id: 'sc-1', kind: 'scanner' }] }),
      });
      expect(put.status).toBe(200);
      const code = await api('POST', '/api/gateways/gw-e2e/enrolment-codes', { ttlMinutes: 10 });
      const enrol = await api('POST', '/api/enrol', { gateway: 'gw-e2e', code: code.body.code }, false);
      expect(enrol.status).toBe(200);
      const { username, password, mqttUrl, caPem } = enrol.body;
      expect(mqttUrl).toBe(cloud.mqttUrl);

      const gw = await mqtt.connectAsync(mqttUrl, {
        username,
        password,
        ca: caPem,
        clientId: 'gw-e2e',
        protocolVersion: 4,
        reconnectPeriod: 0,
        will: { topic: statusTopic('gw-e2e'), payload: Buffer.from(JSON.stringify({ v: 2, state: 'offline', ts: 0 })), qos: 1, retain: true },
      });
      const acks: string[] = [];
      const acked = new Promise<void>((resolve) =>
        gw.on('message', (topic, payload) => {
          if (topic.endsWith('/down/ack')) {
            acks.push(payload.toString());
            resolve();
          }
        }),
      );
      await gw.subscribeAsync(downlinkFilter('gw-e2e'), { qos: 1 });
      await gw.publishAsync(statusTopic('gw-e2e'), JSON.stringify({ v: 2, state: 'online', ts: Date.now() }), { qos: 1, retain: true });
      const t = Date.now();
      const batch = {
        v: 2,
        gw: 'gw-e2e',
        id: 'b-1',
        recs: [
          { k: 'lot', d: 'board-1', ts: nsTimestamp(t, 0), lot: 'L1', free: 3, occupied: 5, unknown: 1 },
          { k: 'scan', d: 'sc-1', ts: nsTimestamp(t, 1), bin: 'BIN-7', cat: 'kitchen', crew: 'crew-2', kg: 12.5, grade: 4 },
        ],
      };
      await gw.publishAsync(uplinkTopic('gw-e2e', 'batch'), JSON.stringify(batch), { qos: 1 });
      await acked;
      expect(JSON.parse(acks[0] ?? '{}').acks[0]).toMatchObject({ id: 'b-1', stored: 2, rejected: 0 });

      const lots = await api('GET', '/api/parking/lots');
      expect(lots.body.lots).toEqual([{ gw: 'gw-e2e', lot: 'L1', free: 3, occupied: 5, unknown: 1, at: new Date(t).toISOString() }]);
      const bin = await api('GET', '/api/bins/BIN-7/last-collection');
      expect(bin.body).toMatchObject({ bin: 'BIN-7', gw: 'gw-e2e', category: 'kitchen', scanner: 'sc-1', crew: 'crew-2', kg: 12.5, grade: 4 });
      expect((await api('GET', '/api/bins/BIN-404/last-collection')).status).toBe(404);
      const all = await api('GET', '/api/bins/last-collections');
      expect(all.body.collections.map((c: { bin: string }) => c.bin)).toEqual(['BIN-7']);
      const gws = await api('GET', '/api/gateways');
      expect(gws.body.gateways[0]).toMatchObject({ id: 'gw-e2e', online: true });
      const devs = await api('GET', '/api/gateways/gw-e2e/devices');
      const seen = Object.fromEntries(devs.body.devices.map((d: { id: string; lastSeen: string | null }) => [d.id, d.lastSeen]));
      expect(seen['board-1']).toBe(new Date(t).toISOString());
      expect(seen['sc-1']).not.toBeNull();
      await gw.endAsync(true);
    });

    it('stops everything it started', async () => {
      const urls = [cloud.apiUrl, cloud.mqttUrl, cloud.influxUrl];
      for (const u of urls) expect(await portOpen(u)).toBe(true);
      await cloud.stop();
      for (const u of urls) expect(await portOpen(u)).toBe(false);
      expect(existsSync(join(dir, 'cloud', 'tls', 'ca.crt'))).toBe(true);
    });
  });
}
