import { type ErrorCode, HutongError, Id, isHutongError, PASS_TYPES, RevocationMessage } from '@hutong/protocols';
import { type TSchema, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { Role } from '../registry/index.js';
import { validityWindow } from './policy.js';
import type { RevocationPublisher } from './publisher.js';
import type { PassStore } from './store.js';

export interface PassesPluginOptions {
  store: PassStore;
  publisher?: RevocationPublisher;
  /** The API's role check (`app.requireRole`); absent = no auth (tests of the routes alone). */
  requireRole?: (...roles: Role[]) => preHandlerAsyncHookHandler;
  /** Who is acting, for the audit log. */
  actorOf?: (req: FastifyRequest) => string;
  now?: () => number;
}

const Hex16 = Type.String({ pattern: '^[0-9a-f]{16}$' });
const ErrorBody = Type.Object({ code: Type.String(), message: Type.String() });

const IssueBody = Type.Object(
  {
    type: Type.Union(PASS_TYPES.map((t) => Type.Literal(t))),
    compound: Id,
    holderKey: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$', description: "holder's Ed25519 public key, base64url" }),
    holder: Type.Optional(Hex16),
    gates: Type.Optional(Type.Array(Type.Integer({ minimum: 0, maximum: 31 }), { minItems: 1, maxItems: 32 })),
    validFrom: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff, description: 'unix s' })),
    validUntil: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff, description: 'unix s' })),
    hours: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 9600 })),
    singleUse: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const IssuedBody = Type.Object({
  passId: Hex16,
  holder: Hex16,
  kid: Type.Integer(),
  type: Type.String(),
  compound: Type.String(),
  validFrom: Type.Integer(),
  validUntil: Type.Integer(),
  singleUse: Type.Boolean(),
  pass: Type.String(),
});

const PassInfo = Type.Object({
  passId: Hex16,
  holder: Hex16,
  compound: Type.String(),
  type: Type.String(),
  gates: Type.Union([Type.Array(Type.Integer()), Type.Null()]),
  validFrom: Type.Integer(),
  validUntil: Type.Integer(),
  singleUse: Type.Boolean(),
  kid: Type.Integer(),
  revoked: Type.Boolean(),
});

const KeyInfo = Type.Object({ kid: Type.Integer(), publicKey: Type.String(), created: Type.String(), retired: Type.Boolean() });

const STATUS: Partial<Record<ErrorCode, number>> = { E_AUTH: 401, E_FORBIDDEN: 403, E_NOT_FOUND: 404, E_CONFIG: 503 };

function fail(reply: FastifyReply, e: unknown): FastifyReply {
  if (isHutongError(e)) return reply.code(STATUS[e.code] ?? 400).send({ code: e.code, message: e.message });
  if (e instanceof TypeError) return reply.code(400).send({ code: 'E_SCHEMA', message: e.message });
  throw e;
}

/**
 * The pass issuer's HTTP routes: issue passes for residents, visitors, workers and deliveries; look one up;
 * revoke it (the compound's gateways get the change on their downlink at once); the revocation list for a
 * compound; the issuer keys (public halves only) with rotation and retirement.
 */
