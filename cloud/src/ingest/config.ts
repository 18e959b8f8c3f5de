import { type Static, Type } from '@sinclair/typebox';

/**
 * Config sections of the telemetry path, checked with `checkConfig` from @hutong/protocols (defaults applied,
 * unknown keys refused, every error at once).
 */
export const InfluxConfig = Type.Object(
  {
    url: Type.Optional(
      Type.String({ pattern: '^https?://', description: 'InfluxDB 1.x URL; when absent the cloud starts its own influxd (Debian package "influxdb")' }),
    ),
    dataDir: Type.String({ default: 'var/influxdb', description: 'data dir of the influxd the cloud starts itself' }),
    db: Type.String({ default: 'hutong', pattern: '^[A-Za-z0-9_]{1,64}$', description: 'database; retention policies telemetry (90d) and events (400d)' }),
  },
  { additionalProperties: false, default: {} },
);
export type InfluxConfig = Static<typeof InfluxConfig>;

export const IngestConfig = Type.Object(
  {
    flushPoints: Type.Integer({ minimum: 1, maximum: 100_000, default: 5000, description: 'write when this many points wait' }),
    flushMs: Type.Integer({ minimum: 1, maximum: 10_000, default: 50, description: 'write at the latest this long after the first waiting batch' }),
    writesInFlight: Type.Integer({ minimum: 1, maximum: 8, default: 2, description: 'InfluxDB write requests at a time' }),
    clientId: Type.String({ default: 'hutong-ingest-1', pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'fixed per worker: the broker queues for it across restarts' }),
    sharedGroup: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'subscribe as $share/<group>/… (Mosquitto, EMQX; refused on aedes)' }),
    ),
    imagesDir: Type.String({ default: 'var/images', description: 'content-addressed store of snapshot crops' }),
  },
  { additionalProperties: false, default: {} },
);
export type IngestConfig = Static<typeof IngestConfig>;
