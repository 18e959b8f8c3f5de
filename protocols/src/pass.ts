/**
 * Electronic gate passes (docs/passes.md). A pass is a compact binary blob signed by an issuer key of the cloud;
 * the holder's wallet shows it as a QR code together with a 30 s time step, signed by the holder's own key, so a
 * screenshot goes stale within a minute. Gateways verify everything offline.
 *
 * Pass bytes (big-endian):
 *   ver u8 | kid u8 | passId 8 B | holder 8 B | clen u8 | compound clen B (ASCII id) | gates u32 (bitmask) |
 *   validFrom u32 (unix s) | validUntil u32 (unix s) | type u4 + single-use flag bit 4 | holderKey 32 B |
 *   issuerSig 64 B (Ed25519 over every byte before it)
 * Code bytes: pass bytes | step u32 (unix s / 30) | holderSig 64 B (Ed25519 over pass bytes || step).
 * Code text:  "HT:" + base45(code bytes)  — base45 (RFC 9285) fits the QR alphanumeric mode.
 *
 * No Node imports: signatures go through the injected PassCrypto, so edge, cloud and the wallet all plug in
 * node:crypto's Ed25519.
 */
import { isValidId } from './ids.js';

export interface PassCrypto {
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  /** Only issuers and wallets sign. `privateKey` is the 32-byte Ed25519 seed. */
  sign?(privateKey: Uint8Array, message: Uint8Array): Uint8Array;
}

export const PASS_VERSION = 1;
export const CODE_PREFIX = 'HT:';
export const STEP_SECONDS = 30;
export const ALL_GATES = 0xffffffff;
export const PASS_TYPES = ['resident', 'visitor', 'worker', 'delivery'] as const;
export type PassType = (typeof PASS_TYPES)[number];

/** Every reason a gateway gives for a decision, in the order the checks run (docs/passes.md). */
export const PASS_DENY_REASONS = [
  'garbled',
  'unknown_key',
  'bad_issuer_sig',
  'bad_holder_sig',
  'stale',
  'replayed',
  'not_yet_valid',
  'expired',
  'wrong_gate',
  'revoked',
  'used',
  'passback',
] as const;
export type PassDenyReason = (typeof PASS_DENY_REASONS)[number];

export interface PassBody {
  kid: number;
  /** 16 lowercase hex chars (8 random bytes): what revocation lists name. */
  passId: string;
  /** Pseudonymous holder id, 16 lowercase hex chars; never a name. */
  holder: string;
  compound: string;
  /** Bit i set = gate with `bit: i` at the compound may open; ALL_GATES for every gate. */
  gates: number;
  validFrom: number;
  validUntil: number;
  type: PassType;
  singleUse: boolean;
  holderKey: Uint8Array;
}

export interface Pass extends PassBody {
  version: number;
  issuerSig: Uint8Array;
  /** The signed part (everything before the issuer signature). */
  signed: Uint8Array;
  /** The whole pass (signed part + issuer signature). */
  bytes: Uint8Array;
}

export interface PassCode {
  pass: Pass;
  step: number;
  holderSig: Uint8Array;
  /** pass bytes || step: what the holder signed. */
  signed: Uint8Array;
}

const HEX_RE = /^[0-9a-f]{16}$/;
const MAX_COMPOUND = 64;

function hexToBytes(hex: string, out: Uint8Array, at: number): void {
  for (let i = 0; i < hex.length / 2; i++) out[at + i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
}

function bytesToHex(b: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += (b[i] as number).toString(16).padStart(2, '0');
  return s;
}

function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

function getU32(b: Uint8Array, at: number): number {
  return (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number)) >>> 0;
}

/** The bytes the issuer signs. Throws TypeError on a body that cannot be encoded. */
export function encodePassBody(p: PassBody): Uint8Array {
  if (!Number.isInteger(p.kid) || p.kid < 0 || p.kid > 255) throw new TypeError('kid must be 0..255');
  if (!HEX_RE.test(p.passId) || !HEX_RE.test(p.holder)) throw new TypeError('passId and holder must be 16 hex chars');
  if (!isValidId(p.compound) || p.compound.length > MAX_COMPOUND) throw new TypeError('bad compound id');
  for (const v of [p.gates, p.validFrom, p.validUntil]) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new TypeError('gates and validity must be u32');
  }
  if (p.validUntil < p.validFrom) throw new TypeError('validUntil before validFrom');
  const t = PASS_TYPES.indexOf(p.type);
  if (t < 0) throw new TypeError(`bad pass type ${p.type}`);
  if (p.holderKey.length !== 32) throw new TypeError('holder key must be 32 bytes');
  const c = p.compound;
  const out = new Uint8Array(1 + 1 + 8 + 8 + 1 + c.length + 4 + 4 + 4 + 1 + 32);
  let o = 0;
  out[o++] = PASS_VERSION;
  out[o++] = p.kid;
  hexToBytes(p.passId, out, o);
  o += 8;
  hexToBytes(p.holder, out, o);
  o += 8;
  out[o++] = c.length;
  for (let i = 0; i < c.length; i++) out[o++] = c.charCodeAt(i);
  putU32(out, o, p.gates);
  o += 4;
  putU32(out, o, p.validFrom);
  o += 4;
  putU32(out, o, p.validUntil);
  o += 4;
  out[o++] = t | (p.singleUse ? 0x10 : 0);
  out.set(p.holderKey, o);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Issues a pass: body + Ed25519 signature by the issuer key `kid`. */