export const passesPlugin: FastifyPluginAsync<PassesPluginOptions> = async (app, o) => {
  const now = o.now ?? Date.now;
  const actor = o.actorOf ?? (() => 'api');
  const noAuth: preHandlerAsyncHookHandler = async () => {};
  const guard = (...roles: Role[]) => (o.requireRole ? o.requireRole(...roles) : noAuth);
  const operator = guard('operator');
  // Strict validation in this plugin's scope: an unknown field is refused (fastify's default would strip it, and
  // a pass request carrying personal data must fail loudly). URL parts are converted from strings first.
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const c = TypeCompiler.Compile(schema as TSchema);
    return (data: unknown) => {
      const v = httpPart === 'body' ? data : Value.Convert(schema as TSchema, data);
      if (c.Check(v)) return { value: v };
      const first = c.Errors(v).First();
      return { error: new Error(`${first?.path || '/'}: ${first?.message ?? 'invalid'}`) };
    };
  });

  // Validation failures answer with the catalogue code; anything else goes on to the API's own error handler.
  app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
    if (err.statusCode === 400) return reply.code(400).send({ code: 'E_SCHEMA', message: err.message });
    return fail(reply, err);
  });

  app.post(
    '/',
    { preHandler: operator, schema: { body: IssueBody, response: { 201: IssuedBody, 400: ErrorBody } } },
    async (req, reply) => {
      const b = req.body as typeof IssueBody.static;
      const w = validityWindow(b.type, Math.floor(now() / 1000), b);
      if ('error' in w) return reply.code(400).send({ code: 'E_SCHEMA', message: w.error });
      try {
        const issued = await o.store.issue(
          {
            type: b.type,
            compound: b.compound,
            holderKey: b.holderKey,
            holder: b.holder,
            gates: b.gates,
            ...w,
            singleUse: b.singleUse ?? (b.type === 'delivery'),
          },
          actor(req),
        );
        return reply.code(201).send(issued);
      } catch (e) {
        return fail(reply, e);
      }
    },
  );

  app.get('/revocations', {
    preHandler: guard('operator', 'installer'),
    schema: {
      querystring: Type.Object({ compound: Id, from: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ version: Type.Integer(), messages: Type.Array(RevocationMessage) }) },
    },
  }, async (req) => {
    const q = req.query as { compound: string; from?: number };
    return { version: await o.store.version(q.compound), messages: await o.store.revocations(q.compound, q.from) };
  });

  app.get('/keys', { preHandler: guard('operator', 'installer'), schema: { response: { 200: Type.Array(KeyInfo) } } }, async () =>
    (await o.store.keys()).map((k) => ({ kid: k.kid, publicKey: k.publicKey, created: k.created.toISOString(), retired: k.retiredAt !== null })),
  );

  app.post('/keys/rotate', { preHandler: operator, schema: { response: { 201: KeyInfo, 403: ErrorBody } } }, async (req, reply) => {
    try {
      const k = await o.store.rotate(actor(req));
      return reply.code(201).send({ kid: k.kid, publicKey: k.publicKey, created: k.created.toISOString(), retired: false });
    } catch (e) {
      return fail(reply, e);
    }
  });

  app.post(
    '/keys/:kid/retire',
    { preHandler: operator, schema: { params: Type.Object({ kid: Type.Integer({ minimum: 0, maximum: 255 }) }), response: { 204: Type.Null(), 404: ErrorBody, 403: ErrorBody } } },
    async (req, reply) => {
      try {
        const ok = await o.store.retire((req.params as { kid: number }).kid, actor(req));
        if (!ok) throw new HutongError('E_NOT_FOUND', 'no such active key');
        return reply.code(204).send();
      } catch (e) {
        return fail(reply, e);
      }
    },
  );

  app.get(
    '/:id',
    { preHandler: operator, schema: { params: Type.Object({ id: Hex16 }), response: { 200: PassInfo, 404: ErrorBody } } },
    async (req) => {
      const p = await o.store.get((req.params as { id: string }).id);
      if (!p) throw new HutongError('E_NOT_FOUND', 'no such pass');
      return {
        passId: p.id,
        holder: p.holder,
        compound: p.compound,
        type: p.type,
        gates: p.gates,
        validFrom: Math.floor(p.valid_from.getTime() / 1000),
        validUntil: Math.floor(p.valid_until.getTime() / 1000),
        singleUse: p.single_use,
        kid: p.kid,
        revoked: p.revoked_version !== null,
      };
    },
  );

  app.post(
    '/:id/revoke',
    { preHandler: operator, schema: { params: Type.Object({ id: Hex16 }), response: { 200: Type.Object({ version: Type.Integer(), changed: Type.Boolean() }), 404: ErrorBody } } },
    async (req) => {
      const r = await o.store.revoke((req.params as { id: string }).id, actor(req));
      if (!r) throw new HutongError('E_NOT_FOUND', 'no such pass');
      if (r.changed && o.publisher) {
        // The revocation is committed; sending is best effort (a gateway that misses it gets the next full list).
        await o.publisher.changed(r.compound, r.version - 1).catch((e: unknown) => req.log.warn({ err: e }, 'revocation not sent'));
      }
      return { version: r.version, changed: r.changed };
    },
  );
};
