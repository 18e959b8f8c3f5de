import { Id } from '@hutong/protocols';
import { type Static, Type } from '@sinclair/typebox';

/**
 * The gateway's own config sections (gateway, uplink, site broker, devices, health, http). The sections owned by
 * the outbox, the domain services and the camera pipeline are composed in `edge-config.ts`. Every object sets
 * `additionalProperties: false` so a typo is reported instead of silently ignored.
 */
const strict = { additionalProperties: false } as const;
const Port = (description: string, dflt?: number) =>
  Type.Integer({ minimum: 1, maximum: 65535, description, ...(dflt === undefined ? {} : { default: dflt }) });

export const GatewaySection = Type.Object(
  {
    id: Type.String({ pattern: Id.pattern, description: 'gateway id; also the MQTT client id and username prefix' }),
    dataDir: Type.String({ minLength: 1, description: 'directory for the outbox and other state' }),
    compound: Type.String({ pattern: Id.pattern, description: 'compound this gateway serves (pass scope)' }),
  },
  strict,
);

export const BackoffSection = Type.Object(
  {
    minMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 500, description: 'first reconnect delay' }),
    maxMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000, description: 'largest reconnect delay' }),
  },
  strict,
);

export const UplinkSection = Type.Object(
  {
    url: Type.String({ pattern: '^mqtts?://[^\\s]+$', description: 'cloud broker, mqtts://host:port (mqtt:// only for tests)' }),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'defaults to the gateway id' })),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    credentialsFile: Type.Optional(
      Type.String({ minLength: 1, description: 'file holding the password issued at enrolment (instead of password)' }),
    ),
    caFile: Type.Optional(Type.String({ minLength: 1, description: "PEM file of the cloud's CA" })),
    caPem: Type.Optional(Type.String({ minLength: 1, description: "the cloud's CA inline (PEM)" })),
    batchRecords: Type.Integer({ minimum: 1, maximum: 500, default: 500, description: 'records per batch' }),
    batchBytes: Type.Integer({ minimum: 1024, maximum: 65_536, default: 65_536, description: 'bytes per batch message' }),
    window: Type.Integer({ minimum: 1, maximum: 64, default: 4, description: 'batches in flight awaiting their ack' }),
    ackTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000, description: 'requeue a batch not acked by then' }),
    keepaliveS: Type.Integer({ minimum: 5, maximum: 3600, default: 30 }),
    timeSyncIntervalS: Type.Integer({ minimum: 1, maximum: 86_400, default: 600, description: 'how often to measure the clock offset' }),
    holdUntilClockSync: Type.Boolean({
      default: true,
      description: 'send no records before the clock offset to the cloud is known (records stamped earlier are restamped)',
    }),
    reconnect: Type.Object(BackoffSection.properties, { ...strict, default: {} }),
  },
  strict,
);

export const DeviceCredential = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 128 }), password: Type.String({ minLength: 1, maxLength: 256 }) },
  strict,
);

export const SiteBrokerSection = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    host: Type.String({ default: '0.0.0.0', description: 'listen address for on-site devices' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 1883, description: 'MQTT port for on-site devices (0 = any free port)' }),
    maxPacket: Type.Integer({ minimum: 1024, maximum: 1_048_576, default: 16_384, description: 'largest accepted packet (bytes)' }),
    credentials: Type.Optional(
      Type.Array(DeviceCredential, { maxItems: 10_000, description: 'if set, devices must log in with one of these' }),
    ),
  },
  strict,
);

export const DeviceTransport = Type.Union([
  Type.Literal('mqtt'),
  Type.Object({ tcp: Type.Object({ port: Port('TCP port of this device (one device per port)') }, strict) }, strict),
  Type.Object(
    {
      serial: Type.Object(
        {
          path: Type.String({ minLength: 1, description: 'e.g. /dev/ttyUSB0' }),
          baud: Type.Integer({ minimum: 300, maximum: 4_000_000, default: 9600 }),
        },
        strict,
      ),
    },
    strict,
  ),
]);
export type DeviceTransport = Static<typeof DeviceTransport>;

export const DeviceEntry = Type.Object(
  {
    id: Type.String({ pattern: Id.pattern }),
    kind: Type.Union([Type.Literal('scanner'), Type.Literal('parking'), Type.Literal('reader'), Type.Literal('camera')]),
    transport: DeviceTransport,
    lot: Type.Optional(Type.String({ pattern: Id.pattern, description: 'parking: lot of the space' })),
    space: Type.Optional(Type.String({ pattern: Id.pattern, description: 'parking: space id' })),
    gate: Type.Optional(Type.String({ pattern: Id.pattern, description: 'reader: gate it opens' })),
    dir: Type.Optional(Type.Union([Type.Literal('in'), Type.Literal('out')], { description: 'reader: default direction' })),
    grid: Type.Optional(Type.String({ pattern: Id.pattern, description: 'unit grid the device stands in' })),
  },
  strict,
);
export type DeviceEntry = Static<typeof DeviceEntry>;

const timeout = (d: number) => Type.Integer({ minimum: 5, maximum: 7 * 86_400, default: d });
export const HealthSection = Type.Object(
  {
    timeoutsS: Type.Object(
      { scanner: timeout(86_400), parking: timeout(180), reader: timeout(3600), camera: timeout(60) },
      { ...strict, default: {}, description: 'silence after which a device is reported device_silent' },
    ),
    checkIntervalS: Type.Integer({ minimum: 1, maximum: 3600, default: 10 }),
    statsIntervalS: Type.Integer({ minimum: 1, maximum: 86_400, default: 60, description: 'gwstats record period' }),
  },
  strict,
);

export const HttpSection = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    host: Type.String({ default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 9180, description: '/metrics and /health (0 = any free port)' }),
  },
  strict,
);

export type GatewaySection = Static<typeof GatewaySection>;
export type UplinkSection = Static<typeof UplinkSection>;
export type SiteBrokerSection = Static<typeof SiteBrokerSection>;
export type HealthSection = Static<typeof HealthSection>;
export type HttpSection = Static<typeof HttpSection>;
