import type { FastifyInstance } from 'fastify';
import type { CountsListener, LotCounts } from '../services/parking/index.js';

/** What the boards' routes need from the parking service. */
export interface LiveCounts {
  counts(): Record<string, LotCounts>;
  subscribe(fn: CountsListener): () => void;
}

const Counts = {
  type: 'object',
  properties: { free: { type: 'integer' }, occupied: { type: 'integer' }, unknown: { type: 'integer' } },
  required: ['free', 'occupied', 'unknown'],
} as const;

/**
 * Live free counts for the entrance display boards, served by the gateway itself so a board keeps working while
 * the uplink is down: `GET /parking/lots` (a snapshot) and `GET /parking/lots/stream` (server-sent events: one
 * `counts` event with every lot at once on connect, then one per lot whenever its counts change).
 */
export function parkingRoutes(parking: LiveCounts) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get(
      '/parking/lots',
      { schema: { response: { 200: { type: 'object', properties: { lots: { type: 'object', additionalProperties: Counts } } } } } },
      async () => ({ lots: parking.counts() }),
    );
    app.get('/parking/lots/stream', (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      send('counts', parking.counts());
      const off = parking.subscribe((lot, counts) => send('lot', { lot, ...counts }));
      // A comment line every 15 s keeps proxies from closing an idle stream.
      const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
      req.raw.on('close', () => {
        clearInterval(ping);
        off();
      });
    });
  };
}
