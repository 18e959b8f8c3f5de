import { type ErrorCode, isHutongError } from '@hutong/protocols';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { authPlugin } from './auth.js';
import { auditRoutes } from './routes/audit.js';
import { enrolRoutes } from './routes/enrol.js';
import { gatewayRoutes } from './routes/gateways.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { sessionRoutes } from './routes/session.js';
import { telemetryRoutes } from './routes/telemetry.js';
import { servicesPlugin, type ServicesOptions } from './services.js';

/** HTTP status of each catalogue code an API call can fail with. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  E_AUTH: 401,
  E_FORBIDDEN: 403,
  E_ENROLMENT_CODE: 403,
  E_RATE_LIMITED: 429,
  E_NOT_FOUND: 404,
  E_UNKNOWN_GATEWAY: 404,
  E_SCHEMA: 400,
};

export interface ApiOptions extends ServicesOptions {
  logger: Logger;
  /** Largest request body (bytes): a bulk device list of a big compound fits. */
  bodyLimit?: number;
  /** Honour X-Forwarded-For (only behind a proxy you run): rate limits then key on the real client. */
  trustProxy?: boolean;
}

/**
 * The HTTP API as a tree of plugins: services (decorated with their dependencies), authentication, then the
 * route plugins. Returned unstarted so the composition can register more route plugins (one line each) before
 * `listen`. Every error leaves as `{code, message}` with a catalogue code and is counted per code.
 */
export function buildApi(o: ApiOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: o.logger.child({ component: 'api' }) as FastifyBaseLogger,
    bodyLimit: o.bodyLimit ?? 2 * 1024 * 1024,
    trustProxy: o.trustProxy ?? false,
  }) as unknown as FastifyInstance;
  const refusals = new Map<string, number>();
  const counters = { ...o.counters, api: () => Object.fromEntries(refusals) };

  app.setErrorHandler((e: unknown, req, reply) => {
    const err = (e instanceof Error ? e : new Error(String(e))) as Error & { statusCode?: number; validation?: unknown };
    let code: string;
    let status: number;
    let message: string;
    if (isHutongError(err)) {
      code = err.code;
      status = STATUS[err.code] ?? 400;
      message = err.message;
    } else if (err.validation) {
      code = 'E_SCHEMA';
      status = 400;
      message = `E_SCHEMA: ${err.message}`;
    } else if (err.statusCode !== undefined && err.statusCode < 500) {
      status = err.statusCode;
      code = status === 413 ? 'E_OVERSIZED' : 'E_MALFORMED';
      message = `${code}: ${err.message}`;
    } else {
      status = err.statusCode === 503 ? 503 : 500;
      code = 'E_INTERNAL';
      message = status === 503 ? err.message : 'internal error';
      req.log.error({ err }, 'request failed');
    }
    refusals.set(code, (refusals.get(code) ?? 0) + 1);
    if (status < 500) req.log.info({ code, status }, message);
    return reply.code(status).send({ code, message });
  });

  app.register(servicesPlugin, { ...o, counters });
  app.register(authPlugin, { users: o.registry.users });
  app.register(healthRoutes);
  app.register(metricsRoutes);
  app.register(sessionRoutes);
  app.register(enrolRoutes);
  app.register(gatewayRoutes);
  app.register(telemetryRoutes);
  app.register(auditRoutes);
  return app;
}

