import pg from 'pg';
import type { Db, Queryable } from './db.js';

/** PostgreSQL server via `pg`: a small pool; a transaction holds one client from BEGIN to COMMIT/ROLLBACK. */
export async function openPostgres(url: string, poolSize = 5): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle client's socket error must not take the process down; the next query reconnects.
  pool.on('error', () => {});
  // Fail at open, not at first use, when the server is unreachable.
  const probe = await pool.connect();
  probe.release();
  const on = (c: pg.Pool | pg.PoolClient): Queryable => ({
    async query<T>(sql: string, params?: unknown[]) {
      const r = await c.query(sql, params);
      return r.rows as T[];
    },
    async exec(sql: string) {
      await c.query(sql);
    },
  });
  const top = on(pool);
  let closed = false;
  return {
    engine: 'postgres',
    query: top.query,
    exec: top.exec,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const out = await fn(on(client));
        await client.query('COMMIT');
        return out;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw e;
      } finally {
        client.release();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
