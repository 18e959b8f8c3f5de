/**
 * Schemas for what a user hands the camera simulator: its options (CLI flags or a JSON section) and a
 * scenario script file. Both are checked before anything starts, every problem reported at once.
 */
import { checkConfig, compile, formatConfigIssues, HutongError, Id } from '@hutong/protocols';
import { type Static, Type } from '@sinclair/typebox';
import { GROUND_KINDS } from './ground.js';
import { LITTER_LABELS } from './items.js';
import type { Scenario } from './scenario.js';

export const CameraSimConfig = Type.Object(
  {
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 0, description: 'TCP port for RTSP; 0 = a free port' }),
    host: Type.String({ default: '127.0.0.1', description: 'address to listen on' }),
    path: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', default: 'cam1', description: 'stream path: rtsp://host:port/PATH' }),
    fps: Type.Number({ exclusiveMinimum: 0, maximum: 30, default: 2, description: 'frames per second' }),
    width: Type.Integer({ minimum: 64, maximum: 3840, multipleOf: 2, default: 1280, description: 'frame width (generated scenario)' }),
    height: Type.Integer({ minimum: 64, maximum: 2160, multipleOf: 2, default: 720, description: 'frame height (generated scenario)' }),
    seed: Type.Integer({ minimum: 0, maximum: 0xffffffff, default: 1, description: 'seed of the generated scenario' }),
    keyframeSeconds: Type.Number({ minimum: 0.5, maximum: 10, default: 1, description: 'a new reader waits at most this long' }),
    sensorNoise: Type.Number({ minimum: 0, maximum: 20, default: 0, description: 'per-frame pixel noise amplitude (0 = exact frames)' }),
    ffmpegPath: Type.String({ minLength: 1, default: 'ffmpeg', description: 'ffmpeg binary (Debian package "ffmpeg")' }),
  },
  { additionalProperties: false },
);
export type CameraSimConfig = Static<typeof CameraSimConfig>;

const Num = Type.Number();
const Int = Type.Integer();
const Point = Type.Tuple([Num, Num]);

export const ScenarioSchema = Type.Object(
  {
    version: Type.Literal(1),
    seed: Int,
    width: Type.Integer({ minimum: 64, maximum: 3840, multipleOf: 2 }),
    height: Type.Integer({ minimum: 64, maximum: 2160, multipleOf: 2 }),
    durationMs: Type.Integer({ minimum: 1 }),
    loop: Type.Boolean(),
    background: Type.Object(
      {
        seed: Int,
        regions: Type.Array(
          Type.Object(
            {
              kind: Type.Union(GROUND_KINDS.map((k) => Type.Literal(k))),
              polygon: Type.Array(Point, { minItems: 3 }),
              seed: Int,
            },
            { additionalProperties: false },
          ),
          { minItems: 1, maxItems: 16 },
        ),
        distractors: Type.Object(
          {
            leaves: Type.Integer({ minimum: 0, maximum: 500 }),
            pebbles: Type.Integer({ minimum: 0, maximum: 500 }),
            drains: Type.Integer({ minimum: 0, maximum: 20 }),
            lines: Type.Integer({ minimum: 0, maximum: 20 }),
            puddles: Type.Integer({ minimum: 0, maximum: 20 }),
            treeShadows: Type.Integer({ minimum: 0, maximum: 20 }),
            poleShadows: Type.Integer({ minimum: 0, maximum: 20 }),
          },
          { additionalProperties: false },
        ),
        lighting: Type.Object(
          {
            angleDeg: Num,
            strength: Type.Number({ minimum: 0, maximum: 1 }),
            gain: Type.Number({ minimum: 0.1, maximum: 3 }),
            vignette: Type.Number({ minimum: 0, maximum: 1 }),
            tint: Type.Tuple([Num, Num, Num]),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    zones: Type.Array(Type.Object({ id: Id, polygon: Type.Array(Point, { minItems: 3 }) }, { additionalProperties: false })),
    items: Type.Array(
      Type.Object(
        {
          id: Id,
          item: Type.Object(
            {
              label: Type.Union(LITTER_LABELS.map((l) => Type.Literal(l))),
              length: Type.Number({ minimum: 8, maximum: 400 }),
              rotationDeg: Num,
              variant: Type.Optional(Type.String()),
              seed: Type.Integer({ minimum: 0, maximum: 0xffffffff }),
            },
            { additionalProperties: false },
          ),
          x: Int,
          y: Int,
          zone: Type.Optional(Type.String()),
          appearMs: Type.Integer({ minimum: 0 }),
          removeMs: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
          fadeInMs: Type.Integer({ minimum: 0, maximum: 60_000 }),
          maxOpacity: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
        },
        { additionalProperties: false },
      ),
      { maxItems: 10_000 },
    ),
  },
  { additionalProperties: false },
);

// The schema and the hand-written interface must describe the same thing.
type SchemaMatches = Static<typeof ScenarioSchema> extends Scenario ? true : never;
const schemaMatches: SchemaMatches = true;
void schemaMatches;

const scenarioValidator = compile(ScenarioSchema);

/** Options with defaults applied; throws E_CONFIG listing every problem. */
export function checkCameraSimConfig(input: unknown, source = 'camera simulator options'): CameraSimConfig {
  const r = checkConfig(CameraSimConfig, input);
  if (!r.ok) throw new HutongError('E_CONFIG', issuesText(source, r.issues));
  return r.value;
}

/** A scenario script as read from JSON; throws E_CONFIG listing every problem. */
export function checkScenario(input: unknown, source = 'scenario'): Scenario {
  if (scenarioValidator.check(input)) {
    const s = input as Scenario;
    const late = s.items.filter((i) => i.removeMs !== null && i.removeMs <= i.appearMs).map((i) => ({ path: `/items/${i.id}`, message: 'removeMs must be after appearMs' }));
    if (late.length === 0) return s;
    throw new HutongError('E_CONFIG', issuesText(source, late));
  }
  throw new HutongError('E_CONFIG', issuesText(source, scenarioValidator.issues(input)));
}

/** formatConfigIssues starts with the code, which HutongError adds itself. */
function issuesText(source: string, issues: Parameters<typeof formatConfigIssues>[1]): string {
  return formatConfigIssues(source, issues).replace(/^E_CONFIG: /, '');
}
