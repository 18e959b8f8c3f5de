import { HutongError } from '@hutong/protocols';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ALL_GRIDS } from '../../registry/index.js';
import { currentUser } from '../auth.js';
import { ErrorBody, LoginBody, LoginReply, UserBody, UserReply } from '../schemas.js';

/** Sign-in (rate-limited per address) and user management (operators of every grid only). */
export async function sessionRoutes(app: FastifyInstance): Promise<void> {
  app.post<{ Body: Static<typeof LoginBody> }>(
    '/api/login',
    { schema: { body: LoginBody, response: { 200: LoginReply, 401: ErrorBody, 429: ErrorBody } } },
    async (req) => {
      if (!app.hutong.loginLimiter.take(req.ip)) throw new HutongError('E_RATE_LIMITED');
      const r = await app.hutong.registry.users.login(req.body.name, req.body.password);
      return { token: r.token, expiresAt: r.expiresAt.toISOString(), user: r.user };
    },
  );

  app.post(
    '/api/logout',
    { preHandler: app.requireRole('operator', 'crew', 'installer'), schema: { response: { 204: { type: 'null' } } } },
    async (req, reply) => {
      const token = String(req.headers.authorization).slice('Bearer '.length);
      await app.hutong.registry.users.logout(token);
      return reply.code(204).send();
    },
  );

  app.post<{ Body: Static<typeof UserBody> }>(
    '/api/users',
    { preHandler: app.requireRole('operator'), schema: { body: UserBody, response: { 201: UserReply, 403: ErrorBody } } },
    async (req, reply) => {
      const me = currentUser(req);
      if (!me.grids.includes(ALL_GRIDS)) throw new HutongError('E_FORBIDDEN', 'only an operator of every grid manages users');
      await app.hutong.registry.users.put(req.body, me.name, true);
      return reply.code(201).send({ name: req.body.name, role: req.body.role, grids: req.body.grids });
    },
  );
}
