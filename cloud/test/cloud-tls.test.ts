import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureCerts } from '../src/tls/index.js';

const logger = pino({ level: 'silent' });

describe('cloud TLS material', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hutong-tls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a CA and a server certificate for localhost and 127.0.0.1 (plus extra hosts), keys private', async () => {
    const t = await ensureCerts({ dataDir: dir, logger, hosts: ['mqtt.example.test', '10.1.2.3'] });
    const ca = new X509Certificate(t.caPem);
    const server = new X509Certificate(t.certPem);
    expect(ca.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('mqtt.example.test')).toBe('mqtt.example.test');
    expect(server.checkIP('10.1.2.3')).toBe('10.1.2.3');
    expect(statSync(t.keyPath).mode & 0o077).toBe(0);
  });

  it('reuses the same certificates on a later start', async () => {
    const a = await ensureCerts({ dataDir: dir, logger });
    const b = await ensureCerts({ dataDir: dir, logger });
    expect(b.caPem).toBe(a.caPem);
    expect(b.certPem).toBe(a.certPem);
  });

  it('names the Debian package when openssl is missing', async () => {
    const other = mkdtempSync(join(tmpdir(), 'hutong-tls-'));
    try {
      await expect(ensureCerts({ dataDir: other, logger, openssl: 'openssl-not-installed' })).rejects.toMatchObject({
        code: 'E_BINARY_MISSING',
        message: expect.stringContaining("Debian package 'openssl'"),
      });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
