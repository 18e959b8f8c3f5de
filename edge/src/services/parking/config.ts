import { Id } from '@hutong/protocols';
import { type Static, Type } from '@sinclair/typebox';

/** The `parking` section: lots, their spaces and which sensor watches each space (docs/parking.md). */
const HHMM = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'local time HH:MM' });

export const ShareWindow = Type.Object(
  {
    days: Type.Array(Type.Integer({ minimum: 0, maximum: 6 }), { default: [0, 1, 2, 3, 4, 5, 6], minItems: 1, maxItems: 7 }),
    from: HHMM,
    to: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'local time HH:MM; before `from` = overnight' }),
  },
  { additionalProperties: false, description: 'when a shared space is offered to the public' },
);

export const Space = Type.Object(
  {
    id: Id,
    sensor: Id,
    type: Type.Union([Type.Literal('normal'), Type.Literal('visitor'), Type.Literal('no_parking'), Type.Literal('shared')], {
      default: 'normal',
    }),
    grid: Type.Optional(Id),
    share: Type.Array(ShareWindow, { default: [], maxItems: 8, description: 'for type shared' }),
  },
  { additionalProperties: false },
);

export const Lot = Type.Object(
  {
    id: Id,
    grid: Type.Optional(Id),
    spaces: Type.Array(Space, { maxItems: 10_000 }),
  },
  { additionalProperties: false },
);

export const ParkingSection = Type.Object(
  {
    lots: Type.Array(Lot, { default: [], maxItems: 100 }),
    debounceMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 10_000, description: 'a state must hold this long to count' }),
    silenceMs: Type.Integer({
      minimum: 10_000,
      maximum: 86_400_000,
      default: 150_000,
      description: 'a sensor silent this long makes its space unknown (5 missed 30 s readings)',
    }),
    visitorOverstayMs: Type.Integer({ minimum: 60_000, maximum: 7 * 86_400_000, default: 4 * 3_600_000 }),
    lotThrottleMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 5_000, description: 'at most one lot record per lot this often' }),
    tickMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 1000, description: 'how often timeouts are evaluated' }),
    tzOffsetMin: Type.Integer({ minimum: -720, maximum: 840, default: 480, description: 'local time offset of share windows' }),
  },
  { additionalProperties: false },
);
export type ParkingConfig = Static<typeof ParkingSection>;
export type SpaceConfig = Static<typeof Space>;
export type ShareWindowConfig = Static<typeof ShareWindow>;
