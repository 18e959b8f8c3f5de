import { Id, WasteCategory } from '@hutong/protocols';
import { type Static, Type } from '@sinclair/typebox';

/** The `bins` section: the registry of coded bins and their collection schedules (docs/bins.md). */
const HHMM = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'local time HH:MM' });

export const BinSchedule = Type.Object(
  {
    times: Type.Array(HHMM, { minItems: 1, maxItems: 24, description: 'collections due at these local times' }),
    days: Type.Array(Type.Integer({ minimum: 0, maximum: 6 }), {
      default: [0, 1, 2, 3, 4, 5, 6],
      minItems: 1,
      maxItems: 7,
      description: 'days of the week (0 = Sunday) the times apply to',
    }),
    graceMin: Type.Integer({ minimum: 0, maximum: 1440, default: 60, description: 'a collection may be this late' }),
    earlyMin: Type.Integer({ minimum: 0, maximum: 1440, default: 120, description: 'and this early' }),
  },
  { additionalProperties: false },
);

export const Bin = Type.Object(
  {
    id: Id,
    category: WasteCategory,
    location: Type.Optional(Type.String({ maxLength: 128 })),
    grid: Type.Optional(Id),
    schedule: Type.Optional(BinSchedule),
  },
  { additionalProperties: false, description: 'id = the code printed as QR or held in the RFID tag' },
);

export const BinsSection = Type.Object(
  {
    bins: Type.Array(Bin, { default: [], maxItems: 100_000 }),
    duplicateWindowMs: Type.Integer({
      minimum: 0,
      maximum: 86_400_000,
      default: 600_000,
      description: 'a second scan of the same bin within this window is a duplicate (answered, not stored)',
    }),
    overdueCheckMs: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 60_000 }),
    tzOffsetMin: Type.Integer({ minimum: -720, maximum: 840, default: 480, description: 'local time offset of the schedules' }),
  },
  { additionalProperties: false },
);
export type BinsConfig = Static<typeof BinsSection>;
export type BinConfig = Static<typeof Bin>;
export type BinScheduleConfig = Static<typeof BinSchedule>;
