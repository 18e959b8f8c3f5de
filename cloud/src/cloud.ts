import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { HutongError } from '@hutong/protocols';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { buildApi, InfluxTelemetry } from './api/index.js';
import { AedesBroker, type CloudBroker, MosquittoBroker } from './broker/index.js';
import type { CloudConfig } from './config.js';
import { ensureDatabase, startInfluxd } from './influx/index.js';
import { Ingest } from './ingest/index.js';
import { passesFeature } from './passes/index.js';
import { Registry } from './registry/index.js';
import { type Db, openStore } from './store/index.js';
import { ensureCerts } from './tls/index.js';

export interface RunningCloud {
  apiUrl: string;
  mqttUrl: string;
  caPem: string;
  influxUrl: string;
  registry: Registry;
  broker: CloudBroker;
  ingest: Ingest;
  /** Publishes on a gateway's downlink with the API's service account (QoS 1). */
  publishDownlink(topic: string, payload: string): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Overrides for tests (fast scrypt, fixed clock). */
  scrypt?: { N: number; r: number; p: number; keylen: number };
  now?: () => number;
}

/**
 * Composition root: store → registry → certificates → InfluxDB (started here when no URL is configured) →
 * broker → ingest → downlink client → HTTP API. Stopped in reverse order; a failure half way stops what
 * was already started, so nothing is left behind either way.
 */
