import type { Queryable } from '../store/index.js';

/**
 * Tables of the pass issuer. Created idempotently when the pass service starts, so this feature needs no step in
 * the shared migration list; the statements are plain PostgreSQL and run the same on PGlite.
 *
 * - pass_issuer_keys: Ed25519 issuer keys by key id. The newest unretired key signs; every unretired key verifies
 *   (rotation: add a key, let old passes run out, retire the old key).
 * - passes: what was issued, with no personal data (holder = pseudonym).
 * - pass_revocation_versions: one counter per compound; every revocation (or purge) bumps it.
 *   A pass is on its compound's list from `revoked_version` until `removed_version` (purged after it expired).
 */
export const PASSES_SCHEMA = `
CREATE TABLE IF NOT EXISTS pass_issuer_keys (
  kid integer PRIMARY KEY CHECK (kid BETWEEN 0 AND 255),
  public_key text NOT NULL,
  private_key text NOT NULL,
  created timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz
);
CREATE TABLE IF NOT EXISTS passes (
  id text PRIMARY KEY,
  holder text NOT NULL,
  compound text NOT NULL,
  type text NOT NULL CHECK (type IN ('resident', 'visitor', 'worker', 'delivery')),
  gates jsonb,
  valid_from timestamptz NOT NULL,
  valid_until timestamptz NOT NULL,
  single_use boolean NOT NULL DEFAULT false,
  kid integer NOT NULL,
  issued_by text NOT NULL,
  issued_at timestamptz NOT NULL DEFAULT now(),
  revoked_version integer,
  revoked_at timestamptz,
  removed_version integer
);
CREATE INDEX IF NOT EXISTS passes_compound_revoked ON passes (compound, revoked_version);
CREATE TABLE IF NOT EXISTS pass_revocation_versions (
  compound text PRIMARY KEY,
  version integer NOT NULL
);
`;

export async function ensurePassesSchema(q: Queryable): Promise<void> {
  await q.exec(PASSES_SCHEMA);
}
