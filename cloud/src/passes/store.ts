import { randomBytes } from 'node:crypto';
import { ALL_GATES, HutongError, isValidId, PASS_TYPES, type PassType, PROTOCOL_VERSION, type RevocationMessage, signPass } from '@hutong/protocols';
import { audit, type Db, type Queryable } from '../store/index.js';
import { newKeyPair, nodeCrypto, rawKey } from './crypto.js';
import { ensurePassesSchema } from './schema.js';

export interface IssuerKey {
  kid: number;
  publicKey: string;
  created: Date;
  retiredAt: Date | null;
}

export interface IssueInput {
  type: PassType;
  compound: string;
  /** Holder's Ed25519 public key (base64url, 32 bytes): the wallet keeps the private half. */
  holderKey: string;
  /** Pseudonym of an existing holder (a resident's second phone); a new one is made when absent. */
  holder?: string;
  /** Gate bit indexes at the compound; absent = every gate. */
  gates?: number[];
  validFrom: number;
  validUntil: number;
  singleUse: boolean;
}

export interface IssuedPass {
  passId: string;
  holder: string;
  kid: number;
  type: PassType;
  compound: string;
  validFrom: number;
  validUntil: number;
  singleUse: boolean;
  /** The pass bytes, base64url: what the wallet stores. */
  pass: string;
}

export interface PassRow {
  id: string;
  holder: string;
  compound: string;
  type: PassType;
  gates: number[] | null;
  valid_from: Date;
  valid_until: Date;
  single_use: boolean;
  kid: number;
  issued_by: string;
  issued_at: Date;
  revoked_version: number | null;
  revoked_at: Date | null;
}

const hex8 = (): string => randomBytes(8).toString('hex');

/** Issuer keys, issued passes and per-compound revocation lists in the relational store. */
export class PassStore {
  constructor(private readonly db: Db) {}

  async start(): Promise<void> {
    await ensurePassesSchema(this.db);
    const keys = await this.keys();
    if (!keys.some((k) => k.retiredAt === null)) await this.rotate('system');
  }

  async keys(): Promise<IssuerKey[]> {
    const rows = await this.db.query<{ kid: number; public_key: string; created: Date; retired_at: Date | null }>(
      'SELECT kid, public_key, created, retired_at FROM pass_issuer_keys ORDER BY created, kid',
    );
    return rows.map((r) => ({ kid: r.kid, publicKey: r.public_key, created: r.created, retiredAt: r.retired_at }));
  }

  /** Adds a new signing key; earlier keys keep verifying until retired. Key ids are reused only once retired. */
  async rotate(actor: string): Promise<IssuerKey> {
    return this.db.transaction(async (tx) => {
      await tx.query('LOCK TABLE pass_issuer_keys IN EXCLUSIVE MODE');
      const rows = await tx.query<{ kid: number; retired_at: Date | null }>('SELECT kid, retired_at FROM pass_issuer_keys');
      const live = new Set(rows.filter((r) => r.retired_at === null).map((r) => r.kid));
      const max = rows.reduce((m, r) => Math.max(m, r.kid), -1);
      let kid = max + 1;
      if (kid > 255) kid = [...Array(256).keys()].find((k) => !live.has(k)) ?? -1;
      if (kid < 0) throw new HutongError('E_FORBIDDEN', 'all 256 issuer key ids are in use: retire one first');
      const kp = newKeyPair();
      await tx.query('DELETE FROM pass_issuer_keys WHERE kid = $1', [kid]);
      const [row] = await tx.query<{ created: Date }>(
        'INSERT INTO pass_issuer_keys (kid, public_key, private_key) VALUES ($1, $2, $3) RETURNING created',
        [kid, kp.publicKey, kp.privateKey],
      );
      await audit(tx, actor, 'pass_key.rotate', `kid:${kid}`);
      return { kid, publicKey: kp.publicKey, created: row?.created ?? new Date(), retiredAt: null };
    });
  }

