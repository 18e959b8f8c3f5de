import { Id } from '@hutong/protocols';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { DeviceInput } from '../registry/index.js';

/**
 * Request and response schemas of the HTTP API, one TypeBox definition for the validator, the serializer
 * (which also keeps unlisted fields from leaking) and the static type.
 */
export const ErrorBody = Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false });
export const Iso = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
export const Role = Type.Union([Type.Literal('operator'), Type.Literal('crew'), Type.Literal('installer')]);
export const GridList = Type.Array(Type.Union([Id, Type.Literal('*')]), { maxItems: 1000 });

export const LoginBody = Type.Object(
  { name: Id, password: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);
export const LoginReply = Type.Object(
  { token: Type.String(), expiresAt: Iso, user: Type.Object({ name: Type.String(), role: Role, grids: Type.Array(Type.String()) }) },
  { additionalProperties: false },
);

export const UserBody = Type.Object(
  { name: Id, role: Role, grids: GridList, password: Type.String({ minLength: 10, maxLength: 256 }) },
  { additionalProperties: false },
);
export const UserReply = Type.Object({ name: Type.String(), role: Role, grids: Type.Array(Type.String()) }, { additionalProperties: false });

export const GatewayParams = Type.Object({ id: Id }, { additionalProperties: false });
export const GatewayBody = Type.Object(
  {
    id: Id,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    compound: Type.String({ minLength: 1, maxLength: 200 }),
    grid: Type.Optional(Id),
  },
  { additionalProperties: false },
);
export const GatewayStats = Type.Object(
  {
    at: Iso,
    obDepth: Type.Optional(Type.Number()),
    obOldestS: Type.Optional(Type.Number()),
    obDropped: Type.Optional(Type.Number()),
    clockOffsetMs: Type.Optional(Type.Number()),
    uplink: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const GatewayReply = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    compound: Type.String(),
    grid: Nullable(Type.String()),
    created: Iso,
    lastSeen: Nullable(Iso),
    online: Type.Boolean(),
    stats: Type.Optional(GatewayStats),
  },
  { additionalProperties: false },
);
export const GatewayList = Type.Object({ gateways: Type.Array(GatewayReply) }, { additionalProperties: false });

export const EnrolmentCodeBody = Type.Object(
  { ttlMinutes: Type.Integer({ minimum: 1, maximum: 7 * 24 * 60, default: 24 * 60 }) },
  { additionalProperties: false },
);
export const EnrolmentCodeReply = Type.Object({ gateway: Type.String(), code: Type.String(), expiresAt: Iso }, { additionalProperties: false });

export const EnrolBody = Type.Object({ gateway: Id, code: Type.String({ minLength: 4, maxLength: 64 }) }, { additionalProperties: false });
export const EnrolReply = Type.Object(
  { gateway: Type.String(), username: Type.String(), password: Type.String(), mqttUrl: Type.String(), caPem: Type.String() },
  { additionalProperties: false },
);

export const DevicesBody = Type.Object({ devices: Type.Array(DeviceInput, { minItems: 1, maxItems: 5000 }) }, { additionalProperties: false });
export const DeviceReply = Type.Object(
  {
    id: Type.String(),
    kind: Type.String(),
    lot: Type.Optional(Type.String()),
    space: Type.Optional(Type.String()),
    bin: Type.Optional(Type.String()),
    gate: Type.Optional(Type.String()),
    zone: Type.Optional(Type.String()),
    grid: Type.Optional(Type.String()),
    updated: Iso,
    lastSeen: Nullable(Iso),
  },
  { additionalProperties: false },
);
export const DeviceList = Type.Object({ gateway: Type.String(), devices: Type.Array(DeviceReply) }, { additionalProperties: false });
export const UpsertReply = Type.Object({ gateway: Type.String(), written: Type.Integer() }, { additionalProperties: false });
export const RevokeReply = Type.Object({ gateway: Type.String(), revoked: Type.Integer() }, { additionalProperties: false });

export const LotReply = Type.Object(
  { gw: Type.String(), lot: Type.String(), free: Type.Integer(), occupied: Type.Integer(), unknown: Type.Integer(), at: Iso },
  { additionalProperties: false },
);
export const LotList = Type.Object({ lots: Type.Array(LotReply) }, { additionalProperties: false });

export const BinParams = Type.Object({ id: Id }, { additionalProperties: false });
export const CollectionReply = Type.Object(
  {
    bin: Type.String(),
    gw: Type.String(),
    at: Iso,
    category: Type.Optional(Type.String()),
    scanner: Type.Optional(Type.String()),
    crew: Type.Optional(Type.String()),
    kg: Type.Optional(Type.Number()),
    grade: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);
export const CollectionList = Type.Object({ collections: Type.Array(CollectionReply) }, { additionalProperties: false });

export const AuditQuery = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }), target: Type.Optional(Type.String({ maxLength: 200 })) },
  { additionalProperties: false },
);
export const AuditReply = Type.Object(
  {
    entries: Type.Array(
      Type.Object(
        { at: Iso, actor: Type.String(), action: Type.String(), target: Type.String(), detail: Type.Record(Type.String(), Type.Unknown()) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const HealthReply = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
    checks: Type.Record(Type.String(), Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('off')])),
    counters: Type.Record(Type.String(), Type.Record(Type.String(), Type.Number())),
  },
  { additionalProperties: false },
);

export type Body<T extends TSchema> = Static<T>;
