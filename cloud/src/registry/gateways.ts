import { HutongError, isValidId } from '@hutong/protocols';
import type { Logger } from 'pino';
import type { Db } from '../store/index.js';
import { audit } from '../store/index.js';
import {
  DEFAULT_SCRYPT,
  enrolmentCode,
  hashPassword,
  mosquittoHash,
  normaliseCode,
  type PasswordHash,
  randomSecret,
  type ScryptParams,
  sha256,
  verifyPassword,
} from './secrets.js';

/**
 * Gateways and their MQTT credentials. A gateway's MQTT username is its id (so broker ACL patterns can use
 * `%u`); its secret is random, shown once (at enrolment), and kept only as a hash. Enrolling again replaces the
 * previous credential (it is revoked), so a stolen old secret stops working.
 */
export interface Gateway {
  id: string;
  name: string;
  compound: string;
  grid: string | null;
  created: Date;
}

export interface GatewayInput {
  id: string;
  name: string;
  compound: string;
  grid?: string | null;
}

export interface IssuedCredential {
  gateway: string;
  username: string;
  password: string;
}

export type VerifyResult = { ok: true; gateway: string } | { ok: false; code: 'E_AUTH' | 'E_REVOKED_CREDENTIAL' };

export interface GatewayRegistryOptions {
  db: Db;
  logger: Logger;
  scrypt?: ScryptParams;
  /** How long a successful verification is remembered (bounds how stale a revocation made elsewhere can be). */
  verifyCacheMs?: number;
  now?: () => number;
}

interface CredRow {
  id: number;
  gateway: string;
  hash: string;
  salt: string;
  params: ScryptParams;
  revoked_at: Date | null;
}

export class GatewayRegistry {
  private readonly db: Db;
  private readonly log: Logger;
  private readonly scrypt: ScryptParams;
  private readonly cacheMs: number;
  private readonly now: () => number;
  /** sha256(username NUL password) → gateway and expiry: reconnect storms cost one hash each, not one scrypt. */
  private readonly verified = new Map<string, { gateway: string; until: number }>();
  private readonly listeners = new Set<(gateway: string) => void>();

  constructor(o: GatewayRegistryOptions) {
    this.db = o.db;
    this.log = o.logger;
    this.scrypt = o.scrypt ?? DEFAULT_SCRYPT;
    this.cacheMs = o.verifyCacheMs ?? 60_000;
    this.now = o.now ?? Date.now;
  }

