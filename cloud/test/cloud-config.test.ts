import { checkConfig, formatConfigIssues } from '@hutong/protocols';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startCloud } from '../src/cloud.js';
import { CloudConfig } from '../src/config.js';

describe('cloud config', () => {
  it('has a default for every key', () => {
    const r = checkConfig(CloudConfig, {});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.mqtt).toMatchObject({ broker: 'aedes', port: 8883, maxPacket: 256 * 1024 });
    expect(r.value.api).toMatchObject({ host: '127.0.0.1', port: 8080, tokenTtlMinutes: 480, attemptsPerMinute: 10 });
    expect(r.value.db.url).toBeUndefined();
    expect(r.value.influx.url).toBeUndefined();
    expect(r.value.users).toEqual([]);
  });

  it('lists every error with its path, typos included', () => {
    const r = checkConfig(CloudConfig, {
      mqtt: { broker: 'emqx', port: 70000 },
      api: { prot: 8080 },
      db: { url: 'mysql://x' },
      users: [{ name: 'bad name', role: 'boss', passwordEnv: 'pw' }],
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const paths = new Set(r.issues.map((i) => i.path));
    for (const p of ['/mqtt/broker', '/mqtt/port', '/api/prot', '/db/url', '/users/0/name', '/users/0/role', '/users/0/passwordEnv']) {
      expect(paths.has(p), p).toBe(true);
    }
    expect(formatConfigIssues('cloud.json', r.issues)).toMatch(/^E_CONFIG: cloud.json has \d+ error\(s\):/);
  });

  it('refuses shared ingest subscriptions on aedes before starting anything', async () => {
    const r = checkConfig(CloudConfig, { dataDir: '/nonexistent/never-created', ingest: { sharedGroup: 'ingest' } });
    if (!r.ok) throw new Error('config should be valid');
    await expect(startCloud(r.value, pino({ level: 'silent' }))).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: expect.stringContaining('mosquitto'),
    });
  });
});
