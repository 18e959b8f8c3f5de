import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Registry } from '../registry/index.js';
import { RateLimiter } from './rate-limit.js';
import type { TelemetryReader } from './telemetry.js';

/**
 * The API's services, decorated once on the root instance so every route plugin reaches the same ones:
 * the registry (store), the telemetry reader (InfluxDB, absent when not configured), what a gateway needs to
 * connect after enrolment, the health checks and counters of the other parts, and the limiters.
 */
export type Check = () => Promise<'up' | 'down' | 'off'> | 'up' | 'down' | 'off';

export interface ApiServices {
  registry: Registry;
  telemetry?: TelemetryReader;
  /** The mqtts:// URL and CA certificate handed to a gateway at enrolment. */
  mqtt: { url: string; caPem: string };
  checks: Record<string, Check>;
  /** Waits until the broker applies credential changes (Mosquitto reloads its password file). */
  credentialsSynced?: () => Promise<void>;
  counters: Record<string, () => Record<string, number>>;
  /** Validity of new enrolment codes when the request does not say (minutes). */
  enrolLimiter: RateLimiter;
  loginLimiter: RateLimiter;
}

declare module 'fastify' {
  interface FastifyInstance {
    hutong: ApiServices;
  }
}

export interface ServicesOptions extends Omit<ApiServices, 'enrolLimiter' | 'loginLimiter'> {
  /** Attempts per client address per minute on /api/enrol and /api/login. */
  attemptsPerMinute?: number;
  now?: () => number;
}

export const servicesPlugin = fp(
  async (app: FastifyInstance, o: ServicesOptions) => {
    const per = o.attemptsPerMinute ?? 10;
    app.decorate('hutong', {
      registry: o.registry,
      telemetry: o.telemetry,
      mqtt: o.mqtt,
      checks: o.checks,
      credentialsSynced: o.credentialsSynced,
      counters: o.counters,
      enrolLimiter: new RateLimiter(per, 60_000, o.now),
      loginLimiter: new RateLimiter(per, 60_000, o.now),
    });
  },
  { name: 'hutong-services' },
);
