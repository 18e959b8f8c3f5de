import { join } from 'node:path';
import { downlinkFilter, downlinkTopic, sharedFilter, uplinkTopic } from '@hutong/protocols';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AedesBroker, MosquittoBroker } from '../src/broker/index.js';
import { collect, connect, granted, type Harness, harness, refusedConnect } from './broker-harness.js';

/** The external broker for real: Mosquitto 2 with the generated TLS, password and ACL configuration. */
describe('mosquitto broker', () => {
  let h: Harness;
  let broker: MosquittoBroker;
  let creds: Record<string, string>;
  const clients: MqttClient[] = [];
  const open = async (username: string, password: string | undefined, clientId: string) => {
    const c = await connect(broker.url, { ca: h.tls.caPem, username, password, clientId });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    h = await harness();
    creds = {};
    for (const id of ['gw-a', 'gw-b']) {
      await h.registry.createGateway({ id, name: id, compound: 'c1' }, 'test');
      creds[id] = (await h.registry.gateways.issueCredential(id, 'test')).password;
    }
    broker = new MosquittoBroker({ tls: h.tls, gateways: h.registry.gateways, logger: h.logger, dir: join(h.dir, 'mosquitto'), port: 0 });
    await broker.start();
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => {});
    await broker?.stop();
    expect(broker?.state()).toBe('down');
    await h?.close();
  });

  it('authenticates gateways from the password file and refuses a bad password', async () => {
    const ingest = await open(broker.service('ingest').username, broker.service('ingest').password, '_ingest-m');
    const got = collect(ingest);
    await ingest.subscribeAsync('hutong/gw/+/up/#', { qos: 1 });
    const a = await open('gw-a', creds['gw-a'], 'gw-a');
    await a.publishAsync(uplinkTopic('gw-a', 'batch'), 'one', { qos: 1 });
    await got.until(1);
    expect(got.msgs[0]).toEqual({ topic: 'hutong/gw/gw-a/up/batch', payload: 'one' });
    const bad = await refusedConnect(broker.url, { ca: h.tls.caPem, username: 'gw-b', password: 'guess', clientId: 'gw-b' });
    expect(bad.code).toBe(5);
    const anon = await refusedConnect(broker.url, { ca: h.tls.caPem, clientId: 'anon' });
    expect(anon.code).toBe(5);
  });

  it('enforces the per-gateway ACL: foreign publishes are dropped, foreign downlinks are not delivered', async () => {
    const ingest = await open(broker.service('ingest').username, broker.service('ingest').password, '_ingest-acl');
    const got = collect(ingest);
    await ingest.subscribeAsync('hutong/gw/+/up/#', { qos: 1 });
    const b = await open('gw-b', creds['gw-b'], 'gw-b');
    const bDown = collect(b);
    await b.publishAsync(uplinkTopic('gw-a', 'batch'), 'forged', { qos: 1 });
    await b.publishAsync(uplinkTopic('gw-b', 'batch'), 'own', { qos: 1 });
    await got.until(1);
    expect(got.msgs.map((m) => m.payload)).toEqual(['own']);
    // gw-b asks for gw-a's downlink and its own; only its own arrives
    await granted(b, downlinkFilter('gw-a'));
    await b.subscribeAsync(downlinkFilter('gw-b'), { qos: 1 });
    const api = await open(broker.service('api').username, broker.service('api').password, '_api-m');
    await api.publishAsync(downlinkTopic('gw-a', 'ack'), 'for-a', { qos: 1 });
    await api.publishAsync(downlinkTopic('gw-b', 'ack'), 'for-b', { qos: 1 });
    await bDown.until(1);
    expect(bDown.msgs.map((m) => m.payload)).toEqual(['for-b']);
  });

  it('splits a shared subscription between ingest workers: each gets part, together all, none twice', async () => {
    const svc = broker.service('ingest');
    const w1 = await open(svc.username, svc.password, '_ingest-w1');
    const w2 = await open(svc.username, svc.password, '_ingest-w2');
    const g1 = collect(w1);
    const g2 = collect(w2);
    const filter = sharedFilter('ingest', 'hutong/gw/+/up/#');
    expect(await granted(w1, filter)).toBe(1);
    expect(await granted(w2, filter)).toBe(1);
    const a = await open('gw-a', creds['gw-a'], 'gw-a-share');
    const n = 40;
    for (let i = 0; i < n; i++) await a.publishAsync(uplinkTopic('gw-a', 'batch'), `m${i}`, { qos: 1 });
    await new Promise<void>((resolve) => {
      const check = () => (g1.msgs.length + g2.msgs.length >= n ? resolve() : setTimeout(check, 10));
      check();
    });
    expect(g1.msgs.length).toBeGreaterThan(0);
    expect(g2.msgs.length).toBeGreaterThan(0);
    const all = [...g1.msgs, ...g2.msgs].map((m) => m.payload).sort();
    expect(all).toEqual(Array.from({ length: n }, (_, i) => `m${i}`).sort());
  });

  it('picks up revocations and new credentials without a restart', async () => {
    await h.registry.gateways.revoke('gw-b', 'test');
    await broker.whenSynced();
    // Mosquitto applies SIGHUP asynchronously: wait until the old secret stops working
    let code: number | undefined;
    for (let i = 0; i < 200 && code === undefined; i++) {
      try {
        const c = await connect(broker.url, { ca: h.tls.caPem, username: 'gw-b', password: creds['gw-b'], clientId: `gw-b-r${i}` });
        await c.endAsync(true);
      } catch (e) {
        code = (e as { code?: number }).code;
      }
    }
    expect(code).toBe(5);
    const fresh = await h.registry.gateways.issueCredential('gw-b', 'test');
    await broker.whenSynced();
    let ok = false;
    for (let i = 0; i < 200 && !ok; i++) {
      try {
        const c = await connect(broker.url, { ca: h.tls.caPem, username: 'gw-b', password: fresh.password, clientId: `gw-b-n${i}` });
        await c.endAsync(true);
        ok = true;
      } catch {}
    }
    expect(ok).toBe(true);
    expect(broker.counters().reload).toBe(2);
  });

  it('while aedes refuses the same shared subscription (it would deliver nothing)', async () => {
    const aedes = new AedesBroker({ tls: h.tls, gateways: h.registry.gateways, logger: h.logger, port: 0, servicePort: 0 });
    await aedes.start();
    try {
      const svc = aedes.service('ingest');
      const w = await connect(aedes.serviceUrl, { ...svc, clientId: '_ingest-aedes' });
      expect(await granted(w, sharedFilter('ingest', 'hutong/gw/+/up/#'))).toBe(128);
      await w.endAsync(true);
      expect(aedes.counters().share_refused).toBe(1);
    } finally {
      await aedes.stop();
    }
  });
});
