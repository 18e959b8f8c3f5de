import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { ID_PATTERN } from './ids.js';
import { NS_PATTERN } from './time.js';

/**
 * Records: what the gateway stores in its outbox and ships to the cloud, one per reading or event.
 * Short keys keep batches small (`k` kind, `d` device, `ts` ns timestamp); every record names the device
 * that produced it (the gateway itself for gateway-level records).
 */
export const Id = Type.String({ pattern: ID_PATTERN });
export const Ns = Type.String({ pattern: NS_PATTERN, description: 'ns since epoch, per-device sequence in the sub-ms digits' });
const Pct = Type.Number({ minimum: 0, maximum: 100 });
const Dbm = Type.Number({ minimum: -150, maximum: 20 });

export const WasteCategory = Type.Union([
  Type.Literal('kitchen'),
  Type.Literal('recyclable'),
  Type.Literal('hazardous'),
  Type.Literal('other'),
]);
export type WasteCategory = Static<typeof WasteCategory>;

export const DeviceKind = Type.Union([
  Type.Literal('scanner'),
  Type.Literal('parking'),
  Type.Literal('reader'),
  Type.Literal('camera'),
  Type.Literal('gateway'),
]);
export type DeviceKind = Static<typeof DeviceKind>;

const base = { d: Id, ts: Ns };

/** A bin emptied by a crew, recorded from a scanner at pickup. */
export const ScanRecord = Type.Object(
  {
    k: Type.Literal('scan'),
    ...base,
    bin: Id,
    cat: WasteCategory,
    crew: Type.Optional(Id),
    kg: Type.Optional(Type.Number({ minimum: 0, maximum: 2000 })),
    grade: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, description: 'sorting quality, 5 = clean' })),
  },
  { additionalProperties: false },
);

/** One parking-space sensor reading (periodic or on change). */
export const ParkRecord = Type.Object(
  {
    k: Type.Literal('park'),
    ...base,
    lot: Id,
    space: Id,
    occ: Type.Boolean(),
    bat: Type.Optional(Pct),
    rssi: Type.Optional(Dbm),
    fc: Type.Optional(Type.Integer({ minimum: 0, maximum: 4_294_967_295, description: "the reading's frame counter (`fcnt`), its identity at the gateway" })),
  },
  { additionalProperties: false },
);

/** Live counts of one lot, as the gateway's boards show them; sent on change, throttled. */
export const LotRecord = Type.Object(
  {
    k: Type.Literal('lot'),
    ...base,
    lot: Id,
    free: Type.Integer({ minimum: 0 }),
    occupied: Type.Integer({ minimum: 0 }),
    unknown: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

/** A gate decision. Never the pass or the code: only the pseudonymous holder id. */
export const GateRecord = Type.Object(
  {
    k: Type.Literal('gate'),
    ...base,
    gate: Id,
    dir: Type.Union([Type.Literal('in'), Type.Literal('out')]),
    res: Type.Union([Type.Literal('grant'), Type.Literal('deny')]),
    reason: Type.String({ pattern: '^[a-z_]{1,32}$' }),
    holder: Type.Optional(Id),
    ms: Type.Number({ minimum: 0, description: 'decision latency at the gateway' }),
    rid: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 4_294_967_295, description: "the reader's request id (`rid`), the request's identity at the gateway" }),
    ),
  },
  { additionalProperties: false },
);

/** One physical litter item seen by a camera, once per item over its whole dwell. */
export const LitterRecord = Type.Object(
  {
    k: Type.Literal('litter'),
    ...base,
    ev: Id,
    zone: Id,
    label: Type.String({ pattern: '^[a-z_]{1,32}$' }),
    conf: Type.Number({ minimum: 0, maximum: 1 }),
    box: Type.Tuple([Type.Number(), Type.Number(), Type.Number(), Type.Number()], { description: 'x, y, w, h in frame px' }),
    img: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', description: 'sha256 of the crop sent on up/image' })),
  },
  { additionalProperties: false },
);

