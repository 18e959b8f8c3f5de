import { HutongError } from '@hutong/protocols';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { userMaySeeGrid } from '../../registry/index.js';
import { currentUser } from '../auth.js';
import type { TelemetryReader } from '../telemetry.js';
import { BinParams, CollectionList, CollectionReply, ErrorBody, LotList } from '../schemas.js';

const errors = { 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 503: ErrorBody };

/** Live parking counts and bin collections, read from InfluxDB; an operator sees only gateways of their grids. */
export async function telemetryRoutes(app: FastifyInstance): Promise<void> {
  const reader = (): TelemetryReader => {
    const t = app.hutong.telemetry;
    if (!t) throw Object.assign(new Error('telemetry store not configured'), { statusCode: 503 });
    return t;
  };
  const gridFilter = async (req: FastifyRequest): Promise<(gw: string) => boolean> => {
    const user = currentUser(req);
    const grids = new Map((await app.hutong.registry.gateways.list()).map((g) => [g.id, g.grid]));
    // A gateway unknown to the registry has no grid: only operators of every grid see its data.
    return (gw) => (grids.has(gw) ? userMaySeeGrid(user, grids.get(gw)) : userMaySeeGrid(user, '\u0000unregistered'));
  };

  app.get(
    '/api/parking/lots',
    { preHandler: app.requireRole('operator', 'crew'), schema: { response: { 200: LotList, ...errors } } },
    async (req) => {
      const may = await gridFilter(req);
      const lots = (await reader().lots()).filter((l) => may(l.gw));
      return { lots: lots.map((l) => ({ ...l, at: l.at.toISOString() })) };
    },
  );

  app.get(
    '/api/bins/last-collections',
    { preHandler: app.requireRole('operator', 'crew'), schema: { response: { 200: CollectionList, ...errors } } },
    async (req) => {
      const may = await gridFilter(req);
      const cs = (await reader().lastCollections()).filter((c) => may(c.gw));
      return { collections: cs.map((c) => ({ ...c, at: c.at.toISOString() })) };
    },
  );

  app.get<{ Params: Static<typeof BinParams> }>(
    '/api/bins/:id/last-collection',
    { preHandler: app.requireRole('operator', 'crew'), schema: { params: BinParams, response: { 200: CollectionReply, ...errors } } },
    async (req) => {
      const may = await gridFilter(req);
      const c = (await reader().lastCollections(req.params.id)).find((x) => may(x.gw));
      if (!c) throw new HutongError('E_NOT_FOUND', `no collection of bin ${req.params.id}`);
      return { ...c, at: c.at.toISOString() };
    },
  );
}
