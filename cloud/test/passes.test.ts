import { generateKeyPairSync } from 'node:crypto';
import {
  base64urlDecode,
  decodePass,
  downlinkTopic,
  makeCode,
  parseCode,
  type RevocationMessage,
} from '@hutong/protocols';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/api/index.js';
import { nodeCrypto, Passes, passesFeature, passesPlugin } from '../src/passes/index.js';
import { Registry } from '../src/registry/index.js';
import { type Db, openStore } from '../src/store/index.js';

const NOW = Date.UTC(2026, 10, 20, 8, 0, 0);
const nowS = Math.floor(NOW / 1000);

function holderKeys() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { pub: publicKey.export({ format: 'jwk' }).x as string, priv: base64urlDecode(privateKey.export({ format: 'jwk' }).d as string) as Uint8Array };
}

/** What a gateway does with the messages: the same rules as the edge's revocation set. */
function applyAll(state: { version: number; ids: Set<string> }, msgs: RevocationMessage[]): void {
  for (const m of msgs) {
    if (m.full) {
      state.ids = new Set(m.add);
      state.version = m.to;
    } else if (m.from === state.version) {
      for (const id of m.add) state.ids.add(id);
      for (const id of m.remove) state.ids.delete(id);
      state.version = m.to;
    }
  }
}

