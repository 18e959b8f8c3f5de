import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Db } from '../store/index.js';
import { Passes } from './passes.js';
import { passesPlugin } from './plugin.js';
import type { DownlinkPublish } from './publisher.js';

export interface PassesFeatureOptions {
  db: Db;
  publish: DownlinkPublish;
  logger: Logger;
  now?: () => number;
  /** How often gateways that came online get their full revocation list (ms). */
  presencePollMs?: number;
}

/**
 * The whole pass issuer as one plugin for the composition root: starts the issuer (tables, first key, purge and
 * presence timers), stops it with the app, and mounts the routes behind the API's role check when present:
 *   await app.register(passesFeature, { prefix: '/api/passes', db, publish: publishDownlink, logger });
 */
export const passesFeature: FastifyPluginAsync<PassesFeatureOptions> = async (app, o) => {
  const passes = new Passes({ db: o.db, publish: o.publish, logger: o.logger.child({ component: 'passes' }), now: o.now, presencePollMs: o.presencePollMs });
  await passes.start();
  app.addHook('onClose', () => passes.stop());
  const requireRole = app.hasDecorator('requireRole') ? app.requireRole.bind(app) : undefined;
  await app.register(passesPlugin, {
    store: passes.store,
    publisher: passes.publisher,
    requireRole,
    actorOf: (req: FastifyRequest) => (req as FastifyRequest & { user?: { name: string } }).user?.name ?? 'api',
    now: o.now,
  });
};
