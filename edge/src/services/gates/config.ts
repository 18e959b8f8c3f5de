import { Id } from '@hutong/protocols';
import { type Static, Type } from '@sinclair/typebox';

/**
 * The `gates` section of the gateway config. Issuer public keys come from the cloud (`GET /passes/keys`);
 * several are listed during a key rotation. Each gate has a bit index: passes carry a bitmask of the gates
 * they open (docs/passes.md).
 */
const Reader = Type.Object(
  {
    id: Id,
    dir: Type.Union([Type.Literal('in'), Type.Literal('out')], { description: 'direction of a pass shown at this reader' }),
  },
  { additionalProperties: false },
);

const Gate = Type.Object(
  {
    id: Id,
    bit: Type.Integer({ minimum: 0, maximum: 31, description: 'index of this gate in a pass gate bitmask' }),
    readers: Type.Array(Reader, { minItems: 1, maxItems: 8 }),
    antiPassback: Type.Boolean({ default: false, description: 'deny a second pass in the same direction at this gate' }),
    failMode: Type.Union([Type.Literal('fail-secure'), Type.Literal('fail-open')], {
      default: 'fail-secure',
      description:
        'when a decision cannot be recorded (outbox refuses) or the service stops: fail-secure keeps the gate shut, fail-open releases it',
    }),
    fireZones: Type.Array(Id, { default: [], maxItems: 16, description: 'fire-alarm zones that release this gate' }),
    openMs: Type.Integer({ minimum: 200, maximum: 60_000, default: 3000, description: 'relay pulse length on a grant' }),
  },
  { additionalProperties: false },
);

export const GatesSection = Type.Object(
  {
    compound: Id,
    issuerKeys: Type.Array(
      Type.Object(
        {
          kid: Type.Integer({ minimum: 0, maximum: 255 }),
          publicKey: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$', description: 'Ed25519 public key, base64url (32 bytes)' }),
        },
        { additionalProperties: false },
      ),
      { default: [], maxItems: 16 },
    ),
    gates: Type.Array(Gate, { default: [], maxItems: 32 }),
    freshnessMs: Type.Integer({ minimum: 30_000, maximum: 600_000, default: 60_000, description: 'a code older than this is stale' }),
    skewMs: Type.Integer({
      minimum: 0,
      maximum: 600_000,
      default: 30_000,
      description: 'clock-skew allowance for codes from the future and for validity windows',
    }),
    denials: Type.Object(
      {
        count: Type.Integer({ minimum: 2, maximum: 1000, default: 5 }),
        windowMs: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 60_000 }),
      },
      { additionalProperties: false, default: {}, description: 'this many denials at one gate within the window → pass_denied' },
    ),
    revocationsFile: Type.String({ default: 'revocations.json', description: 'file in the gateway data dir' }),
  },
  { additionalProperties: false },
);
export type GatesConfig = Static<typeof GatesSection>;
