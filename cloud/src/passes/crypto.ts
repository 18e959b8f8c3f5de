import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { base64urlDecode, type PassCrypto } from '@hutong/protocols';

/** Ed25519 through node:crypto for the issuer (RFC 8410 DER headers around the raw 32-byte keys). */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

const publicKeyObject = (raw: Uint8Array): KeyObject =>
  createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
const privateKeyObject = (seed: Uint8Array): KeyObject =>
  createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });

export const nodeCrypto: PassCrypto = {
  verify(publicKey, message, signature) {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    try {
      return verify(null, message, publicKeyObject(publicKey), signature);
    } catch {
      return false;
    }
  },
  sign(privateKey, message) {
    return new Uint8Array(sign(null, message, privateKeyObject(privateKey)));
  },
};

/** A fresh Ed25519 key pair as base64url raw keys (public 32 B, private seed 32 B). */
export function newKeyPair(): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicKey: publicKey.export({ format: 'jwk' }).x as string, privateKey: privateKey.export({ format: 'jwk' }).d as string };
}

export function rawKey(b64: string): Uint8Array {
  const k = base64urlDecode(b64);
  if (k?.length !== 32) throw new TypeError('not a 32-byte base64url key');
  return k as Uint8Array;
}
