import { HutongError } from '@hutong/protocols';
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { Role, User, Users } from '../registry/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user (set by `requireRole`). */
    user?: User;
  }
  interface FastifyInstance {
    /** preHandler: a valid bearer token of one of `roles`, else E_AUTH (401) or E_FORBIDDEN (403). */
    requireRole(...roles: Role[]): preHandlerAsyncHookHandler;
  }
}

export function currentUser(req: FastifyRequest): User {
  if (!req.user) throw new HutongError('E_AUTH', 'not signed in');
  return req.user;
}

/** Bearer-token authentication against the users table; roles are checked per route. */
export const authPlugin = fp(
  async (app: FastifyInstance, opts: { users: Users }) => {
    app.decorateRequest('user', undefined);
    app.decorate('requireRole', (...roles: Role[]): preHandlerAsyncHookHandler => {
      return async (req) => {
        const h = req.headers.authorization;
        const m = typeof h === 'string' ? /^Bearer ([A-Za-z0-9_-]{20,128})$/.exec(h) : null;
        if (!m?.[1]) throw new HutongError('E_AUTH', 'missing or malformed bearer token');
        const user = await opts.users.authenticate(m[1]);
        if (!user) throw new HutongError('E_AUTH', 'token unknown or expired');
        if (!roles.includes(user.role)) throw new HutongError('E_FORBIDDEN', `role ${user.role} may not ${req.method} ${req.routeOptions.url}`);
        req.user = user;
      };
    });
  },
  { name: 'hutong-auth' },
);
