import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../src/registry/index.js';
import { auditTail, type Db, migrate } from '../src/store/index.js';

const FAST_SCRYPT = { N: 1024, r: 8, p: 1, keylen: 32 };
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** The registry over any store engine: `open` gives a fresh, empty database (migrations are applied here). */
export function registrySuite(name: string, open: () => Promise<Db>, cleanup: () => Promise<void> = async () => {}): void {
  describe(`registry: ${name}`, () => {
    let db: Db;
    let reg: Registry;
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const now = () => clock;

    beforeAll(async () => {
      db = await open();
      await migrate(db);
      reg = new Registry({ db, logger, scrypt: FAST_SCRYPT, now, tokenTtlMs: 60_000, presenceFlushMs: 3_600_000 });
      await reg.start();
      await reg.createGateway({ id: 'gw-a', name: 'A', compound: 'c1', grid: 'g1' }, 'alice');
      await reg.createGateway({ id: 'gw-b', name: 'B', compound: 'c1', grid: 'g2' }, 'alice');
    }, 120_000);
    afterAll(async () => {
      await reg?.stop();
      await db?.close();
      await cleanup();
    });

    it('exchanges an enrolment code exactly once', async () => {
      const { code } = await reg.gateways.createEnrolmentCode('gw-a', 'alice', 3600_000);
      expect(code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/);
      const cred = await reg.gateways.enrol('gw-a', code.toLowerCase());
      expect(cred.username).toBe('gw-a');
      expect(cred.password.length).toBeGreaterThanOrEqual(40);
      await expect(reg.gateways.enrol('gw-a', code)).rejects.toMatchObject({ code: 'E_ENROLMENT_CODE' });
      expect(await reg.gateways.verify('gw-a', cred.password)).toEqual({ ok: true, gateway: 'gw-a' });
    });

    it('lets only one of two concurrent exchanges of the same code succeed', async () => {
      const { code } = await reg.gateways.createEnrolmentCode('gw-b', 'alice', 3600_000);
      const results = await Promise.allSettled([reg.gateways.enrol('gw-b', code), reg.gateways.enrol('gw-b', code)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const failed = results.find((r) => r.status === 'rejected');
      expect(failed?.status === 'rejected' && failed.reason.code).toBe('E_ENROLMENT_CODE');
    });

    it('refuses unknown, foreign and expired codes with one error', async () => {
      await expect(reg.gateways.enrol('gw-a', 'AAAA-BBBB-CCCC')).rejects.toMatchObject({ code: 'E_ENROLMENT_CODE' });
      const forB = await reg.gateways.createEnrolmentCode('gw-b', 'alice', 3600_000);
      await expect(reg.gateways.enrol('gw-a', forB.code)).rejects.toMatchObject({ code: 'E_ENROLMENT_CODE' });
      const short = await reg.gateways.createEnrolmentCode('gw-b', 'alice', 1000);
      clock += 1001;
      await expect(reg.gateways.enrol('gw-b', short.code)).rejects.toMatchObject({ code: 'E_ENROLMENT_CODE' });
      // the longer-lived code of gw-b still works: a refusal consumed nothing
      expect((await reg.gateways.enrol('gw-b', forB.code)).username).toBe('gw-b');
      await expect(reg.gateways.createEnrolmentCode('gw-zz', 'alice', 1000)).rejects.toMatchObject({ code: 'E_UNKNOWN_GATEWAY' });
    });

    it('tells a bad password from a revoked credential, even after a cached success', async () => {
      const cred = await reg.gateways.issueCredential('gw-a', 'alice');
      expect(await reg.gateways.verify('gw-a', cred.password)).toEqual({ ok: true, gateway: 'gw-a' });
      expect(await reg.gateways.verify('gw-a', `${cred.password}x`)).toEqual({ ok: false, code: 'E_AUTH' });
      expect(await reg.gateways.verify('gw-b', cred.password)).toEqual({ ok: false, code: 'E_AUTH' });
      expect(await reg.gateways.verify('nobody', cred.password)).toEqual({ ok: false, code: 'E_AUTH' });
      expect(await reg.gateways.revoke('gw-a', 'alice')).toBe(1);
      expect(await reg.gateways.verify('gw-a', cred.password)).toEqual({ ok: false, code: 'E_REVOKED_CREDENTIAL' });
    });

    it('re-enrolment replaces the previous credential and notifies listeners', async () => {
      let changes = 0;
      const off = reg.gateways.onCredentialsChanged(() => changes++);
      const first = await reg.gateways.issueCredential('gw-b', 'alice');
      const { code } = await reg.gateways.createEnrolmentCode('gw-b', 'alice', 3600_000);
      const second = await reg.gateways.enrol('gw-b', code);
      off();
      expect(changes).toBe(2);
      expect(await reg.gateways.verify('gw-b', first.password)).toEqual({ ok: false, code: 'E_REVOKED_CREDENTIAL' });
      expect(await reg.gateways.verify('gw-b', second.password)).toEqual({ ok: true, gateway: 'gw-b' });
      const lines = await reg.gateways.brokerPasswordLines();
      expect(lines.filter((l) => l.startsWith('gw-b:$7$'))).toHaveLength(1);
      expect(lines.some((l) => l.startsWith('gw-a:'))).toBe(false); // gw-a was revoked
    });

    it('keeps the device directory in step with bulk upserts', async () => {
      expect(reg.devices.kindOf('gw-a', 'gw-a')).toBe('gateway');
      expect(reg.devices.kindOf('gw-a', 'p-1')).toBeUndefined();
      await reg.devices.upsert(
        'gw-a',
        [
          { id: 'p-1', kind: 'parking', lot: 'L1', space: 'S1' },
          { id: 'sc-1', kind: 'scanner' },
        ],
        'ivan',
      );
      expect(reg.devices.kindOf('gw-a', 'p-1')).toBe('parking');
      expect(reg.devices.kindOf('gw-b', 'p-1')).toBeUndefined();
      await reg.devices.upsert('gw-a', [{ id: 'p-1', kind: 'camera', zone: 'z1' }], 'ivan');
      expect(reg.devices.kindOf('gw-a', 'p-1')).toBe('camera');
      const list = await reg.devices.list('gw-a');
      expect(list.map((d) => [d.id, d.kind, d.zone ?? d.lot])).toEqual([
        ['p-1', 'camera', 'z1'],
        ['sc-1', 'scanner', undefined],
      ]);
      await expect(reg.devices.upsert('gw-nope', [{ id: 'x', kind: 'camera' }], 'ivan')).rejects.toMatchObject({
        code: 'E_UNKNOWN_GATEWAY',
      });
      await expect(
        reg.devices.upsert('gw-a', [{ id: 'x', kind: 'camera' }, { id: 'x', kind: 'reader' }], 'ivan'),
      ).rejects.toMatchObject({ code: 'E_SCHEMA' });
      // a fresh directory loads the same state from the store
      const again = new Registry({ db, logger, scrypt: FAST_SCRYPT });
      await again.start();
      expect(again.devices.kindOf('gw-a', 'sc-1')).toBe('scanner');
      await again.stop();
    });

    it('persists presence and reloads it, telling listeners when a gateway turns online', async () => {
      const turned: string[] = [];
      const off = reg.presence.onOnline((gw) => turned.push(gw));
      reg.presence.status('gw-a', 'online', clock);
      reg.presence.seen('gw-a', clock + 1);
      reg.presence.status('gw-a', 'offline', clock + 2);
      reg.presence.seen('gw-a', clock + 3);
      off();
      expect(turned).toEqual(['gw-a', 'gw-a']);
      reg.presence.seen('gw-a', clock);
      reg.presence.status('gw-b', 'offline', clock);
      reg.presence.seen('gw-unregistered', clock);
      await reg.presence.flush();
      const again = new Registry({ db, logger, scrypt: FAST_SCRYPT });
      await again.start();
      expect(again.presence.get('gw-a')).toMatchObject({ lastSeen: clock + 3, online: true });
      expect(again.presence.get('gw-b')).toMatchObject({ online: false });
      expect(again.presence.get('gw-unregistered')).toBeUndefined();
      await again.stop();
    });

    it('issues expiring tokens for users and refuses bad passwords', async () => {
      await reg.users.put({ name: 'olga', role: 'operator', grids: ['g1'], password: 'correct horse battery' }, 'seed');
      expect(await reg.users.put({ name: 'olga', role: 'crew', grids: [], password: 'another password' }, 'seed')).toBe(false);
      await expect(reg.users.login('olga', 'wrong password')).rejects.toMatchObject({ code: 'E_AUTH' });
      await expect(reg.users.login('ghost', 'correct horse battery')).rejects.toMatchObject({ code: 'E_AUTH' });
      const { token, user } = await reg.users.login('olga', 'correct horse battery');
      expect(user).toEqual({ name: 'olga', role: 'operator', grids: ['g1'] });
      expect(await reg.users.authenticate(token)).toEqual(user);
      clock += 60_001;
      expect(await reg.users.authenticate(token)).toBeUndefined();
    });

    it('audits every change with who, what and when', async () => {
      const log = await auditTail(db, 100);
      const actions = log.map((e) => `${e.actor} ${e.action} ${e.target}`);
      expect(actions).toContain('alice gateway.create gateway:gw-a');
      expect(actions).toContain('alice enrolment.code gateway:gw-a');
      expect(actions).toContain('gateway:gw-a gateway.enrol gateway:gw-a');
      expect(actions).toContain('alice credential.revoke gateway:gw-a');
      expect(actions).toContain('ivan devices.upsert gateway:gw-a');
      expect(actions).toContain('seed user.create user:olga');
      expect(log[0]?.at).toBeInstanceOf(Date);
    });
  });
}
