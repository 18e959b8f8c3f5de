import type { FastifyInstance } from 'fastify';

/**
 * `/metrics` in Prometheus text format (0.0.4): every part's counters (`hutong_cloud_<part>_<counter>`, e.g.
 * `hutong_cloud_ingest_stored_points`), part states (1 up, 0 down) and gateways online. No auth, no ids of
 * people: only part names, counter names and gateway ids, which operators already see.
 */
const metricName = (s: string) => s.replace(/[^a-zA-Z0-9_]/g, '_').replace(/^([0-9])/, '_$1');

export async function metricsRoutes(app: FastifyInstance): Promise<void> {
  app.get('/metrics', async (_req, reply) => {
    const out: string[] = [];
    for (const [part, counters] of Object.entries(app.hutong.counters)) {
      for (const [name, value] of Object.entries(counters())) {
        if (!Number.isFinite(value)) continue;
        const m = `hutong_cloud_${metricName(part)}_${metricName(name)}`;
        out.push(`# TYPE ${m} untyped`, `${m} ${value}`);
      }
    }
    out.push('# HELP hutong_cloud_part_up 1 when the part answers its check', '# TYPE hutong_cloud_part_up gauge');
    for (const [part, check] of Object.entries(app.hutong.checks)) {
      let s = 'down';
      try {
        s = await check();
      } catch {
        // down
      }
      out.push(`hutong_cloud_part_up{part="${metricName(part)}"} ${s === 'up' ? 1 : 0}`);
    }
    const gws = await app.hutong.registry.gateways.list();
    out.push('# HELP hutong_cloud_gateway_online 1 when the gateway is connected', '# TYPE hutong_cloud_gateway_online gauge');
    for (const g of gws) out.push(`hutong_cloud_gateway_online{gw="${g.id}"} ${app.hutong.registry.presence.get(g.id)?.online ? 1 : 0}`);
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return `${out.join('\n')}\n`;
  });
}
