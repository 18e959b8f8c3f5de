import { HutongError, isValidId } from '@hutong/protocols';
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/index.js';
import { audit } from '../store/index.js';
import { DEFAULT_SCRYPT, hashPassword, type ScryptParams, sha256, verifyPassword } from './secrets.js';

/**
 * API users and their bearer tokens. Roles: operator (runs a district's grids: sees and manages gateways of
 * their grids, reads data), crew (reads bins and parking for their work), installer (registers gateways and
 * devices, creates enrolment codes). `grids` limits what an operator sees; `['*']` means every grid.
 * Tokens are random; only their sha256 is stored, with an expiry.
 */
export type Role = 'operator' | 'crew' | 'installer';
export const ROLES: readonly Role[] = ['operator', 'crew', 'installer'];

export interface User {
  name: string;
  role: Role;
  grids: string[];
}

export interface UserInput extends User {
  password: string;
}

export const ALL_GRIDS = '*';

/** May `user` see data of a gateway in `grid`? Data without a grid is visible to every role that may read it. */
export function userMaySeeGrid(user: User, grid: string | null | undefined): boolean {
  if (grid === null || grid === undefined) return true;
  if (user.role !== 'operator') return true;
  return user.grids.includes(ALL_GRIDS) || user.grids.includes(grid);
}

export class Users {
  private readonly db: Db;
  private readonly scrypt: ScryptParams;
  private readonly now: () => number;
  private readonly tokenTtlMs: number;
  /** Hash of a throwaway password, checked for unknown users so a login's timing does not reveal who exists. */
  private dummy: Awaited<ReturnType<typeof hashPassword>> | undefined;

  constructor(o: { db: Db; scrypt?: ScryptParams; now?: () => number; tokenTtlMs?: number }) {
    this.db = o.db;
    this.scrypt = o.scrypt ?? DEFAULT_SCRYPT;
    this.now = o.now ?? Date.now;
    this.tokenTtlMs = o.tokenTtlMs ?? 8 * 3600_000;
  }

  /** Creates or (with `replace`) updates a user. Seeding at startup never overwrites an existing user. */
  async put(u: UserInput, actor: string, replace = false): Promise<boolean> {
    if (!isValidId(u.name)) throw new HutongError('E_SCHEMA', `invalid user name ${JSON.stringify(u.name)}`);
    if (!ROLES.includes(u.role)) throw new HutongError('E_SCHEMA', `invalid role ${u.role}`);
    if (u.password.length < 10) throw new HutongError('E_SCHEMA', 'password shorter than 10 characters');
    const h = await hashPassword(u.password, this.scrypt);
    return this.db.transaction(async (tx) => {
      const rows = await tx.query(
        `INSERT INTO users (name, role, hash, salt, params, grids) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (name) DO ${replace ? 'UPDATE SET role = EXCLUDED.role, hash = EXCLUDED.hash, salt = EXCLUDED.salt, params = EXCLUDED.params, grids = EXCLUDED.grids' : 'NOTHING'}
         RETURNING name`,
        [u.name, u.role, h.hash, h.salt, JSON.stringify(h.params), JSON.stringify(u.grids)],
      );
      if (rows.length === 0) return false;
      if (replace) await tx.query('DELETE FROM tokens WHERE username = $1', [u.name]);
      await audit(tx, actor, replace ? 'user.put' : 'user.create', `user:${u.name}`, { role: u.role, grids: u.grids });
      return true;
    });
  }

  async get(name: string): Promise<User | undefined> {
    const r = await this.db.query<User>('SELECT name, role, grids FROM users WHERE name = $1', [name]);
    return r[0];
  }

  async list(): Promise<User[]> {
    return this.db.query<User>('SELECT name, role, grids FROM users ORDER BY name');
  }

  /** Checks a password and issues a token; bad name or password are one error (E_AUTH). */
  async login(name: string, password: string): Promise<{ token: string; expiresAt: Date; user: User }> {
    const rows = await this.db.query<User & { hash: string; salt: string; params: ScryptParams }>(
      'SELECT name, role, grids, hash, salt, params FROM users WHERE name = $1',
      [name],
    );
    const row = rows[0];
    if (!row) {
      this.dummy ??= await hashPassword('not-a-user-password', this.scrypt);
      await verifyPassword(password, this.dummy);
      throw new HutongError('E_AUTH');
    }
    if (!(await verifyPassword(password, row))) throw new HutongError('E_AUTH');
    const token = randomBytes(32).toString('base64url');
    const at = this.now();
    const expiresAt = new Date(at + this.tokenTtlMs);
    await this.db.query('INSERT INTO tokens (token_hash, username, created, expires_at) VALUES ($1, $2, $3, $4)', [
      sha256(token),
      row.name,
      new Date(at),
      expiresAt,
    ]);
    // Expired tokens are useless; drop them now and then rather than on a timer.
    await this.db.query('DELETE FROM tokens WHERE expires_at < $1', [new Date(at - 86_400_000)]);
    return { token, expiresAt, user: { name: row.name, role: row.role, grids: row.grids } };
  }

  /** The user of a valid, unexpired token, or undefined. */
  async authenticate(token: string): Promise<User | undefined> {
    const rows = await this.db.query<User>(
      `SELECT u.name, u.role, u.grids FROM tokens t JOIN users u ON u.name = t.username
        WHERE t.token_hash = $1 AND t.expires_at > $2`,
      [sha256(token), new Date(this.now())],
    );
    return rows[0];
  }

  async logout(token: string): Promise<void> {
    await this.db.query('DELETE FROM tokens WHERE token_hash = $1', [sha256(token)]);
  }
}
