import type { FastifyInstance } from 'fastify';
import { HealthReply } from '../schemas.js';

/** Liveness of every part, for a load balancer or a person: no auth, no secrets, only states and counters. */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/health', { schema: { response: { 200: HealthReply, 503: HealthReply } } }, async (_req, reply) => {
    const checks: Record<string, 'up' | 'down' | 'off'> = {};
    for (const [name, check] of Object.entries(app.hutong.checks)) {
      try {
        checks[name] = await check();
      } catch {
        checks[name] = 'down';
      }
    }
    const counters: Record<string, Record<string, number>> = {};
    for (const [name, c] of Object.entries(app.hutong.counters)) counters[name] = c();
    const ok = Object.values(checks).every((s) => s !== 'down');
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', checks, counters });
  });
}
