import type { Db } from './db.js';

/**
 * Versioned schema migrations, applied in order, each in its own transaction and recorded in
 * `schema_migrations`. Never edit a released migration: add the next one. An advisory lock keeps two cloud
 * processes starting against one PostgreSQL from applying the same step twice.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'registry, users, audit',
    sql: `
CREATE TABLE gateways (
  id text PRIMARY KEY,
  name text NOT NULL,
  compound text NOT NULL,
  grid text,
  created timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE gateway_credentials (
  id serial PRIMARY KEY,
  gateway text NOT NULL REFERENCES gateways(id) ON DELETE CASCADE,
  username text NOT NULL,
  hash text NOT NULL,
  salt text NOT NULL,
  params jsonb NOT NULL,
  created timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX gateway_credentials_username ON gateway_credentials (username);
CREATE TABLE enrolment_codes (
  code_hash text PRIMARY KEY,
  gateway text NOT NULL REFERENCES gateways(id) ON DELETE CASCADE,
  created_by text NOT NULL,
  created timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE TABLE devices (
  gateway text NOT NULL REFERENCES gateways(id) ON DELETE CASCADE,
  id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('scanner', 'parking', 'reader', 'camera', 'gateway')),
  attrs jsonb NOT NULL DEFAULT '{}'::jsonb,
  updated timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (gateway, id)
);
CREATE TABLE users (
  name text PRIMARY KEY,
  role text NOT NULL CHECK (role IN ('operator', 'crew', 'installer')),
  hash text NOT NULL,
  salt text NOT NULL,
  params jsonb NOT NULL,
  grids jsonb NOT NULL DEFAULT '[]'::jsonb,
  created timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE tokens (
  token_hash text PRIMARY KEY,
  username text NOT NULL REFERENCES users(name) ON DELETE CASCADE,
  created timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE TABLE audit_log (
  id serial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  action text NOT NULL,
  target text NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TABLE presence (
  gateway text PRIMARY KEY REFERENCES gateways(id) ON DELETE CASCADE,
  last_seen timestamptz,
  online boolean NOT NULL DEFAULT false,
  changed timestamptz
);
`,
  },
  {
    version: 2,
    name: 'broker password hash for an external Mosquitto',
    sql: 'ALTER TABLE gateway_credentials ADD COLUMN broker_hash text;',
  },
];

const LOCK_KEY = 7_466_001; // arbitrary, fixed: the migration lock of this schema

export async function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`);
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    const did = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
      const have = await tx.query<{ version: number }>('SELECT version FROM schema_migrations WHERE version = $1', [m.version]);
      if (have.length > 0) return false;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (did) applied.push(m.version);
  }
  return applied;
}

export async function schemaVersion(db: Db): Promise<number> {
  const r = await db.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
  return r[0]?.v ?? 0;
}
