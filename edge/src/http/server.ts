import Fastify, { type FastifyInstance, type FastifyPluginAsync, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { HttpSection } from '../config/schema.js';
import type { DeviceState } from '../health/devices.js';
import { renderMetrics } from '../health/metrics.js';
import type { ProcessSampler, StatsSources } from '../health/stats.js';

export interface GatewayHttpOptions {
  gatewayId: string;
  config: HttpSection;
  sources: StatsSources;
  sampler: ProcessSampler;
  devices: () => DeviceState[];
  logger: Logger;
  /** More route plugins (parking boards, camera live view), registered before listen. */
  routes?: FastifyPluginAsync[];
}

const HealthReply = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded'] },
    gateway: { type: 'string' },
    uplink: { type: 'boolean' },
    clockSynced: { type: 'boolean' },
    outboxDepth: { type: 'integer' },
    outboxOldestS: { type: 'number' },
    devicesSilent: { type: 'array', items: { type: 'string' } },
  },
} as const;

/** The gateway's local HTTP server: `/metrics` (Prometheus text) and `/health` (JSON) for installers and scrapers. */
export class GatewayHttp {
  private app: Pick<FastifyInstance, 'close'> | undefined;
  private boundPort = 0;

  constructor(private readonly o: GatewayHttpOptions) {}

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const app = Fastify({
      loggerInstance: this.o.logger.child({ part: 'http' }),
      logController: new LogController({ disableRequestLogging: true }),
    });
    app.get('/metrics', async (_req, reply) => {
      const p = await this.o.sampler.sample();
      reply.type('text/plain; version=0.0.4; charset=utf-8');
      return renderMetrics(this.o.gatewayId, this.o.sources, p, this.o.devices());
    });
    app.get('/health', { schema: { response: { 200: HealthReply, 503: HealthReply } } }, async (_req, reply) => {
      const s = this.o.sources;
      const ob = s.outbox();
      const silent = this.o.devices().filter((d) => !d.online).map((d) => d.id);
      const uplink = s.uplinkConnected();
      const body = {
        status: uplink ? ('ok' as const) : ('degraded' as const),
        gateway: this.o.gatewayId,
        uplink,
        clockSynced: s.clockOffsetMs() !== undefined,
        outboxDepth: ob.depth[0] + ob.depth[1] + ob.depth[2],
        outboxOldestS: ob.oldestAgeMs / 1000,
        devicesSilent: silent,
      };
      // Degraded is still serving (readings are stored); 200 keeps a liveness probe from restarting it.
      reply.code(200);
      return body;
    });
    for (const r of this.o.routes ?? []) await app.register(r);
    await app.listen({ host: this.o.config.host, port: this.o.config.port });
    const addr = app.server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : 0;
    this.app = app;
  }

  async stop(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    await app?.close();
  }
}