export function signPass(body: PassBody, issuerPrivateKey: Uint8Array, crypto: PassCrypto): Uint8Array {
  if (!crypto.sign) throw new TypeError('crypto cannot sign');
  const signed = encodePassBody(body);
  return concat(signed, crypto.sign(issuerPrivateKey, signed));
}

/** Parses pass bytes starting at `at`; returns the pass and where it ends, or null if garbled. No signature check. */
export function decodePass(b: Uint8Array, at = 0): { pass: Pass; end: number } | null {
  const fixed = 1 + 1 + 8 + 8 + 1;
  if (b.length < at + fixed) return null;
  let o = at;
  const version = b[o++] as number;
  if (version !== PASS_VERSION) return null;
  const kid = b[o++] as number;
  const passId = bytesToHex(b, o, o + 8);
  o += 8;
  const holder = bytesToHex(b, o, o + 8);
  o += 8;
  const clen = b[o++] as number;
  if (clen === 0 || clen > MAX_COMPOUND) return null;
  const signedEnd = o + clen + 4 + 4 + 4 + 1 + 32;
  const end = signedEnd + 64;
  if (b.length < end) return null;
  let compound = '';
  for (let i = 0; i < clen; i++) compound += String.fromCharCode(b[o + i] as number);
  if (!isValidId(compound)) return null;
  o += clen;
  const gates = getU32(b, o);
  const validFrom = getU32(b, o + 4);
  const validUntil = getU32(b, o + 8);
  const tf = b[o + 12] as number;
  o += 13;
  const type = PASS_TYPES[tf & 0x0f];
  if (!type || (tf & 0xe0) !== 0) return null;
  return {
    pass: {
      version,
      kid,
      passId,
      holder,
      compound,
      gates,
      validFrom,
      validUntil,
      type,
      singleUse: (tf & 0x10) !== 0,
      holderKey: b.subarray(o, o + 32),
      signed: b.subarray(at, signedEnd),
      issuerSig: b.subarray(signedEnd, end),
      bytes: b.subarray(at, end),
    },
    end,
  };
}

export function timeStep(unixMs: number): number {
  return Math.floor(unixMs / 1000 / STEP_SECONDS);
}

/** The text a wallet shows as a QR code at `unixMs`. */
export function makeCode(passBytes: Uint8Array, holderPrivateKey: Uint8Array, unixMs: number, crypto: PassCrypto): string {
  if (!crypto.sign) throw new TypeError('crypto cannot sign');
  const stepBytes = new Uint8Array(4);
  putU32(stepBytes, 0, timeStep(unixMs));
  const signed = concat(passBytes, stepBytes);
  return CODE_PREFIX + base45Encode(concat(signed, crypto.sign(holderPrivateKey, signed)));
}

/** Parses code text; null when it is garbled (wrong prefix, bad base45, bad layout, trailing bytes). */
export function parseCode(text: string): PassCode | null {
  if (!text.startsWith(CODE_PREFIX)) return null;
  const raw = base45Decode(text.slice(CODE_PREFIX.length));
  if (!raw) return null;
  const d = decodePass(raw);
  if (!d || raw.length !== d.end + 4 + 64) return null;
  return {
    pass: d.pass,
    step: getU32(raw, d.end),
    signed: raw.subarray(0, d.end + 4),
    holderSig: raw.subarray(d.end + 4),
  };
}

// ---- base45 (RFC 9285) -------------------------------------------------------------------------------------
const B45 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
const B45_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B45.length; i++) B45_INDEX[B45.charCodeAt(i)] = i;

export function base45Encode(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i + 1 < b.length; i += 2) {
    let v = (b[i] as number) * 256 + (b[i + 1] as number);
    const c = v % 45;
    v = (v - c) / 45;
    s += B45.charAt(c) + B45.charAt(v % 45) + B45.charAt(Math.floor(v / 45));
  }
  if (b.length % 2 === 1) {
    const v = b[b.length - 1] as number;
    s += B45.charAt(v % 45) + B45.charAt(Math.floor(v / 45));
  }
  return s;
}

export function base45Decode(s: string): Uint8Array | null {
  if (s.length % 3 === 1) return null;
  const out = new Uint8Array(Math.floor(s.length / 3) * 2 + (s.length % 3 === 2 ? 1 : 0));
  let o = 0;
  const val = (i: number): number => {
    const c = s.charCodeAt(i);
    return c < 128 ? (B45_INDEX[c] as number) : -1;
  };
  for (let i = 0; i < s.length; i += 3) {
    const a = val(i);
    const b = val(i + 1);
    if (a < 0 || b < 0) return null;
    if (i + 2 < s.length) {
      const c = val(i + 2);
      if (c < 0) return null;
      const v = a + b * 45 + c * 2025;
      if (v > 0xffff) return null;
      out[o++] = v >> 8;
      out[o++] = v & 0xff;
    } else {
      const v = a + b * 45;
      if (v > 0xff) return null;
      out[o++] = v;
    }
  }
  return out;
}

// ---- base64url (keys and pass blobs in JSON) ---------------------------------------------------------------
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

export function base64urlEncode(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = ((b[i] as number) << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s += B64.charAt((n >> 18) & 63) + B64.charAt((n >> 12) & 63);
    if (i + 1 < b.length) s += B64.charAt((n >> 6) & 63);
    if (i + 2 < b.length) s += B64.charAt(n & 63);
  }
  return s;
}

export function base64urlDecode(s: string): Uint8Array | null {
  if (s.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? (B64_INDEX[c] as number) : -1;
    if (v < 0) return null;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}
