import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { auditTail } from '../../store/index.js';
import { AuditQuery, AuditReply, ErrorBody } from '../schemas.js';

/** The audit log, newest first: who changed what, when. Operators only. */
export async function auditRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: Static<typeof AuditQuery> }>(
    '/api/audit',
    { preHandler: app.requireRole('operator'), schema: { querystring: AuditQuery, response: { 200: AuditReply, 401: ErrorBody, 403: ErrorBody } } },
    async (req) => {
      const rows = await auditTail(app.hutong.registry.db, req.query.limit, req.query.target);
      return { entries: rows.map((r) => ({ ...r, at: r.at.toISOString() })) };
    },
  );
}