describe('pass issuer', () => {
  let db: Db;
  let app: FastifyInstance;
  let passes: Passes;
  const sent: Array<{ topic: string; msg: RevocationMessage }> = [];

  beforeAll(async () => {
    db = await openStore({});
    await db.query("INSERT INTO gateways (id, name, compound) VALUES ('gw-a', 'A', 'c1'), ('gw-b', 'B', 'c1'), ('gw-z', 'Z', 'c9')");
    passes = new Passes({
      db,
      logger: pino({ level: 'silent' }),
      now: () => NOW,
      publish: async (topic, payload) => {
        sent.push({ topic, msg: JSON.parse(payload) as RevocationMessage });
      },
    });
    await passes.start();
    app = Fastify();
    await app.register(passesPlugin, { prefix: '/passes', store: passes.store, publisher: passes.publisher, now: () => NOW, actorOf: () => 'op-1' });
    await app.ready();
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await passes?.stop();
    await db?.close();
  });

  const issue = (body: Record<string, unknown>) => app.inject({ method: 'POST', url: '/passes', payload: body });

  it('issues a signed pass per type with the policy windows; a wallet code from it verifies', async () => {
    const h = holderKeys();
    const r = await issue({ type: 'visitor', compound: 'c1', holderKey: h.pub, hours: 6, singleUse: true, gates: [0, 2] });
    expect(r.statusCode).toBe(201);
    const v = r.json();
    expect(v).toMatchObject({ type: 'visitor', compound: 'c1', validFrom: nowS, validUntil: nowS + 6 * 3600, singleUse: true });
    const bytes = base64urlDecode(v.pass) as Uint8Array;
    const p = decodePass(bytes)?.pass;
    expect(p).toMatchObject({ passId: v.passId, holder: v.holder, gates: 0b101, type: 'visitor', singleUse: true, kid: v.kid });
    const keys = (await app.inject({ method: 'GET', url: '/passes/keys' })).json() as Array<{ kid: number; publicKey: string }>;
    const issuerKey = base64urlDecode(keys.find((k) => k.kid === v.kid)?.publicKey as string) as Uint8Array;
    expect(nodeCrypto.verify(issuerKey, p?.signed as Uint8Array, p?.issuerSig as Uint8Array)).toBe(true);
    const code = parseCode(makeCode(bytes, h.priv, NOW, nodeCrypto));
    expect(code && nodeCrypto.verify(code.pass.holderKey, code.signed, code.holderSig)).toBe(true);

    const res = (await issue({ type: 'resident', compound: 'c1', holderKey: h.pub, holder: v.holder })).json();
    expect(res.holder).toBe(v.holder);
    expect(res.validUntil - res.validFrom).toBe(365 * 86_400);
    expect((await issue({ type: 'delivery', compound: 'c1', holderKey: h.pub })).json().singleUse).toBe(true);
    expect((await issue({ type: 'worker', compound: 'c1', holderKey: h.pub })).statusCode).toBe(201);

    // Refusals: a visitor window too long, a bad key, an unknown field.
    expect((await issue({ type: 'visitor', compound: 'c1', holderKey: h.pub, hours: 100 })).json().code).toBe('E_SCHEMA');
    expect((await issue({ type: 'visitor', compound: 'c1', holderKey: 'short' })).statusCode).toBe(400);
    const extra = await issue({ type: 'visitor', compound: 'c1', holderKey: h.pub, name: 'Li Wei' });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().code).toBe('E_SCHEMA');
    const info = (await app.inject({ method: 'GET', url: `/passes/${v.passId}` })).json();
    expect(info).toMatchObject({ passId: v.passId, revoked: false, gates: [0, 2] });
    expect((await app.inject({ method: 'GET', url: '/passes/0000000000000000' })).statusCode).toBe(404);
  });

  it('rotates issuer keys: new passes use the new key, both verify until the old one is retired', async () => {
    const before = (await app.inject({ method: 'GET', url: '/passes/keys' })).json() as Array<{ kid: number }>;
    const k = (await app.inject({ method: 'POST', url: '/passes/keys/rotate' })).json();
    expect(before.map((x) => x.kid)).not.toContain(k.kid);
    const h = holderKeys();
    expect((await issue({ type: 'resident', compound: 'c1', holderKey: h.pub })).json().kid).toBe(k.kid);
    const all = (await app.inject({ method: 'GET', url: '/passes/keys' })).json() as Array<{ kid: number; retired: boolean }>;
    expect(all.filter((x) => !x.retired)).toHaveLength(before.length + 1);
    const old = before[0]?.kid as number;
    expect((await app.inject({ method: 'POST', url: `/passes/keys/${old}/retire` })).statusCode).toBe(204);
    expect((await app.inject({ method: 'POST', url: `/passes/keys/${k.kid}/retire` })).statusCode).toBe(403);
    const rows = await db.query<{ action: string }>("SELECT action FROM audit_log WHERE action LIKE 'pass_key.%'");
    expect(rows.map((r) => r.action)).toEqual(expect.arrayContaining(['pass_key.rotate', 'pass_key.retire']));
  });

  it('revokes: versioned increments go to every gateway of the compound; a reconnect gets the full list', async () => {
    const h = holderKeys();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await issue({ type: 'resident', compound: 'c1', holderKey: h.pub })).json().passId);
    const gwA = { version: 0, ids: new Set<string>() };
    sent.length = 0;
    for (const id of ids.slice(0, 2)) {
      const r = (await app.inject({ method: 'POST', url: `/passes/${id}/revoke` })).json();
      expect(r.changed).toBe(true);
    }
    expect((await app.inject({ method: 'POST', url: `/passes/${ids[0]}/revoke` })).json()).toMatchObject({ changed: false, version: 2 });
    expect(new Set(sent.map((s) => s.topic))).toEqual(new Set([downlinkTopic('gw-a', 'revocations'), downlinkTopic('gw-b', 'revocations')]));
    applyAll(gwA, sent.filter((s) => s.topic.includes('/gw-a/')).map((s) => s.msg));
    expect(gwA).toEqual({ version: 2, ids: new Set(ids.slice(0, 2)) });
    expect(sent[0]?.msg).toMatchObject({ from: 0, to: 1, full: false, add: [ids[0]] });

    // A gateway that was offline comes back: the full list.
    sent.length = 0;
    await passes.publisher.gatewayOnline('gw-b');
    expect(sent).toHaveLength(1);
    expect(sent[0]?.msg).toMatchObject({ full: true, from: 0, to: 2 });
    // The HTTP view of the same list, incremental from 1.
    const inc = (await app.inject({ method: 'GET', url: '/passes/revocations?compound=c1&from=1' })).json();
    expect(inc.messages).toEqual([{ v: 2, from: 1, to: 2, full: false, add: [ids[1]], remove: [] }]);
    expect((await app.inject({ method: 'POST', url: '/passes/ffffffffffffffff/revoke' })).statusCode).toBe(404);
  });

  it('sends a 20 000-id list in chunks that rebuild the whole set; purged expired passes leave it', async () => {
    await db.query(
      `INSERT INTO passes (id, holder, compound, type, valid_from, valid_until, kid, issued_by, revoked_version)
       SELECT lpad(to_hex(g), 16, '0'), 'aaaaaaaaaaaaaaaa', 'c9', 'visitor', to_timestamp($1), to_timestamp($2), 0, 'test', 1
       FROM generate_series(1, 20000) g`,
      [nowS - 10 * 86_400, nowS + (0 as number)],
    );
    await db.query("INSERT INTO pass_revocation_versions (compound, version) VALUES ('c9', 1)");
    await db.query(`UPDATE passes SET valid_until = to_timestamp($1) WHERE compound = 'c9' AND id <= '0000000000000010'`, [nowS - 3 * 86_400]);
    sent.length = 0;
    await passes.publisher.gatewayOnline('gw-z');
    expect(sent.length).toBe(3);
    for (const s of sent) expect(Buffer.byteLength(JSON.stringify(s.msg))).toBeLessThan(256 * 1024);
    const gwZ = { version: 0, ids: new Set<string>() };
    applyAll(gwZ, sent.map((s) => s.msg));
    expect(gwZ.version).toBe(1);
    expect(gwZ.ids.size).toBe(20_000);
    sent.length = 0;
    await passes.purge();
    applyAll(gwZ, sent.map((s) => s.msg));
    expect(gwZ.version).toBe(2);
    expect(gwZ.ids.size).toBe(20_000 - 16);
  });

  it('mounts in the API behind its roles, and sends full lists to gateways that came online', async () => {
    const logger = pino({ level: 'silent' });
    const reg = new Registry({ db, logger, scrypt: { N: 1024, r: 8, p: 1, keylen: 32 }, presenceFlushMs: 3_600_000 });
    await reg.start();
    await reg.users.put({ name: 'olga', role: 'operator', grids: ['*'], password: 'olga-password-1' }, 'seed');
    await reg.users.put({ name: 'chen', role: 'crew', grids: [], password: 'chen-password-1' }, 'seed');
    const api = buildApi({ logger, registry: reg, mqtt: { url: 'mqtts://x:8883', caPem: 'x' }, checks: {}, counters: {} });
    const published: string[] = [];
    await api.register(passesFeature, {
      prefix: '/api/passes',
      db,
      logger,
      now: () => NOW,
      publish: async (topic) => {
        published.push(topic);
      },
    });
    await api.ready();
    try {
      const token = async (name: string) =>
        (await api.inject({ method: 'POST', url: '/api/login', payload: { name, password: `${name}-password-1` } })).json().token as string;
      const body = { type: 'visitor', compound: 'c1', holderKey: holderKeys().pub };
      expect((await api.inject({ method: 'POST', url: '/api/passes', payload: body })).statusCode).toBe(401);
      const crew = await api.inject({ method: 'POST', url: '/api/passes', payload: body, headers: { authorization: `Bearer ${await token('chen')}` } });
      expect(crew.statusCode).toBe(403);
      const op = await api.inject({ method: 'POST', url: '/api/passes', payload: body, headers: { authorization: `Bearer ${await token('olga')}` } });
      expect(op.statusCode).toBe(201);
      const [row] = await db.query<{ actor: string }>("SELECT actor FROM audit_log WHERE action = 'pass.issue' ORDER BY id DESC LIMIT 1");
      expect(row?.actor).toBe('olga');
      const missing = await api.inject({ method: 'GET', url: '/api/passes/0123456789abcdef', headers: { authorization: `Bearer ${await token('olga')}` } });
      expect(missing.statusCode).toBe(404);
      expect(missing.json().code).toBe('E_NOT_FOUND');
    } finally {
      await api.close();
      await reg.stop();
    }
    // Presence: gw-a came online → it gets its full list once; nothing more until it reconnects.
    await db.query("INSERT INTO presence (gateway, last_seen, online, changed) VALUES ('gw-a', now(), true, now())");
    sent.length = 0;
    expect(await passes.publisher.pollPresence()).toBe(1);
    expect(sent.every((s) => s.topic === downlinkTopic('gw-a', 'revocations') && s.msg.full)).toBe(true);
    expect(await passes.publisher.pollPresence()).toBe(0);
  });
});
