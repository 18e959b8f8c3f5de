import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import type { PassCrypto } from '@hutong/protocols';

/**
 * Ed25519 for pass verification through node:crypto. Raw 32-byte keys are wrapped in their fixed DER headers
 * (RFC 8410). Issuer keys are few and used on every scan, so their KeyObjects are cached; holder keys change
 * per pass and are built on the fly (the cache is bounded so a flood of passes cannot grow it).
 */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function ed25519PrivateKey(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

export function nodePassCrypto(cacheSize = 64): PassCrypto {
  const cache = new Map<string, KeyObject>();
  const keyOf = (raw: Uint8Array): KeyObject => {
    const k = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
    let key = cache.get(k);
    if (!key) {
      key = ed25519PublicKey(raw);
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string);
      cache.set(k, key);
    }
    return key;
  };
  return {
    verify(publicKey, message, signature) {
      if (publicKey.length !== 32 || signature.length !== 64) return false;
      try {
        return verify(null, message, keyOf(publicKey), signature);
      } catch {
        return false;
      }
    },
    sign(privateKey, message) {
      return new Uint8Array(sign(null, message, ed25519PrivateKey(privateKey)));
    },
  };
}