  /**
   * Called with the gateway id after any credential change (issue, revoke): brokers drop that gateway's live
   * sessions on revocation and the Mosquitto password file is rewritten.
   */
  onCredentialsChanged(fn: (gateway: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(gateway: string): void {
    for (const [k, v] of this.verified) if (v.gateway === gateway) this.verified.delete(k);
    for (const fn of this.listeners) {
      try {
        fn(gateway);
      } catch (e) {
        this.log.error({ err: e }, 'credentials listener failed');
      }
    }
  }

  async create(input: GatewayInput, actor: string): Promise<Gateway> {
    if (!isValidId(input.id)) throw new HutongError('E_SCHEMA', `invalid gateway id ${JSON.stringify(input.id)}`);
    return this.db.transaction(async (tx) => {
      const rows = await tx.query<Gateway>(
        'INSERT INTO gateways (id, name, compound, grid) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING RETURNING id, name, compound, grid, created',
        [input.id, input.name, input.compound, input.grid ?? null],
      );
      const g = rows[0];
      if (!g) throw new HutongError('E_SCHEMA', `gateway ${input.id} already exists`);
      await audit(tx, actor, 'gateway.create', `gateway:${g.id}`, { name: g.name, compound: g.compound, grid: g.grid });
      return g;
    });
  }

  async get(id: string): Promise<Gateway | undefined> {
    const rows = await this.db.query<Gateway>('SELECT id, name, compound, grid, created FROM gateways WHERE id = $1', [id]);
    return rows[0];
  }

  async list(): Promise<Gateway[]> {
    return this.db.query<Gateway>('SELECT id, name, compound, grid, created FROM gateways ORDER BY id');
  }

  /** Creates a one-time code for `gateway`, valid for `ttlMs`. Only its hash is stored; the code is returned once. */
  async createEnrolmentCode(gateway: string, actor: string, ttlMs: number): Promise<{ code: string; expiresAt: Date }> {
    const code = enrolmentCode();
    const expiresAt = new Date(this.now() + ttlMs);
    await this.db.transaction(async (tx) => {
      const g = await tx.query('SELECT id FROM gateways WHERE id = $1', [gateway]);
      if (g.length === 0) throw new HutongError('E_UNKNOWN_GATEWAY', gateway);
      await tx.query('INSERT INTO enrolment_codes (code_hash, gateway, created_by, expires_at) VALUES ($1, $2, $3, $4)', [
        sha256(normaliseCode(code)),
        gateway,
        actor,
        expiresAt,
      ]);
      await audit(tx, actor, 'enrolment.code', `gateway:${gateway}`, { expiresAt: expiresAt.toISOString() });
    });
    return { code, expiresAt };
  }

  /**
   * Exchanges a one-time code for the gateway's credential. Unknown, used, expired or another gateway's code are
   * all E_ENROLMENT_CODE (one answer, so a prober learns nothing). The code is consumed in the same transaction
   * that issues the credential, so two concurrent exchanges cannot both succeed.
   */
  async enrol(gateway: string, code: string): Promise<IssuedCredential> {
    const codeHash = sha256(normaliseCode(code));
    const password = randomSecret();
    const hashed = await hashPassword(password, this.scrypt);
    const brokerHash = mosquittoHash(password);
    const issued = await this.db.transaction(async (tx) => {
      const used = await tx.query<{ gateway: string }>(
        `UPDATE enrolment_codes SET used_at = $3
          WHERE code_hash = $1 AND gateway = $2 AND used_at IS NULL AND expires_at > $3
          RETURNING gateway`,
        [codeHash, gateway, new Date(this.now())],
      );
      if (used.length === 0) return undefined;
      await this.insertCredential(tx, gateway, hashed, brokerHash);
      await audit(tx, `gateway:${gateway}`, 'gateway.enrol', `gateway:${gateway}`, {});
      return { gateway, username: gateway, password };
    });
    if (!issued) {
      this.log.warn({ code: 'E_ENROLMENT_CODE', gateway }, 'enrolment refused');
      throw new HutongError('E_ENROLMENT_CODE');
    }
    this.changed(gateway);
    return issued;
  }

  /** Issues a credential directly (operator rotation, tests, fleet simulators), revoking the previous one. */
  async issueCredential(gateway: string, actor: string): Promise<IssuedCredential> {
    const password = randomSecret();
    const hashed = await hashPassword(password, this.scrypt);
    const brokerHash = mosquittoHash(password);
    await this.db.transaction(async (tx) => {
      const g = await tx.query('SELECT id FROM gateways WHERE id = $1', [gateway]);
      if (g.length === 0) throw new HutongError('E_UNKNOWN_GATEWAY', gateway);
      await this.insertCredential(tx, gateway, hashed, brokerHash);
      await audit(tx, actor, 'credential.issue', `gateway:${gateway}`, {});
    });
    this.changed(gateway);
    return { gateway, username: gateway, password };
  }

  private async insertCredential(tx: Pick<Db, 'query'>, gateway: string, h: PasswordHash, brokerHash: string): Promise<void> {
    const at = new Date(this.now());
    await tx.query('UPDATE gateway_credentials SET revoked_at = $2 WHERE gateway = $1 AND revoked_at IS NULL', [gateway, at]);
    await tx.query(
      'INSERT INTO gateway_credentials (gateway, username, hash, salt, params, broker_hash, created) VALUES ($1, $1, $2, $3, $4, $5, $6)',
      [gateway, h.hash, h.salt, JSON.stringify(h.params), brokerHash, at],
    );
  }

  /** Revokes every active credential of `gateway`; returns how many. Connected sessions are the broker's job. */
  async revoke(gateway: string, actor: string): Promise<number> {
    const n = await this.db.transaction(async (tx) => {
      const rows = await tx.query(
        'UPDATE gateway_credentials SET revoked_at = $2 WHERE gateway = $1 AND revoked_at IS NULL RETURNING id',
        [gateway, new Date(this.now())],
      );
      await audit(tx, actor, 'credential.revoke', `gateway:${gateway}`, { revoked: rows.length });
      return rows.length;
    });
    this.changed(gateway);
    return n;
  }

  /** Checks an MQTT username/password. Cached on success; a revoked secret answers E_REVOKED_CREDENTIAL. */
  async verify(username: string, password: string): Promise<VerifyResult> {
    const key = sha256(`${username}\u0000${password}`);
    const hit = this.verified.get(key);
    const t = this.now();
    if (hit && hit.until > t) return { ok: true, gateway: hit.gateway };
    if (hit) this.verified.delete(key);
    // Active first, then the most recent revoked ones (bounded so an old gateway's history costs little).
    const rows = await this.db.query<CredRow>(
      `SELECT id, gateway, hash, salt, params, revoked_at FROM gateway_credentials
        WHERE username = $1 ORDER BY (revoked_at IS NULL) DESC, id DESC LIMIT 4`,
      [username],
    );
    for (const r of rows) {
      if (await verifyPassword(password, r)) {
        if (r.revoked_at) return { ok: false, code: 'E_REVOKED_CREDENTIAL' };
        if (this.verified.size > 10_000) this.verified.clear();
        this.verified.set(key, { gateway: r.gateway, until: t + this.cacheMs });
        return { ok: true, gateway: r.gateway };
      }
    }
    return { ok: false, code: 'E_AUTH' };
  }

  /** Active credentials in Mosquitto's password-file form (`username:$7$...`). */
  async brokerPasswordLines(): Promise<string[]> {
    const rows = await this.db.query<{ username: string; broker_hash: string }>(
      'SELECT username, broker_hash FROM gateway_credentials WHERE revoked_at IS NULL AND broker_hash IS NOT NULL ORDER BY username',
    );
    return rows.map((r) => `${r.username}:${r.broker_hash}`);
  }
}
