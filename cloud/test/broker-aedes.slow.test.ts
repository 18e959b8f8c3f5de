import { downlinkFilter, downlinkTopic, statusTopic, uplinkTopic } from '@hutong/protocols';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AedesBroker } from '../src/broker/index.js';
import { closed, collect, connect, connectOutcome, granted, type Harness, harness, rawPasswordWithoutUsername, refusedConnect } from './broker-harness.js';

/** The embedded broker for real: aedes behind TLS, gateways checked against the registry, every refusal counted. */
describe('aedes broker over TLS', () => {
  let h: Harness;
  let broker: AedesBroker;
  let creds: Record<string, string>;
  let ingest: MqttClient;
  let ingestMsgs: ReturnType<typeof collect>;
  const clients: MqttClient[] = [];

  const gw = async (id: string, extra: Record<string, unknown> = {}) => {
    const c = await connect(broker.url, { ca: h.tls.caPem, username: id, password: creds[id], clientId: id, ...extra });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    h = await harness();
    creds = {};
    for (const id of ['gw-a', 'gw-b', 'gw-r']) {
      await h.registry.createGateway({ id, name: id, compound: 'c1' }, 'test');
      creds[id] = (await h.registry.gateways.issueCredential(id, 'test')).password;
    }
    await h.registry.gateways.revoke('gw-r', 'test');
    broker = new AedesBroker({ tls: h.tls, gateways: h.registry.gateways, logger: h.logger, port: 0, servicePort: 0, maxPacket: 4096 });
    await broker.start();
    ingest = await connect(broker.serviceUrl, { ...broker.service('ingest'), clientId: '_ingest-1' });
    ingestMsgs = collect(ingest);
    await ingest.subscribeAsync(['hutong/gw/+/up/#', 'hutong/gw/+/status'], { qos: 1 });
  }, 60_000);

  afterAll(async () => {
    for (const c of [...clients, ingest]) await c?.endAsync(true).catch(() => {});
    await broker?.stop();
    await h?.close();
  });

  it('lets a good gateway publish its uplink and receive its downlink, with the CA it was given', async () => {
    const a = await gw('gw-a');
    const down = collect(a);
    const sub = await a.subscribeAsync(downlinkFilter('gw-a'), { qos: 1 });
    expect(sub[0]?.qos).toBe(1);
    const before = ingestMsgs.msgs.length;
    await a.publishAsync(uplinkTopic('gw-a', 'batch'), '{"n":1}', { qos: 1 });
    await ingestMsgs.until(before + 1);
    expect(ingestMsgs.msgs.at(-1)).toEqual({ topic: 'hutong/gw/gw-a/up/batch', payload: '{"n":1}' });
    const api = await connect(broker.serviceUrl, { ...broker.service('api'), clientId: '_api-1' });
    clients.push(api);
    await api.publishAsync(downlinkTopic('gw-a', 'ack'), '{"acks":[]}', { qos: 1 });
    await down.until(1);
    expect(down.msgs[0]?.topic).toBe('hutong/gw/gw-a/down/ack');
    expect(broker.counters()['connect.ok']).toBeGreaterThanOrEqual(3);
  });

  it('refuses a wrong password (E_AUTH) and a revoked credential (E_REVOKED_CREDENTIAL)', async () => {
    const bad = await refusedConnect(broker.url, { ca: h.tls.caPem, username: 'gw-b', password: 'guess', clientId: 'gw-b' });
    expect(bad.code).toBe(4);
    const unknown = await refusedConnect(broker.url, { ca: h.tls.caPem, username: 'nobody', password: 'x', clientId: 'x1' });
    expect(unknown.code).toBe(4);
    const revoked = await refusedConnect(broker.url, { ca: h.tls.caPem, username: 'gw-r', password: creds['gw-r'], clientId: 'gw-r' });
    expect(revoked.code).toBe(5);
    const anon = await refusedConnect(broker.url, { ca: h.tls.caPem, clientId: 'anon' });
    expect(anon.code).toBe(4);
    const c = broker.counters();
    expect(c.E_AUTH).toBe(3);
    expect(c.E_REVOKED_CREDENTIAL).toBe(1);
  });

  it('refuses a gateway on the plain service listener and a service secret that is wrong', async () => {
    const n = broker.counters().E_AUTH ?? 0;
    const plain = await refusedConnect(broker.serviceUrl, { username: 'gw-a', password: creds['gw-a'], clientId: 'gw-a-plain' });
    expect(plain.code).toBe(5);
    const svc = await refusedConnect(broker.serviceUrl, { username: '_svc.ingest', password: 'nope', clientId: 's' });
    expect(svc.code).toBe(4);
    expect(broker.counters().E_AUTH).toBe(n + 2);
  });

  it('closes CONNECTs the 3.1.1 spec says to close (E_BAD_CONNECT)', async () => {
    const base = { ca: h.tls.caPem };
    expect(await connectOutcome(broker.url, { ...base, username: 'gw\u0000a', password: creds['gw-a'], clientId: 'nul' })).toBe('closed');
    expect(await connectOutcome(broker.url, { ...base, username: 'gw-a', password: creds['gw-a'], clientId: 'bad\u0000id' })).toBe(
      'closed',
    );
    const port = Number(new URL(broker.url).port);
    expect((await rawPasswordWithoutUsername(port, h.tls.caPem)).length).toBe(0);
    expect(broker.counters().E_BAD_CONNECT).toBe(3);
    expect(await connectOutcome(broker.url, { ...base, username: 'gw-a', password: creds['gw-a'], clientId: 'gw-a-ok' })).toBe(
      'connected',
    );
  });

  it('closes a gateway that publishes under another gateway prefix, counts it, and keeps serving the others', async () => {
    const b = await gw('gw-b');
    const gone = closed(b);
    b.publish(uplinkTopic('gw-a', 'batch'), '{"forged":true}', { qos: 1 });
    await gone;
    expect(broker.counters().E_FOREIGN_PREFIX).toBe(1);
    // a QoS 0 publish to the other gateway's status, and to a non-Hutong topic, are refused the same way
    const b2 = await gw('gw-b', { clientId: 'gw-b' });
    const gone2 = closed(b2);
    b2.publish(statusTopic('gw-a'), 'offline', { qos: 0 });
    await gone2;
    expect(broker.counters().E_FOREIGN_PREFIX).toBe(2);
    const a = await gw('gw-a', { clientId: 'gw-a' });
    const before = ingestMsgs.msgs.length;
    await a.publishAsync(uplinkTopic('gw-a', 'batch'), '{"n":2}', { qos: 1 });
    await ingestMsgs.until(before + 1);
    expect(ingestMsgs.msgs.some((m) => m.payload.includes('forged'))).toBe(false);
    expect(ingestMsgs.msgs.some((m) => m.topic === 'hutong/gw/gw-a/status' && m.payload === 'offline')).toBe(false);
  });

  it('refuses a payload over the packet limit (E_OVERSIZED)', async () => {
    const a = await gw('gw-a', { clientId: 'gw-a-big' });
    const gone = closed(a);
    a.publish(uplinkTopic('gw-a', 'image'), Buffer.alloc(5000), { qos: 1 });
    await gone;
    expect(broker.counters().E_OVERSIZED).toBe(1);
    // far over the limit: the connection is cut from the packet header, before the broker buffers the body
    const big = await gw('gw-a', { clientId: 'gw-a-huge' });
    const cut = closed(big);
    big.publish(uplinkTopic('gw-a', 'image'), Buffer.alloc(1024 * 1024), { qos: 0 });
    await cut;
    expect(broker.counters().E_OVERSIZED).toBe(2);
    expect(h.logs.some((l) => l.code === 'E_OVERSIZED' && l.declared !== undefined)).toBe(true);
  });

  it("refuses a subscription to another gateway's downlink with SUBACK 0x80 and counts it", async () => {
    const n = broker.counters().E_FOREIGN_PREFIX ?? 0;
    const b = await gw('gw-b', { clientId: 'gw-b' });
    expect(await granted(b, downlinkFilter('gw-a'))).toBe(128);
    expect(await granted(b, 'hutong/#', 0)).toBe(128);
    expect(broker.counters().E_FOREIGN_PREFIX).toBe(n + 2);
    expect(b.connected).toBe(true);
  });

  it('refuses $share subscriptions with a logged reason, since aedes would deliver nothing to them', async () => {
    const w = await connect(broker.serviceUrl, { ...broker.service('ingest'), clientId: '_ingest-2' });
    clients.push(w);
    expect(await granted(w, '$share/ingest/hutong/gw/+/up/#')).toBe(128);
    expect(broker.counters().share_refused).toBe(1);
    const line = h.logs.find((l) => typeof l.msg === 'string' && l.msg.includes('shared subscription'));
    expect(line?.code).toBe('E_TOPIC');
    expect(String(line?.msg)).toContain('Mosquitto');
  });

  it("refuses a will on another gateway's topic and a client id owned by another principal", async () => {
    const will = await refusedConnect(broker.url, {
      ca: h.tls.caPem,
      username: 'gw-b',
      password: creds['gw-b'],
      clientId: 'gw-b-will',
      will: { topic: statusTopic('gw-a'), payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    expect(will.code).toBe(5);
    const takeover = await refusedConnect(broker.url, { ca: h.tls.caPem, username: 'gw-b', password: creds['gw-b'], clientId: 'gw-a' });
    expect(takeover.code).toBe(2);
  });

  it("delivers a gateway's own will (retained offline) and ends its session when its credential is revoked", async () => {
    const a = await gw('gw-a', {
      clientId: 'gw-a',
      will: { topic: statusTopic('gw-a'), payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    const before = ingestMsgs.msgs.length;
    const gone = closed(a);
    await h.registry.gateways.revoke('gw-a', 'test');
    await gone;
    await ingestMsgs.until(before + 1);
    expect(ingestMsgs.msgs.at(-1)).toEqual({ topic: 'hutong/gw/gw-a/status', payload: 'offline' });
    const again = await refusedConnect(broker.url, { ca: h.tls.caPem, username: 'gw-a', password: creds['gw-a'], clientId: 'gw-a' });
    expect(again.code).toBe(5);
  });

  it('refuses a client that does not trust the cloud CA', async () => {
    await expect(connect(broker.url, { username: 'gw-b', password: creds['gw-b'], clientId: 'gw-b-noca', connectTimeout: 3000 })).rejects.toThrow();
    expect(broker.state()).toBe('up');
  });
});
