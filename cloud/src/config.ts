import { ID_PATTERN, Limits } from '@hutong/protocols';
import { type Static, Type } from '@sinclair/typebox';
import { IngestConfig, InfluxConfig } from './ingest/index.js';

/**
 * The cloud's config file (JSON), one TypeBox section per part, every key with a default, unknown keys refused.
 * Checked with `checkConfig` from @hutong/protocols, which lists every error with its path at once.
 */
export const StoreConfig = Type.Object(
  {
    url: Type.Optional(
      Type.String({ pattern: '^postgres(ql)?://', description: 'PostgreSQL URL; when absent the embedded store (PGlite) keeps its data in <dataDir>/db' }),
    ),
    poolSize: Type.Integer({ minimum: 1, maximum: 100, default: 5, description: 'PostgreSQL connections' }),
  },
  { additionalProperties: false, default: {} },
);

export const MqttConfig = Type.Object(
  {
    broker: Type.Union([Type.Literal('aedes'), Type.Literal('mosquitto')], {
      default: 'aedes',
      description: 'aedes: embedded in the cloud process; mosquitto: Mosquitto 2 started by the cloud (Debian package "mosquitto"), needed for shared ingest subscriptions',
    }),
    host: Type.String({ default: '127.0.0.1', minLength: 1, description: 'address of the TLS listener gateways connect to' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8883, description: 'TLS port (0 = any free port)' }),
    servicePort: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 0,
      description: 'aedes only: plain-TCP loopback listener for the cloud\'s own clients (0 = any free port)',
    }),
    tlsHosts: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
      default: [],
      maxItems: 32,
      description: 'extra DNS names / IPs for the server certificate (besides localhost, 127.0.0.1); used when the certificate is first made',
    }),
    publicUrl: Type.Optional(
      Type.String({
        pattern: '^mqtts://[^/]+:[0-9]+$',
        description: 'broker URL handed to gateways at enrolment when they reach the cloud by another name (its host must be in tlsHosts); default: the listener\'s own URL',
      }),
    ),
    maxPacket: Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024, default: Limits.maxPacket, description: 'largest MQTT payload (bytes)' }),
  },
  { additionalProperties: false, default: {} },
);

export const ApiConfig = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', minLength: 1 }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: '0 = any free port' }),
    tokenTtlMinutes: Type.Integer({ minimum: 1, maximum: 30 * 24 * 60, default: 480, description: 'bearer token lifetime' }),
    attemptsPerMinute: Type.Integer({ minimum: 1, maximum: 10_000, default: 10, description: 'login and enrolment attempts per client address' }),
    trustProxy: Type.Boolean({ default: false, description: 'trust X-Forwarded-For (only behind your own reverse proxy)' }),
  },
  { additionalProperties: false, default: {} },
);

export const SeedUser = Type.Object(
  {
    name: Type.String({ pattern: ID_PATTERN }),
    role: Type.Union([Type.Literal('operator'), Type.Literal('crew'), Type.Literal('installer')]),
    grids: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { default: [], description: "operator's grids; ['*'] = every grid" }),
    passwordEnv: Type.String({
      pattern: '^[A-Z_][A-Z0-9_]*$',
      description: 'environment variable holding the initial password (kept out of the file); the user is created once, never overwritten',
    }),
  },
  { additionalProperties: false },
);

export const CloudConfig = Type.Object(
  {
    dataDir: Type.String({ default: 'var/cloud', minLength: 1, description: 'store, certificates, broker files' }),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
    db: StoreConfig,
    mqtt: MqttConfig,
    influx: InfluxConfig,
    ingest: IngestConfig,
    api: ApiConfig,
    users: Type.Array(SeedUser, { default: [], maxItems: 1000, description: 'users created at first start' }),
  },
  { additionalProperties: false, default: {} },
);
export type CloudConfig = Static<typeof CloudConfig>;