/** Device health as the device or the gateway measured it. */
export const HealthRecord = Type.Object(
  {
    k: Type.Literal('health'),
    ...base,
    kind: DeviceKind,
    online: Type.Boolean(),
    bat: Type.Optional(Pct),
    rssi: Type.Optional(Dbm),
    fps: Type.Optional(Type.Number({ minimum: 0 })),
    inferMs: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);

/** Gateway stats every N seconds. */
export const GatewayStatsRecord = Type.Object(
  {
    k: Type.Literal('gwstats'),
    ...base,
    cpu: Type.Number({ minimum: 0, description: 'process CPU, % of one core' }),
    rssMb: Type.Number({ minimum: 0 }),
    diskFreeMb: Type.Number({ minimum: 0 }),
    obDepth: Type.Integer({ minimum: 0 }),
    obOldestS: Type.Number({ minimum: 0 }),
    obDropped: Type.Integer({ minimum: 0 }),
    uplink: Type.Boolean(),
    clockOffsetMs: Type.Optional(Type.Number()),
    counters: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z0-9_.]{1,64}$' }), Type.Number(), { maxProperties: 64 })),
  },
  { additionalProperties: false },
);

export const STATE_TYPES = [
  'device_silent',
  'device_back',
  'bin_overdue',
  'bin_full',
  'space_overstay',
  'no_parking',
  'zone_dirty',
  'zone_clean',
  'pass_denied',
] as const;
export type StateType = (typeof STATE_TYPES)[number];

/**
 * A state change decided at the edge (one timeout, in one place); the cloud's rules only add grace,
 * priority, SLA and routing. `subject` is the bin, space, zone or device the change is about.
 */
export const StateRecord = Type.Object(
  {
    k: Type.Literal('state'),
    ...base,
    type: Type.Union(STATE_TYPES.map((t) => Type.Literal(t))),
    subject: Id,
    grid: Type.Optional(Id),
    detail: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);

export const RECORD_SCHEMAS = {
  scan: ScanRecord,
  park: ParkRecord,
  lot: LotRecord,
  gate: GateRecord,
  litter: LitterRecord,
  health: HealthRecord,
  gwstats: GatewayStatsRecord,
  state: StateRecord,
} as const satisfies Record<string, TSchema>;

export type RecordKind = keyof typeof RECORD_SCHEMAS;
export const RECORD_KINDS = Object.keys(RECORD_SCHEMAS) as RecordKind[];

export type ScanRecord = Static<typeof ScanRecord>;
export type ParkRecord = Static<typeof ParkRecord>;
export type LotRecord = Static<typeof LotRecord>;
export type GateRecord = Static<typeof GateRecord>;
export type LitterRecord = Static<typeof LitterRecord>;
export type HealthRecord = Static<typeof HealthRecord>;
export type GatewayStatsRecord = Static<typeof GatewayStatsRecord>;
export type StateRecord = Static<typeof StateRecord>;
export type HutongRecord =
  | ScanRecord
  | ParkRecord
  | LotRecord
  | GateRecord
  | LitterRecord
  | HealthRecord
  | GatewayStatsRecord
  | StateRecord;

/**
 * Outbox priority classes (DESIGN.md req. 2): gate decisions and task-relevant events first, bulk telemetry
 * last; when the outbox is full only the lowest class is dropped.
 */
export const Priority = { critical: 0, normal: 1, bulk: 2 } as const;
export type Priority = (typeof Priority)[keyof typeof Priority];

export const PRIORITY_OF: Record<RecordKind, Priority> = {
  gate: Priority.critical,
  state: Priority.critical,
  litter: Priority.critical,
  scan: Priority.normal,
  park: Priority.bulk,
  lot: Priority.bulk,
  health: Priority.bulk,
  gwstats: Priority.bulk,
};
