import { createHash, pbkdf2Sync, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Password and secret handling. Secrets are random and shown once; at rest only a scrypt hash (node:crypto)
 * with its salt and cost parameters is kept, so the parameters can be raised later without breaking old rows.
 */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
  keylen: number;
}

/** Interactive-login strength (~50 ms on one core): the cost of a guess, paid once per connect thanks to the cache. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 16384, r: 8, p: 1, keylen: 32 };

export interface PasswordHash {
  hash: string;
  salt: string;
  params: ScryptParams;
}

function scryptAsync(secret: string, salt: Buffer, p: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, p.keylen, { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(secret: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<PasswordHash> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, params);
  return { hash: key.toString('base64'), salt: salt.toString('base64'), params };
}

export async function verifyPassword(secret: string, stored: PasswordHash): Promise<boolean> {
  const expected = Buffer.from(stored.hash, 'base64');
  const key = await scryptAsync(secret, Buffer.from(stored.salt, 'base64'), { ...stored.params, keylen: expected.length });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A random secret for a gateway or service account (URL-safe, 32 bytes of entropy). */
export const randomSecret = (bytes = 32): string => randomBytes(bytes).toString('base64url');

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Constant-time string compare (for service-account secrets held in memory). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Mosquitto's own password-file hash (`$7$iterations$salt$hash`, PBKDF2-SHA512), stored beside the scrypt hash
 * only so an external Mosquitto can check gateway credentials without the cloud ever keeping a plaintext.
 */
export const MOSQUITTO_ITERATIONS = 20_000;
export function mosquittoHash(secret: string, iterations = MOSQUITTO_ITERATIONS): string {
  const salt = randomBytes(12);
  const key = pbkdf2Sync(secret, salt, iterations, 64, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** One-time enrolment codes: 12 characters from an alphabet without look-alikes, shown as XXXX-XXXX-XXXX. */
const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTVWXYZ23456789';
export function enrolmentCode(): string {
  const bytes = randomBytes(12);
  let s = '';
  for (const b of bytes) s += CODE_ALPHABET[b % CODE_ALPHABET.length];
  return `${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8, 12)}`;
}
/** Case and dashes do not matter when a person types the code. */
export const normaliseCode = (code: string): string => code.toUpperCase().replace(/[^A-Z0-9]/g, '');
