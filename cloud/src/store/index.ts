import type { Db } from './db.js';
import { migrate } from './migrations.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';

export type { Db, Queryable } from './db.js';
export { audit, auditTail, type AuditEntry } from './audit.js';
export { MIGRATIONS, migrate, schemaVersion, type Migration } from './migrations.js';
export { openPglite } from './pglite.js';
export { openPostgres } from './postgres.js';

export interface StoreOptions {
  /** PostgreSQL connection URL; absent → embedded PGlite. */
  url?: string;
  /** PGlite data directory; absent (and no url) → in memory. */
  dataDir?: string;
}

/** Opens the configured engine and brings its schema up to date. */
export async function openStore(opts: StoreOptions): Promise<Db> {
  const db = opts.url ? await openPostgres(opts.url) : await openPglite(opts.dataDir);
  try {
    await migrate(db);
  } catch (e) {
    await db.close();
    throw e;
  }
  return db;
}
