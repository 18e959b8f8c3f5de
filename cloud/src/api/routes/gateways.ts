import { HutongError } from '@hutong/protocols';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Gateway, userMaySeeGrid } from '../../registry/index.js';
import { currentUser } from '../auth.js';
import {
  DeviceList,
  DevicesBody,
  EnrolmentCodeBody,
  EnrolmentCodeReply,
  ErrorBody,
  GatewayBody,
  GatewayList,
  GatewayParams,
  GatewayReply,
  RevokeReply,
  UpsertReply,
} from '../schemas.js';

type Params = { Params: Static<typeof GatewayParams> };
const errors = { 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

/** Gateways, their enrolment codes and credentials, and their devices. Operators see only their grids. */
export async function gatewayRoutes(app: FastifyInstance): Promise<void> {
  const reg = app.hutong.registry;

  async function visible(req: FastifyRequest, id: string): Promise<Gateway> {
    const g = await reg.gateways.get(id);
    if (!g) throw new HutongError('E_NOT_FOUND', `gateway ${id}`);
    if (!userMaySeeGrid(currentUser(req), g.grid)) throw new HutongError('E_FORBIDDEN', `gateway ${id} is outside your grids`);
    return g;
  }

  const view = (g: Gateway, stats?: Awaited<ReturnType<NonNullable<typeof app.hutong.telemetry>['gatewayStats']>>) => {
    const p = reg.presence.get(g.id);
    const s = stats?.get(g.id);
    return {
      id: g.id,
      name: g.name,
      compound: g.compound,
      grid: g.grid,
      created: g.created.toISOString(),
      lastSeen: p?.lastSeen ? new Date(p.lastSeen).toISOString() : null,
      online: p?.online ?? false,
      ...(s ? { stats: { ...s, at: s.at.toISOString() } } : {}),
    };
  };

  app.get(
    '/api/gateways',
    { preHandler: app.requireRole('operator', 'installer'), schema: { response: { 200: GatewayList, ...errors } } },
    async (req) => {
      const user = currentUser(req);
      const all = (await reg.gateways.list()).filter((g) => userMaySeeGrid(user, g.grid));
      // Outbox and clock figures come from the gateways' own gwstats telemetry; missing InfluxDB only hides them.
      const stats = await app.hutong.telemetry?.gatewayStats().catch((err) => {
        req.log.warn({ err }, 'gateway stats unavailable');
        return undefined;
      });
      return { gateways: all.map((g) => view(g, stats)) };
    },
  );

  app.post<{ Body: Static<typeof GatewayBody> }>(
    '/api/gateways',
    { preHandler: app.requireRole('operator', 'installer'), schema: { body: GatewayBody, response: { 201: GatewayReply, 400: ErrorBody, ...errors } } },
    async (req, reply) => {
      const user = currentUser(req);
      if (!userMaySeeGrid(user, req.body.grid)) throw new HutongError('E_FORBIDDEN', `grid ${req.body.grid} is outside your grids`);
      const g = await app.hutong.registry.createGateway(req.body, user.name);
      return reply.code(201).send(view(g));
    },
  );

  app.post<Params & { Body: Static<typeof EnrolmentCodeBody> }>(
    '/api/gateways/:id/enrolment-codes',
    {
      preHandler: app.requireRole('operator', 'installer'),
      schema: { params: GatewayParams, body: EnrolmentCodeBody, response: { 201: EnrolmentCodeReply, ...errors } },
    },
    async (req, reply) => {
      const g = await visible(req, req.params.id);
      const r = await reg.gateways.createEnrolmentCode(g.id, currentUser(req).name, req.body.ttlMinutes * 60_000);
      return reply.code(201).send({ gateway: g.id, code: r.code, expiresAt: r.expiresAt.toISOString() });
    },
  );

  app.post<Params>(
    '/api/gateways/:id/revoke',
    { preHandler: app.requireRole('operator'), schema: { params: GatewayParams, response: { 200: RevokeReply, ...errors } } },
    async (req) => {
      const g = await visible(req, req.params.id);
      return { gateway: g.id, revoked: await reg.gateways.revoke(g.id, currentUser(req).name) };
    },
  );

  app.get<Params>(
    '/api/gateways/:id/devices',
    { preHandler: app.requireRole('operator', 'installer'), schema: { params: GatewayParams, response: { 200: DeviceList, ...errors } } },
    async (req) => {
      const g = await visible(req, req.params.id);
      const user = currentUser(req);
      // A device may sit in another grid than its gateway (a camera watching the next block): filter on both.
      const devices = (await reg.devices.list(g.id)).filter((d) => userMaySeeGrid(user, d.grid));
      const seen = await app.hutong.telemetry?.deviceLastSeen(g.id).catch((err) => {
        req.log.warn({ err }, 'device last-seen unavailable');
        return undefined;
      });
      return {
        gateway: g.id,
        devices: devices.map(({ gateway: _gw, updated, ...d }) => ({
          ...d,
          updated: updated.toISOString(),
          lastSeen: seen?.get(d.id)?.toISOString() ?? null,
        })),
      };
    },
  );

  app.put<Params & { Body: Static<typeof DevicesBody> }>(
    '/api/gateways/:id/devices',
    {
      preHandler: app.requireRole('installer'),
      schema: { params: GatewayParams, body: DevicesBody, response: { 200: UpsertReply, 400: ErrorBody, ...errors } },
    },
    async (req) => {
      const g = await visible(req, req.params.id);
      return { gateway: g.id, written: await reg.devices.upsert(g.id, req.body.devices, currentUser(req).name) };
    },
  );
}
