import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig, type HutongRecord } from '@hutong/protocols';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UplinkSection } from '../src/config/schema.js';
import { OutboxSink } from '../src/records/outbox-sink.js';
import { SyncedStamper } from '../src/records/synced-stamper.js';
import { Uplink } from '../src/uplink/uplink.js';
import { TestOutbox } from './agent-fakes.js';
import { TestCloud } from './uplink-cloud.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
let dir: string;
let cloud: TestCloud;
let pki: { key: string; cert: string; ca: string };

/** A throwaway CA and a server certificate for 127.0.0.1, made with openssl. */
function makePki(d: string): void {
  const o = (...a: string[]) => execFileSync('openssl', a, { cwd: d, stdio: 'ignore' });
  o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=hutong-test-ca');
  o('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1');
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1,DNS:localhost" > ext.cnf'], { cwd: d });
  o('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '1', '-extfile', 'ext.cnf');
  o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '1', '-subj', '/CN=other-ca');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hutong-tls-'));
  makePki(dir);
  pki = {
    key: await readFile(join(dir, 'srv.key'), 'utf8'),
    cert: await readFile(join(dir, 'srv.pem'), 'utf8'),
    ca: await readFile(join(dir, 'ca.pem'), 'utf8'),
  };
  await writeFile(join(dir, 'gw.pw'), 'enrolled-secret\n');
  cloud = new TestCloud({ tls: pki, logins: { 'gw-tls': 'enrolled-secret' } });
  cloud.autoAck = true;
  await cloud.start();
});
afterAll(async () => {
  await cloud?.stop();
  await rm(dir, { recursive: true, force: true });
});

function config(extra: Record<string, unknown>) {
  const r = checkConfig(UplinkSection, { url: `mqtts://127.0.0.1:${cloud.port}`, reconnect: { minMs: 50, maxMs: 100 }, ...extra });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
}

async function run(extra: Record<string, unknown>, wait: (u: Uplink, o: TestOutbox) => Promise<void>): Promise<Uplink> {
  const outbox = new TestOutbox();
  const stamper = new SyncedStamper('b');
  const sink = new OutboxSink(outbox, stamper);
  const rec: HutongRecord = { k: 'park', d: 'p1', ts: stamper.stamp('p1'), lot: 'l', space: 's', occ: true };
  await sink.append([rec]);
  const u = new Uplink({ gatewayId: 'gw-tls', config: config(extra), outbox, stamper, logger });
  await u.start();
  try {
    await wait(u, outbox);
  } finally {
    await u.stop();
  }
  return u;
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
}

describe('uplink over TLS with per-gateway credentials', () => {
  it('delivers with the cloud CA file and the enrolment credentials file', async () => {
    await run({ caFile: join(dir, 'ca.pem'), credentialsFile: join(dir, 'gw.pw') }, async (_u, o) => {
      await until(() => o.releasedIds.length === 1);
    });
  });

  it('does not connect when the server certificate is not from the configured CA', async () => {
    const caPem = await readFile(join(dir, 'other.pem'), 'utf8');
    await run({ caPem, password: 'enrolled-secret' }, async (u) => {
      await until(() => (u.counters().errors ?? 0) >= 2);
      expect(u.isConnected).toBe(false);
    });
  });

  it('is refused with a wrong password and keeps retrying with backoff', async () => {
    const before = cloud.refusedLogins;
    await run({ caFile: join(dir, 'ca.pem'), password: 'wrong' }, async (u) => {
      await until(() => cloud.refusedLogins >= before + 2);
      expect(u.isConnected).toBe(false);
    });
  });
});
