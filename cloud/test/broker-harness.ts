import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { Registry } from '../src/registry/index.js';
import { type Db, openStore } from '../src/store/index.js';
import { type CloudTls, ensureCerts } from '../src/tls/index.js';

/** Shared set-up of the broker suites: a temp data dir with real certificates, a registry, a log capture. */
export const FAST_SCRYPT = { N: 1024, r: 8, p: 1, keylen: 32 };

export interface Harness {
  dir: string;
  db: Db;
  registry: Registry;
  tls: CloudTls;
  logs: Array<Record<string, unknown>>;
  logger: pino.Logger;
  close(): Promise<void>;
}

export async function harness(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'hutong-broker-'));
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const db = await openStore({});
  const registry = new Registry({ db, logger, scrypt: FAST_SCRYPT, presenceFlushMs: 3_600_000 });
  await registry.start();
  const tls = await ensureCerts({ dataDir: dir, logger });
  return {
    dir,
    db,
    registry,
    tls,
    logs,
    logger,
    async close() {
      await registry.stop();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function connect(url: string, opts: IClientOptions): Promise<MqttClient> {
  return mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, ...opts });
}

/** Resolves with the return code / error of a refused connect. */
export async function refusedConnect(url: string, opts: IClientOptions): Promise<Error & { code?: number }> {
  try {
    const c = await connect(url, opts);
    await c.endAsync(true);
  } catch (e) {
    return e as Error & { code?: number };
  }
  throw new Error('connect was accepted');
}

export const closed = (c: MqttClient): Promise<void> =>
  new Promise((resolve) => {
    if (!c.connected) return resolve();
    c.once('close', () => resolve());
  });

/** Collects messages on a client, resolving `until(n)` once n have arrived. */
export function collect(c: MqttClient): { msgs: Array<{ topic: string; payload: string }>; until(n: number): Promise<void> } {
  const msgs: Array<{ topic: string; payload: string }> = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  c.on('message', (topic, payload) => {
    msgs.push({ topic, payload: payload.toString() });
    for (const w of [...waiters]) if (msgs.length >= w.n) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  return {
    msgs,
    until: (n) => (msgs.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
  };
}

/** The granted QoS of one subscription, 128 when refused (mqtt.js rejects the promise then). */
export async function granted(c: MqttClient, filter: string, qos: 0 | 1 = 1): Promise<number> {
  try {
    const g = await c.subscribeAsync(filter, { qos });
    return g[0]?.qos ?? -1;
  } catch (e) {
    const p = (e as { packet?: { granted?: number[] } }).packet;
    if (p?.granted) return p.granted[0] ?? -1;
    throw e;
  }
}

/** Connects and reports whether the server answered CONNACK ('connected', or the refusal) or just closed. */
export async function connectOutcome(url: string, opts: IClientOptions): Promise<'connected' | 'refused' | 'closed'> {
  const c = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, ...opts });
  const r = await new Promise<'connected' | 'refused' | 'closed'>((resolve) => {
    c.once('connect', () => resolve('connected'));
    c.once('error', () => resolve('refused'));
    c.once('close', () => resolve('closed'));
  });
  await c.endAsync(true);
  return r;
}

const str = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
};

/**
 * A CONNECT that mqtt.js refuses to build (a password without a username, [MQTT-3.1.2-22]), sent raw over TLS.
 * Resolves with whatever the server wrote before closing (empty: closed without CONNACK).
 */
export async function rawPasswordWithoutUsername(port: number, ca: string): Promise<Buffer> {
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0x42, 0, 60]), str('nouser'), str('lonely')]);
  const pkt = Buffer.concat([Buffer.from([0x10, body.length]), body]);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => s.write(pkt));
    s.on('data', (d) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks)));
  });
}
