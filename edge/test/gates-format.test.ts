import { randomBytes } from 'node:crypto';
import {
  base45Decode,
  base45Encode,
  base64urlDecode,
  base64urlEncode,
  decodePass,
  encodePassBody,
  makeCode,
  parseCode,
  signPass,
} from '@hutong/protocols';
import { describe, expect, it } from 'vitest';
import { crypto, keyPair } from './services-helpers.js';

describe('pass wire format', () => {
  it('base45 follows RFC 9285 (its examples) and round-trips random bytes', () => {
    const enc = new TextEncoder();
    expect(base45Encode(enc.encode('AB'))).toBe('BB8');
    expect(base45Encode(enc.encode('Hello!!'))).toBe('%69 VD92EX0');
    expect(base45Encode(enc.encode('base-45'))).toBe('UJCLQE7W581');
    expect(new TextDecoder().decode(base45Decode('QED8WEX0') as Uint8Array)).toBe('ietf!');
    expect(base45Decode('GGW')).toBeNull(); // 65535 < value: not a 2-byte group
    expect(base45Decode('A')).toBeNull();
    expect(base45Decode('a00')).toBeNull(); // lowercase is not base45
    for (let n = 0; n < 300; n++) {
      const b = randomBytes(n);
      const t = base45Encode(b);
      expect(Buffer.from(base45Decode(t) as Uint8Array).equals(b)).toBe(true);
      // Never a trailing space, and codes start with "HT:": a reader that trims its lines cannot damage a code.
      expect(t).toBe(t.trimEnd());
      expect(Buffer.from(base64urlDecode(base64urlEncode(b)) as Uint8Array).equals(b)).toBe(true);
      expect(base64urlEncode(b)).toBe(b.toString('base64url'));
    }
  });

  it('encodes every field and refuses what it cannot encode', () => {
    const issuer = keyPair();
    const holder = keyPair();
    const body = {
      kid: 200,
      passId: '0123456789abcdef',
      holder: 'fedcba9876543210',
      compound: 'hutong-c1',
      gates: 0x80000001,
      validFrom: 1_800_000_000,
      validUntil: 1_800_003_600,
      type: 'delivery' as const,
      singleUse: true,
      holderKey: holder.publicKey,
    };
    const bytes = signPass(body, issuer.privateKey, crypto);
    expect(bytes.length).toBe(128 + body.compound.length);
    const p = decodePass(bytes)?.pass;
    expect(p).toMatchObject({ ...body, holderKey: expect.anything(), version: 1 });
    expect(Buffer.from(p?.holderKey as Uint8Array).equals(Buffer.from(holder.publicKey))).toBe(true);
    const code = makeCode(bytes, holder.privateKey, 1_800_000_015_000, crypto);
    expect(code.length).toBeLessThanOrEqual(311); // QR version 10-M, alphanumeric (docs/passes.md)
    expect(parseCode(code)?.step).toBe(60_000_000);
    expect(() => encodePassBody({ ...body, kid: 256 })).toThrow();
    expect(() => encodePassBody({ ...body, passId: 'xyz' })).toThrow();
    expect(() => encodePassBody({ ...body, compound: 'a/b' })).toThrow();
    expect(() => encodePassBody({ ...body, validUntil: 1 })).toThrow();
    expect(() => encodePassBody({ ...body, holderKey: new Uint8Array(31) })).toThrow();
    // Every truncation of a pass is garbled, never a crash.
    for (let i = 0; i < bytes.length; i++) expect(decodePass(bytes.subarray(0, i))).toBeNull();
  });
});