export async function startCloud(cfg: CloudConfig, logger: Logger, so: StartOptions = {}): Promise<RunningCloud> {
  const stack: Array<{ name: string; stop: () => Promise<void> }> = [];
  const stopAll = async () => {
    while (stack.length > 0) {
      const s = stack.pop();
      if (!s) break;
      try {
        await s.stop();
        logger.debug({ part: s.name }, 'stopped');
      } catch (err) {
        logger.error({ err, part: s.name }, 'stop failed');
      }
    }
  };
  // Refused before anything starts: aedes would accept the subscription and deliver nothing.
  if (cfg.mqtt.broker === 'aedes' && cfg.ingest.sharedGroup) {
    throw new HutongError(
      'E_CONFIG',
      '/ingest/sharedGroup: the embedded broker (aedes 1.2) delivers nothing to shared subscriptions; set mqtt.broker to "mosquitto" or remove sharedGroup',
    );
  }
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(p));
  const dataDir = abs(cfg.dataDir);
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });

    const db: Db = await openStore(cfg.db.url ? { url: cfg.db.url } : { dataDir: join(dataDir, 'db') });
    stack.push({ name: 'store', stop: () => db.close() });

    const registry = new Registry({ db, logger, scrypt: so.scrypt, now: so.now, tokenTtlMs: cfg.api.tokenTtlMinutes * 60_000 });
    await registry.start();
    stack.push({ name: 'registry', stop: () => registry.stop() });
    await seedUsers(registry, cfg, logger);

    const tls = await ensureCerts({ dataDir, logger, hosts: cfg.mqtt.tlsHosts });

    let influxUrl = cfg.influx.url;
    if (!influxUrl) {
      const influxd = await startInfluxd({ dataDir: abs(cfg.influx.dataDir), logger });
      stack.push({ name: 'influxd', stop: () => influxd.stop() });
      influxUrl = influxd.url;
    }
    await ensureDatabase(influxUrl, cfg.influx.db);

    const broker: CloudBroker =
      cfg.mqtt.broker === 'mosquitto'
        ? new MosquittoBroker({ tls, gateways: registry.gateways, logger, dir: join(dataDir, 'mosquitto'), host: cfg.mqtt.host, port: cfg.mqtt.port, maxPacket: cfg.mqtt.maxPacket })
        : new AedesBroker({ tls, gateways: registry.gateways, logger, host: cfg.mqtt.host, port: cfg.mqtt.port, servicePort: cfg.mqtt.servicePort, maxPacket: cfg.mqtt.maxPacket });
    await broker.start();
    stack.push({ name: 'broker', stop: () => broker.stop() });

    const ingestCred = broker.service('ingest');
    const ingest = new Ingest({
      mqttUrl: broker.serviceUrl,
      username: ingestCred.username,
      password: ingestCred.password,
      ca: tls.caPem,
      sharedGroup: cfg.ingest.sharedGroup ?? (broker.sharedSubscriptions ? 'ingest' : undefined),
      clientId: cfg.ingest.clientId,
      influxUrl,
      db: cfg.influx.db,
      directory: registry.devices,
      presence: registry.presence,
      imagesDir: abs(cfg.ingest.imagesDir),
      logger,
      flushPoints: cfg.ingest.flushPoints,
      flushMs: cfg.ingest.flushMs,
      writesInFlight: cfg.ingest.writesInFlight,
    });
    await ingest.start();
    let ingestRunning = true;
    stack.push({
      name: 'ingest',
      stop: async () => {
        ingestRunning = false;
        await ingest.stop();
      },
    });

    const apiCred = broker.service('api');
    const downlink: MqttClient = await mqtt.connectAsync(broker.serviceUrl, {
      ...apiCred,
      ca: tls.caPem,
      clientId: '_hutong-api-downlink',
      protocolVersion: 4,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
    });
    downlink.on('error', (err) => logger.warn({ err: err.message }, 'downlink client error'));
    stack.push({ name: 'downlink', stop: async () => void (await downlink.endAsync(false).catch(() => {})) });
    const publishDownlink = async (topic: string, payload: string) => {
      await downlink.publishAsync(topic, payload, { qos: 1 });
    };

    const telemetry = new InfluxTelemetry({ url: influxUrl, db: cfg.influx.db });
    const app = buildApi({
      logger,
      registry,
      telemetry,
      mqtt: { url: cfg.mqtt.publicUrl ?? broker.url, caPem: tls.caPem },
      checks: {
        store: async () => ((await db.query('SELECT 1 AS ok')).length === 1 ? 'up' : 'down'),
        broker: () => broker.state(),
        influx: async () => ((await telemetry.ping()) ? 'up' : 'down'),
        ingest: () => (ingestRunning ? 'up' : 'down'),
        downlink: () => (downlink.connected ? 'up' : 'down'),
      },
      counters: { broker: () => broker.counters(), ingest: () => ingest.counters() },
      credentialsSynced: broker.whenSynced ? () => broker.whenSynced?.() ?? Promise.resolve() : undefined,
      attemptsPerMinute: cfg.api.attemptsPerMinute,
      trustProxy: cfg.api.trustProxy,
      now: so.now,
    });
    // More route plugins (passes, tasks) register here, one line each, before listen.
    await app.register(passesFeature, { prefix: '/api/passes', db, publish: publishDownlink, logger, now: so.now });
    await app.listen({ host: cfg.api.host, port: cfg.api.port });
    stack.push({ name: 'api', stop: () => app.close() });
    const addr = app.server.address() as AddressInfo;
    const apiUrl = `http://${cfg.api.host.includes(':') ? `[${cfg.api.host}]` : cfg.api.host}:${addr.port}`;
    logger.info({ apiUrl, mqttUrl: broker.url, influxUrl, broker: broker.kind, store: db.engine }, 'cloud started');

    let stopping: Promise<void> | undefined;
    return {
      apiUrl,
      mqttUrl: broker.url,
      caPem: tls.caPem,
      influxUrl,
      registry,
      broker,
      ingest,
      publishDownlink,
      stop: () => {
        stopping ??= stopAll().then(() => logger.info('cloud stopped'));
        return stopping;
      },
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** Creates configured users that do not exist yet; their passwords come from the environment, never the file. */
async function seedUsers(registry: Registry, cfg: CloudConfig, logger: Logger): Promise<void> {
  for (const u of cfg.users) {
    const password = process.env[u.passwordEnv];
    if (await registry.users.get(u.name)) continue;
    if (!password) {
      throw new HutongError('E_CONFIG', `/users: environment variable ${u.passwordEnv} (password of ${u.name}) is not set`);
    }
    await registry.users.put({ name: u.name, role: u.role, grids: u.grids, password }, 'config');
    logger.info({ user: u.name, role: u.role }, 'user created from config');
  }
}
