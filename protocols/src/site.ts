import { type Static, Type } from '@sinclair/typebox';
import { Id } from './records.js';
import { compile } from './validate.js';

/**
 * What on-site devices send to the gateway's local broker (topics in `site` of topics.ts) and what the gateway
 * answers. A device's QoS 1 publish gets its PUBACK only after the record is in the outbox: that PUBACK is the
 * acceptance. Line-oriented readers (TCP, serial) use the line forms below.
 */
export const ParkingReading = Type.Object(
  {
    occ: Type.Boolean(),
    bat: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    rssi: Type.Optional(Type.Number({ minimum: -150, maximum: 20 })),
    fcnt: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 4_294_967_295,
        description: "the sensor's frame counter (as LoRaWAN's FCnt): +1 per new reading; a resent frame keeps it",
      }),
    ),
  },
  { additionalProperties: false },
);
export type ParkingReading = Static<typeof ParkingReading>;

export const ScanRequest = Type.Object(
  {
    code: Type.String({ minLength: 1, maxLength: 128 }),
    crew: Type.Optional(Id),
    kg: Type.Optional(Type.Number({ minimum: 0, maximum: 2000 })),
    grade: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
    full: Type.Optional(Type.Boolean({ description: 'the crew reports the bin full (no pickup)' })),
  },
  { additionalProperties: false },
);
export type ScanRequest = Static<typeof ScanRequest>;

export const SCAN_RESULTS = ['recorded', 'duplicate', 'unknown', 'rejected'] as const;
export type ScanResult = (typeof SCAN_RESULTS)[number];
export const ScanAnswer = Type.Object({
  code: Type.String(),
  result: Type.Union(SCAN_RESULTS.map((r) => Type.Literal(r))),
  reason: Type.Optional(Type.String()),
});
export type ScanAnswer = Static<typeof ScanAnswer>;

export const PassRequest = Type.Object(
  {
    code: Type.String({ minLength: 1, maxLength: 1024 }),
    dir: Type.Optional(Type.Union([Type.Literal('in'), Type.Literal('out')])),
    rid: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 4_294_967_295,
        description: "the reader's request id: new for each presentation, kept when the reader asks again for want of an answer",
      }),
    ),
  },
  { additionalProperties: false },
);
export type PassRequest = Static<typeof PassRequest>;
export const PassAnswer = Type.Object({
  result: Type.Union([Type.Literal('grant'), Type.Literal('deny')]),
  reason: Type.String(),
});
export type PassAnswer = Static<typeof PassAnswer>;

export const parkingReading = compile(ParkingReading);
export const scanRequest = compile(ScanRequest);
export const passRequest = compile(PassRequest);

/**
 * Line forms for TCP and serial readers: one request per line, one answer line per request.
 * Scanner: `CODE[;crew=ID][;kg=N][;grade=N][;full]`  →  `OK recorded` | `OK duplicate` | `NO unknown` | `NO rejected <reason>`
 * Pass reader: `[in|out ]QRTEXT[;rid=N]`             →  `GRANT <reason>` | `DENY <reason>`
 * (`;` is not in the base45 alphabet of a code, so the request id suffix cannot be part of one.)
 */
export function parseScanLine(line: string): ScanRequest | null {
  const parts = line.trim().split(';');
  const code = parts.shift()?.trim();
  if (!code) return null;
  const req: ScanRequest = { code };
  for (const p of parts) {
    const [key, val] = p.split('=', 2).map((s) => s.trim());
    if (key === 'crew' && val) req.crew = val;
    else if (key === 'kg' && val) req.kg = Number(val);
    else if (key === 'grade' && val) req.grade = Number(val);
    else if (key === 'full' && val === undefined) req.full = true;
    else return null;
  }
  return scanRequest.check(req) ? req : null;
}

export function formatScanAnswer(a: ScanAnswer): string {
  return a.result === 'recorded' || a.result === 'duplicate' ? `OK ${a.result}` : `NO ${a.result}${a.reason ? ` ${a.reason}` : ''}`;
}

export function parsePassLine(line: string): PassRequest | null {
  let t = line.trim();
  const r = /;rid=(\d{1,10})$/.exec(t);
  if (r) t = t.slice(0, r.index).trimEnd();
  const m = /^(in|out) (.+)$/.exec(t);
  const req: PassRequest = m ? { dir: m[1] as 'in' | 'out', code: m[2] as string } : { code: t };
  if (r) req.rid = Number(r[1]);
  return passRequest.check(req) ? req : null;
}

export function formatPassLine(req: PassRequest): string {
  return `${req.dir ? `${req.dir} ` : ''}${req.code}${req.rid !== undefined ? `;rid=${req.rid}` : ''}`;
}

export function formatPassAnswer(a: PassAnswer): string {
  return `${a.result.toUpperCase()} ${a.reason}`;
}

/** `site/alarm/{zone}`: a fire alarm panel reports its zone active or clear; gates of that zone release. */
export const AlarmMessage = Type.Object({ active: Type.Boolean() }, { additionalProperties: false });
export type AlarmMessage = Static<typeof AlarmMessage>;
export const alarmMessage = compile(AlarmMessage);
