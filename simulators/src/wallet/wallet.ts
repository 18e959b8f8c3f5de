import { createPrivateKey, generateKeyPairSync, sign, verify, createPublicKey } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import {
  base64urlDecode,
  base64urlEncode,
  decodePass,
  makeCode,
  type Pass,
  type PassCrypto,
  STEP_SECONDS,
  timeStep,
} from '@hutong/protocols';

/**
 * A holder's wallet: the holder's Ed25519 key (generated here, never leaves the phone) and the pass the cloud
 * issued for its public half. `code(now)` is what the phone shows as a QR code; it changes every 30 s.
 */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export const walletCrypto: PassCrypto = {
  verify(publicKey, message, signature) {
    try {
      const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
      return verify(null, message, key, signature);
    } catch {
      return false;
    }
  },
  sign(privateKey, message) {
    const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
    return new Uint8Array(sign(null, message, key));
  },
};

export interface WalletFile {
  /** Holder public key, base64url (send this to the issuer). */
  holderKey: string;
  /** Holder private key seed, base64url. */
  secret: string;
  /** Issued pass bytes, base64url. */
  pass?: string;
}

export class Wallet {
  private constructor(private readonly data: WalletFile) {}

  static create(): Wallet {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    return new Wallet({ holderKey: publicKey.export({ format: 'jwk' }).x as string, secret: privateKey.export({ format: 'jwk' }).d as string });
  }

  static from(data: WalletFile): Wallet {
    if (base64urlDecode(data.holderKey)?.length !== 32 || base64urlDecode(data.secret)?.length !== 32) {
      throw new TypeError('wallet file: holderKey and secret must be 32-byte base64url keys');
    }
    const w = new Wallet({ ...data });
    if (data.pass) w.setPass(data.pass);
    return w;
  }

  static async load(file: string): Promise<Wallet> {
    return Wallet.from(JSON.parse(await readFile(file, 'utf8')) as WalletFile);
  }

  async save(file: string): Promise<void> {
    await writeFile(`${file}.tmp`, JSON.stringify(this.data, null, 2), { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }

  get holderKey(): string {
    return this.data.holderKey;
  }

  /** Stores an issued pass after checking it names this wallet's key. */
  setPass(passB64: string): Pass {
    const bytes = base64urlDecode(passB64);
    const d = bytes ? decodePass(bytes) : null;
    if (!d || d.end !== bytes?.length) throw new TypeError('not a pass');
    if (base64urlEncode(d.pass.holderKey) !== this.data.holderKey) throw new TypeError('the pass was issued for another holder key');
    this.data.pass = passB64;
    return d.pass;
  }

  pass(): Pass | undefined {
    const bytes = this.data.pass ? base64urlDecode(this.data.pass) : null;
    return bytes ? decodePass(bytes)?.pass : undefined;
  }

  /** The QR text at `nowMs`, and until when it is the current one. */
  code(nowMs = Date.now()): { text: string; until: number } {
    const bytes = this.data.pass ? base64urlDecode(this.data.pass) : null;
    if (!bytes) throw new Error('no pass in this wallet: import one first');
    const secret = base64urlDecode(this.data.secret) as Uint8Array;
    return { text: makeCode(bytes, secret, nowMs, walletCrypto), until: (timeStep(nowMs) + 1) * STEP_SECONDS * 1000 };
  }
}
