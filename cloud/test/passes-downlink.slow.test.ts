import { type AddressInfo, createServer, type Server } from 'node:net';
import { downlinkTopic, Limits, type RevocationMessage } from '@hutong/protocols';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Passes } from '../src/passes/index.js';
import { type Db, openStore } from '../src/store/index.js';

/**
 * Revocation lists over a real MQTT broker: a 20 000-id list leaves the cloud as chunks that a gateway's
 * subscription receives in order and rebuilds exactly; a later revocation arrives as an increment.
 */
describe('revocation downlink over MQTT', () => {
  let db: Db;
  let broker: Aedes;
  let server: Server;
  let cloud: MqttClient;
  let gateway: MqttClient;
  let passes: Passes;
  const got: RevocationMessage[] = [];
  const sizes: number[] = [];

  beforeAll(async () => {
    db = await openStore({});
    broker = await Aedes.createBroker();
    server = createServer(broker.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    cloud = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'cloud' });
    gateway = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'gw-z', clean: false });
    gateway.on('message', (_t, payload) => {
      sizes.push(payload.length);
      got.push(JSON.parse(payload.toString()) as RevocationMessage);
    });
    await gateway.subscribeAsync(downlinkTopic('gw-z', 'revocations'), { qos: 1 });
    await db.query("INSERT INTO gateways (id, name, compound) VALUES ('gw-z', 'Z', 'c9')");
    passes = new Passes({
      db,
      logger: pino({ level: 'silent' }),
      publish: async (topic, payload) => {
        await cloud.publishAsync(topic, payload, { qos: 1 });
      },
    });
    await passes.start();
  }, 60_000);
  afterAll(async () => {
    await passes?.stop();
    await gateway?.endAsync();
    await cloud?.endAsync();
    await new Promise<void>((r) => broker?.close(() => r()));
    await new Promise<void>((r) => server?.close(() => r()));
    await db?.close();
  });

  it('a gateway rebuilds a 20 000-id list from its chunks, then follows an increment', async () => {
    const s = Math.floor(Date.now() / 1000);
    await db.query(
      `INSERT INTO passes (id, holder, compound, type, valid_from, valid_until, kid, issued_by, revoked_version)
       SELECT lpad(to_hex(g), 16, '0'), 'aaaaaaaaaaaaaaaa', 'c9', 'resident', to_timestamp($1), to_timestamp($2), 0, 'test', 1
       FROM generate_series(1, 20000) g`,
      [s - 3600, s + 86_400],
    );
    await db.query("INSERT INTO pass_revocation_versions (compound, version) VALUES ('c9', 1)");
    await db.query(
      `INSERT INTO passes (id, holder, compound, type, valid_from, valid_until, kid, issued_by)
       VALUES ('00000000ffffffff', 'bbbbbbbbbbbbbbbb', 'c9', 'visitor', to_timestamp($1), to_timestamp($2), 0, 'test')`,
      [s - 3600, s + 3600],
    );
    await passes.publisher.gatewayOnline('gw-z');
    const r = await passes.store.revoke('00000000ffffffff', 'op');
    await passes.publisher.changed('c9', (r?.version as number) - 1);
    for (let i = 0; i < 200 && got.length < 4; i++) await new Promise((res) => setTimeout(res, 25));
    expect(got).toHaveLength(4);
    expect(Math.max(...sizes)).toBeLessThan(Limits.maxPacket);
    const state = { version: 0, ids: new Set<string>() };
    for (const m of got) {
      if (m.full) {
        state.ids = new Set(m.add);
        state.version = m.to;
      } else if (m.from === state.version) {
        for (const id of m.add) state.ids.add(id);
        for (const id of m.remove) state.ids.delete(id);
        state.version = m.to;
      }
    }
    expect(state.version).toBe(2);
    expect(state.ids.size).toBe(20_001);
    expect(state.ids.has('00000000ffffffff')).toBe(true);
  });
});
