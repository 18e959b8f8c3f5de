/**
 * The relational store seen by the rest of the cloud: one SQL dialect (PostgreSQL, `$1` parameters) whether
 * the engine is the embedded PGlite or a PostgreSQL server. Timestamps are `timestamptz` (both engines hand
 * back `Date`), JSON is `jsonb` (both hand back parsed values), and counters are `integer` (never `bigint`,
 * which `pg` returns as a string).
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs one or more statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** 'pglite' or 'postgres', for /health and logs. */
  readonly engine: 'pglite' | 'postgres';
}