  async retire(kid: number, actor: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const live = await tx.query<{ kid: number }>('SELECT kid FROM pass_issuer_keys WHERE retired_at IS NULL');
      if (live.length <= 1 && live.some((k) => k.kid === kid)) {
        throw new HutongError('E_FORBIDDEN', 'cannot retire the only active issuer key: rotate first');
      }
      const r = await tx.query('UPDATE pass_issuer_keys SET retired_at = now() WHERE kid = $1 AND retired_at IS NULL RETURNING kid', [kid]);
      if (r.length > 0) await audit(tx, actor, 'pass_key.retire', `kid:${kid}`);
      return r.length > 0;
    });
  }

  async issue(input: IssueInput, actor: string): Promise<IssuedPass> {
    if (!PASS_TYPES.includes(input.type)) throw new HutongError('E_SCHEMA', `bad pass type ${input.type}`);
    if (!isValidId(input.compound)) throw new HutongError('E_SCHEMA', 'bad compound id');
    if (input.holder !== undefined && !/^[0-9a-f]{16}$/.test(input.holder)) throw new HutongError('E_SCHEMA', 'holder must be 16 hex chars');
    let gates = ALL_GATES;
    if (input.gates) {
      gates = 0;
      for (const b of input.gates) {
        if (!Number.isInteger(b) || b < 0 || b > 31) throw new HutongError('E_SCHEMA', 'gate bits are 0..31');
        gates = (gates | (1 << b)) >>> 0;
      }
    }
    const holderKey = rawKey(input.holderKey);
    const [key] = await this.db.query<{ kid: number; private_key: string }>(
      'SELECT kid, private_key FROM pass_issuer_keys WHERE retired_at IS NULL ORDER BY created DESC, kid DESC LIMIT 1',
    );
    if (!key) throw new HutongError('E_CONFIG', 'no active issuer key');
    const passId = hex8();
    const holder = input.holder ?? hex8();
    const bytes = signPass(
      {
        kid: key.kid,
        passId,
        holder,
        compound: input.compound,
        gates,
        validFrom: input.validFrom,
        validUntil: input.validUntil,
        type: input.type,
        singleUse: input.singleUse,
        holderKey,
      },
      rawKey(key.private_key),
      nodeCrypto,
    );
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO passes (id, holder, compound, type, gates, valid_from, valid_until, single_use, kid, issued_by)
         VALUES ($1, $2, $3, $4, $5, to_timestamp($6), to_timestamp($7), $8, $9, $10)`,
        [passId, holder, input.compound, input.type, input.gates ? JSON.stringify(input.gates) : null, input.validFrom, input.validUntil, input.singleUse, key.kid, actor],
      );
      await audit(tx, actor, 'pass.issue', `pass:${passId}`, { type: input.type, compound: input.compound, holder });
    });
    return {
      passId,
      holder,
      kid: key.kid,
      type: input.type,
      compound: input.compound,
      validFrom: input.validFrom,
      validUntil: input.validUntil,
      singleUse: input.singleUse,
      pass: Buffer.from(bytes).toString('base64url'),
    };
  }

  async get(passId: string): Promise<PassRow | undefined> {
    const [row] = await this.db.query<PassRow>('SELECT * FROM passes WHERE id = $1', [passId]);
    return row;
  }

  /** Puts a pass on its compound's list; returns the new list version (unchanged if it was already revoked). */
  async revoke(passId: string, actor: string): Promise<{ compound: string; version: number; changed: boolean } | undefined> {
    return this.db.transaction(async (tx) => {
      const [p] = await tx.query<{ compound: string; revoked_version: number | null }>(
        'SELECT compound, revoked_version FROM passes WHERE id = $1 FOR UPDATE',
        [passId],
      );
      if (!p) return undefined;
      if (p.revoked_version !== null) return { compound: p.compound, version: await this.versionOf(tx, p.compound), changed: false };
      const version = await this.bump(tx, p.compound);
      await tx.query('UPDATE passes SET revoked_version = $2, revoked_at = now() WHERE id = $1', [passId, version]);
      await audit(tx, actor, 'pass.revoke', `pass:${passId}`, { version });
      return { compound: p.compound, version, changed: true };
    });
  }

  /**
   * Takes revoked passes that expired more than `marginS` ago off their lists (a gateway refuses them as expired
   * anyway), keeping the lists bounded. Returns the compounds whose version moved, with the new version.
   */
  async purgeExpired(nowS: number, marginS = 86_400): Promise<Array<{ compound: string; version: number }>> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.query<{ compound: string }>(
        `SELECT DISTINCT compound FROM passes WHERE revoked_version IS NOT NULL AND removed_version IS NULL
           AND valid_until < to_timestamp($1)`,
        [nowS - marginS],
      );
      const out: Array<{ compound: string; version: number }> = [];
      for (const { compound } of rows) {
        const version = await this.bump(tx, compound);
        await tx.query(
          `UPDATE passes SET removed_version = $2 WHERE compound = $1 AND revoked_version IS NOT NULL
             AND removed_version IS NULL AND valid_until < to_timestamp($3)`,
          [compound, version, nowS - marginS],
        );
        out.push({ compound, version });
      }
      return out;
    });
  }

  async version(compound: string): Promise<number> {
    return this.versionOf(this.db, compound);
  }

  /**
   * The compound's list as messages of at most `chunk` ids. Full: the first message replaces (full, 0→V), the rest
   * add to the same version (V→V). Incremental from `from`: what changed since, or a full list if `from` is not a
   * version this compound had (ahead of it).
   */
  async revocations(compound: string, from: number | undefined, chunk = 8000): Promise<RevocationMessage[]> {
    const to = await this.version(compound);
    if (from !== undefined && from <= to) {
      const add = await this.db.query<{ id: string }>(
        'SELECT id FROM passes WHERE compound = $1 AND revoked_version > $2 AND removed_version IS NULL ORDER BY id',
        [compound, from],
      );
      const remove = await this.db.query<{ id: string }>(
        'SELECT id FROM passes WHERE compound = $1 AND removed_version > $2 AND revoked_version <= $2 ORDER BY id',
        [compound, from],
      );
      return split(from, to, false, add.map((r) => r.id), remove.map((r) => r.id), chunk);
    }
    const all = await this.db.query<{ id: string }>(
      'SELECT id FROM passes WHERE compound = $1 AND revoked_version IS NOT NULL AND removed_version IS NULL ORDER BY id',
      [compound],
    );
    return split(0, to, true, all.map((r) => r.id), [], chunk);
  }

  private async versionOf(q: Queryable, compound: string): Promise<number> {
    const [r] = await q.query<{ version: number }>('SELECT version FROM pass_revocation_versions WHERE compound = $1', [compound]);
    return r?.version ?? 0;
  }

  private async bump(tx: Queryable, compound: string): Promise<number> {
    const [r] = await tx.query<{ version: number }>(
      `INSERT INTO pass_revocation_versions (compound, version) VALUES ($1, 1)
       ON CONFLICT (compound) DO UPDATE SET version = pass_revocation_versions.version + 1 RETURNING version`,
      [compound],
    );
    return r?.version ?? 1;
  }
}

function split(from: number, to: number, full: boolean, add: string[], remove: string[], chunk: number): RevocationMessage[] {
  const out: RevocationMessage[] = [];
  const n = Math.max(1, Math.ceil(add.length / chunk), Math.ceil(remove.length / chunk));
  for (let i = 0; i < n; i++) {
    out.push({
      v: PROTOCOL_VERSION,
      // The first message moves the version; the later ones add to it (from === to).
      from: i === 0 ? from : to,
      to,
      full: full && i === 0,
      add: add.slice(i * chunk, (i + 1) * chunk),
      remove: remove.slice(i * chunk, (i + 1) * chunk),
    });
  }
  return out;
}
