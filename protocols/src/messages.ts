import { type Static, Type } from '@sinclair/typebox';
import { Id, Ns, RECORD_KINDS, RECORD_SCHEMAS, type HutongRecord, type RecordKind } from './records.js';
import { nsTimestamp } from './time.js';
import { compile, type SchemaIssue } from './validate.js';

/**
 * Message versions. The cloud accepts the current and the previous version, so gateways can be upgraded one
 * at a time (DESIGN.md req. 3). Version 1 stamped records with `t` (ms) and `q` (per-device sequence);
 * version 2 carries the final ns timestamp `ts`. Anything else is refused with E_VERSION.
 */
export const PROTOCOL_VERSION = 2;
export const PREVIOUS_VERSION = 1;
export const ACCEPTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION, PREVIOUS_VERSION];

/** Size limits of every message (bytes, records). The brokers enforce MAX_PACKET as well. */
export const Limits = {
  batchRecords: 500,
  batchBytes: 64 * 1024,
  imageBytes: 192 * 1024,
  controlBytes: 16 * 1024,
  sitePayloadBytes: 4 * 1024,
  deviceLineBytes: 1024,
  /** Largest MQTT packet either broker accepts: an image plus headers. */
  maxPacket: 256 * 1024,
} as const;

/** Uplink `up/batch`: a batch of records with an id unique for this gateway. */
export const BatchEnvelope = Type.Object(
  {
    v: Type.Integer(),
    gw: Id,
    id: Id,
    recs: Type.Array(Type.Unknown(), { minItems: 1, maxItems: Limits.batchRecords }),
  },
  { additionalProperties: false },
);
export type BatchEnvelope = Static<typeof BatchEnvelope>;
export interface Batch {
  v: number;
  gw: string;
  id: string;
  recs: HutongRecord[];
}

/** Downlink `down/ack`: the end-to-end acknowledgement, sent only after InfluxDB confirmed the write. */
export const AckEntry = Type.Object(
  {
    id: Id,
    stored: Type.Integer({ minimum: 0 }),
    rejected: Type.Integer({ minimum: 0 }),
    codes: Type.Optional(Type.Record(Type.String(), Type.Integer({ minimum: 0 }))),
  },
  { additionalProperties: false },
);
export const AckMessage = Type.Object(
  { v: Type.Integer(), acks: Type.Array(AckEntry, { maxItems: 10_000 }) },
  { additionalProperties: false },
);
export type AckEntry = Static<typeof AckEntry>;
export type AckMessage = Static<typeof AckMessage>;

/** Retained `status`, also the MQTT last will (state offline). */
export const StatusMessage = Type.Object(
  {
    v: Type.Integer(),
    state: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
    ts: Type.Integer({ minimum: 0, description: 'ms' }),
    agent: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type StatusMessage = Static<typeof StatusMessage>;

/** `up/time` → `down/time`: NTP-style offset measurement against the cloud clock. */
export const TimeRequest = Type.Object({ v: Type.Integer(), t0: Type.Integer() }, { additionalProperties: false });
export const TimeReply = Type.Object(
  { v: Type.Integer(), t0: Type.Integer(), srv: Type.Integer() },
  { additionalProperties: false },
);
export type TimeRequest = Static<typeof TimeRequest>;
export type TimeReply = Static<typeof TimeReply>;

/** `down/revocations`: versioned, incremental revocation list of pass ids (full = replace). */
export const RevocationMessage = Type.Object(
  {
    v: Type.Integer(),
    from: Type.Integer({ minimum: 0 }),
    to: Type.Integer({ minimum: 0 }),
    full: Type.Boolean(),
    add: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 200_000 }),
    remove: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 200_000 }),
  },
  { additionalProperties: false },
);
export type RevocationMessage = Static<typeof RevocationMessage>;

export const batchEnvelope = compile(BatchEnvelope);
export const ackMessage = compile(AckMessage);
export const statusMessage = compile(StatusMessage);
export const timeRequest = compile(TimeRequest);
export const timeReply = compile(TimeReply);
export const revocationMessage = compile(RevocationMessage);

const recordValidators = Object.fromEntries(RECORD_KINDS.map((k) => [k, compile(RECORD_SCHEMAS[k])])) as {
  [K in RecordKind]: ReturnType<typeof compile<(typeof RECORD_SCHEMAS)[K]>>;
};

export type RecordCheck = { ok: true; rec: HutongRecord } | { ok: false; code: 'E_SCHEMA'; issues: SchemaIssue[] };

/**
 * Validates one record of a batch of version `v`, upgrading a previous-version record to the current shape.
 * Dispatches on `k` so only one schema is checked per record.
 */
export function checkRecord(raw: unknown, v: number): RecordCheck {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, code: 'E_SCHEMA', issues: [{ path: '/', message: 'record is not an object' }] };
  }
  let rec = raw as Record<string, unknown>;
  if (v === PREVIOUS_VERSION) {
    const up = upgradeV1(rec);
    if (!up) return { ok: false, code: 'E_SCHEMA', issues: [{ path: '/t', message: 'v1 record needs integer t and q' }] };
    rec = up;
  }
  const val = recordValidators[rec.k as RecordKind];
  if (!val) return { ok: false, code: 'E_SCHEMA', issues: [{ path: '/k', message: `unknown record kind ${String(rec.k)}` }] };
  if (val.check(rec)) return { ok: true, rec: rec as HutongRecord };
  return { ok: false, code: 'E_SCHEMA', issues: val.issues(rec, 5) };
}

/** v1 → v2: `t` (ms) + `q` (sequence) become `ts`. */
function upgradeV1(rec: Record<string, unknown>): Record<string, unknown> | null {
  const { t, q, ...rest } = rec;
  if (!Number.isSafeInteger(t) || !Number.isSafeInteger(q) || (t as number) < 0 || (q as number) < 0) return null;
  return { ...rest, ts: nsTimestamp(t as number, q as number) };
}

/** Downgrade for tests and for gateways still on v1 (the simulators use it to exercise the previous version). */
export function toV1(rec: HutongRecord): Record<string, unknown> {
  const { ts, ...rest } = rec;
  const ms = Number(ts.slice(0, -6));
  const q = Number(ts.slice(-6));
  return { ...rest, t: ms, q };
}

export { Id, Ns };
