import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/api/index.js';
import { Registry } from '../src/registry/index.js';
import { type Db, openStore } from '../src/store/index.js';

const FAST_SCRYPT = { N: 1024, r: 8, p: 1, keylen: 32 };
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

describe('HTTP API (inject)', () => {
  let db: Db;
  let reg: Registry;
  let app: FastifyInstance;
  let clock = Date.parse('2026-03-01T08:00:00Z');
  const tokens: Record<string, string> = {};

  const call = async (method: 'GET' | 'POST' | 'PUT', url: string, who?: string, payload?: unknown) => {
    const r = await app.inject({
      method,
      url,
      payload: payload as Record<string, unknown> | undefined,
      headers: who ? { authorization: `Bearer ${tokens[who]}` } : {},
    });
    return { status: r.statusCode, body: r.body ? r.json() : undefined };
  };

  beforeAll(async () => {
    db = await openStore({});
    reg = new Registry({ db, logger, scrypt: FAST_SCRYPT, now: () => clock, tokenTtlMs: 3600_000, presenceFlushMs: 3_600_000 });
    await reg.start();
    const users = [
      { name: 'root', role: 'operator', grids: ['*'] },
      { name: 'olga', role: 'operator', grids: ['g1'] },
      { name: 'ivan', role: 'installer', grids: [] },
      { name: 'chen', role: 'crew', grids: [] },
    ] as const;
    for (const u of users) await reg.users.put({ ...u, grids: [...u.grids], password: `${u.name}-password-1` }, 'seed');
    app = buildApi({
      logger,
      registry: reg,
      mqtt: { url: 'mqtts://localhost:8883', caPem: '-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n' },
      checks: { store: async () => 'up' as const, broker: () => 'up' as const, influx: () => 'off' as const },
      counters: { broker: () => ({ E_AUTH: 2 }) },
      attemptsPerMinute: 5,
      now: () => clock,
    });
    await app.ready();
    for (const u of users) {
      const r = await call('POST', '/api/login', undefined, { name: u.name, password: `${u.name}-password-1` });
      expect(r.status).toBe(200);
      tokens[u.name] = r.body.token;
    }
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await reg?.stop();
    await db?.close();
  });

  it('reports health of every part without auth', async () => {
    const r = await call('GET', '/health');
    expect(r.status).toBe(200);
    expect(r.body.checks).toEqual({ store: 'up', broker: 'up', influx: 'off' });
    expect(r.body.counters.broker).toEqual({ E_AUTH: 2 });
  });

  it('refuses missing, bad and wrong-role tokens with catalogue codes', async () => {
    expect((await call('GET', '/api/gateways')).body.code).toBe('E_AUTH');
    tokens.bogus = 'x'.repeat(43);
    expect(await call('GET', '/api/gateways', 'bogus')).toMatchObject({ status: 401, body: { code: 'E_AUTH' } });
    expect(await call('GET', '/api/gateways', 'chen')).toMatchObject({ status: 403, body: { code: 'E_FORBIDDEN' } });
    expect(await call('PUT', '/api/gateways/gw-1/devices', 'olga', { devices: [{ id: 'a', kind: 'camera' }] })).toMatchObject({
      status: 403,
    });
    expect((await call('POST', '/api/login', undefined, { name: 'olga', password: 'nope' })).status).toBe(401);
  });

  it('lets installers and operators create gateways; operators only in their grids', async () => {
    const a = await call('POST', '/api/gateways', 'ivan', { id: 'gw-1', name: 'North gate', compound: 'c1', grid: 'g1' });
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ id: 'gw-1', grid: 'g1', online: false, lastSeen: null });
    expect((await call('POST', '/api/gateways', 'root', { id: 'gw-2', name: 'South', compound: 'c1', grid: 'g2' })).status).toBe(201);
    expect(await call('POST', '/api/gateways', 'olga', { id: 'gw-3', name: 'X', compound: 'c1', grid: 'g2' })).toMatchObject({
      status: 403,
      body: { code: 'E_FORBIDDEN' },
    });
    expect(await call('POST', '/api/gateways', 'ivan', { id: 'bad id', name: 'X', compound: 'c1' })).toMatchObject({
      status: 400,
      body: { code: 'E_SCHEMA' },
    });
    expect(await call('POST', '/api/gateways', 'ivan', { id: 'gw-1', name: 'dup', compound: 'c1' })).toMatchObject({ status: 400 });
    reg.presence.seen('gw-1', clock);
    const olga = await call('GET', '/api/gateways', 'olga');
    expect(olga.body.gateways.map((g: { id: string }) => g.id)).toEqual(['gw-1']);
    expect(olga.body.gateways[0]).toMatchObject({ online: true, lastSeen: new Date(clock).toISOString() });
    const root = await call('GET', '/api/gateways', 'root');
    expect(root.body.gateways.map((g: { id: string }) => g.id)).toEqual(['gw-1', 'gw-2']);
    expect(await call('GET', '/api/gateways/gw-2/devices', 'olga')).toMatchObject({ status: 403 });
    expect(await call('GET', '/api/gateways/gw-9/devices', 'root')).toMatchObject({ status: 404, body: { code: 'E_NOT_FOUND' } });
  });

  it('enrols a gateway once with a code from an installer, and hands over the CA and broker URL', async () => {
    const c = await call('POST', '/api/gateways/gw-1/enrolment-codes', 'ivan', { ttlMinutes: 30 });
    expect(c.status).toBe(201);
    const ok = await call('POST', '/api/enrol', undefined, { gateway: 'gw-1', code: c.body.code });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ gateway: 'gw-1', username: 'gw-1', mqttUrl: 'mqtts://localhost:8883' });
    expect(ok.body.caPem).toContain('BEGIN CERTIFICATE');
    expect(await reg.gateways.verify('gw-1', ok.body.password)).toEqual({ ok: true, gateway: 'gw-1' });
    expect(await call('POST', '/api/enrol', undefined, { gateway: 'gw-1', code: c.body.code })).toMatchObject({
      status: 403,
      body: { code: 'E_ENROLMENT_CODE' },
    });
    const late = await call('POST', '/api/gateways/gw-1/enrolment-codes', 'olga', { ttlMinutes: 1 });
    clock += 61_000;
    expect((await call('POST', '/api/enrol', undefined, { gateway: 'gw-1', code: late.body.code })).body.code).toBe('E_ENROLMENT_CODE');
  });

  it('rate-limits enrolment attempts per address', async () => {
    clock += 120_000; // a fresh window
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) codes.push((await call('POST', '/api/enrol', undefined, { gateway: 'gw-2', code: `WRONG-${i}` })).status);
    expect(codes.slice(0, 5)).toEqual([403, 403, 403, 403, 403]);
    expect(codes.slice(5)).toEqual([429, 429]);
  });

  it('takes bulk device lists from installers and lists them', async () => {
    const put = await call('PUT', '/api/gateways/gw-1/devices', 'ivan', {
      devices: [
        { id: 'p-1', kind: 'parking', lot: 'L1', space: 'S1' },
        { id: 'p-2', kind: 'parking', lot: 'L1', space: 'S2' },
        { id: 'sc-1', kind: 'scanner' },
        { id: 'cam-9', kind: 'camera', zone: 'z1', grid: 'g2' },
      ],
    });
    expect(put).toEqual({ status: 200, body: { gateway: 'gw-1', written: 4 } });
    expect(reg.devices.kindOf('gw-1', 'p-2')).toBe('parking');
    const bad = await call('PUT', '/api/gateways/gw-1/devices', 'ivan', { devices: [{ id: 'x', kind: 'toaster' }] });
    expect(bad).toMatchObject({ status: 400, body: { code: 'E_SCHEMA' } });
    const list = await call('GET', '/api/gateways/gw-1/devices', 'olga');
    expect(list.body.devices.map((d: { id: string; lot?: string; lastSeen: null }) => [d.id, d.lot ?? null, d.lastSeen])).toEqual([
      ['p-1', 'L1', null],
      ['p-2', 'L1', null],
      ['sc-1', null, null],
    ]);
    // the camera sits in grid g2: hidden from an operator of g1, shown to one of every grid
    const root = await call('GET', '/api/gateways/gw-1/devices', 'root');
    expect(root.body.devices.map((d: { id: string }) => d.id)).toEqual(['cam-9', 'p-1', 'p-2', 'sc-1']);
  });

  it('answers 503 for telemetry when no InfluxDB reader is configured', async () => {
    expect((await call('GET', '/api/parking/lots', 'chen')).status).toBe(503);
  });

  it('lets an operator of every grid revoke credentials and manage users', async () => {
    expect(await call('POST', '/api/gateways/gw-1/revoke', 'root')).toEqual({ status: 200, body: { gateway: 'gw-1', revoked: 1 } });
    expect((await call('POST', '/api/users', 'olga', { name: 'newbie', role: 'crew', grids: [], password: 'newbie-password' })).status).toBe(403);
    expect((await call('POST', '/api/users', 'root', { name: 'newbie', role: 'crew', grids: [], password: 'newbie-password' })).status).toBe(201);
  });

  it('keeps an audit log of every change: who, what, when', async () => {
    const r = await call('GET', '/api/audit?limit=50', 'root');
    expect(r.status).toBe(200);
    const lines = r.body.entries.map((e: { actor: string; action: string; target: string }) => `${e.actor} ${e.action} ${e.target}`);
    expect(lines).toEqual(
      expect.arrayContaining([
        'ivan gateway.create gateway:gw-1',
        'root gateway.create gateway:gw-2',
        'ivan enrolment.code gateway:gw-1',
        'gateway:gw-1 gateway.enrol gateway:gw-1',
        'ivan devices.upsert gateway:gw-1',
        'root credential.revoke gateway:gw-1',
        'root user.put user:newbie',
      ]),
    );
    expect(Number.isNaN(Date.parse(r.body.entries[0].at))).toBe(false);
    expect((await call('GET', '/api/audit', 'ivan')).status).toBe(403);
  });

  it('expires tokens', async () => {
    expect((await call('GET', '/api/gateways', 'ivan')).status).toBe(200);
    clock += 3600_001;
    expect(await call('GET', '/api/gateways', 'ivan')).toMatchObject({ status: 401, body: { code: 'E_AUTH' } });
  });
});
