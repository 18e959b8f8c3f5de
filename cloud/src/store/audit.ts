import type { Queryable } from './db.js';

/** Who changed what, when. Every state-changing API call and registry action appends one row. */
export interface AuditEntry {
  at: Date;
  actor: string;
  action: string;
  target: string;
  detail: Record<string, unknown>;
}

export async function audit(
  q: Queryable,
  actor: string,
  action: string,
  target: string,
  detail: Record<string, unknown> = {},
): Promise<void> {
  await q.query('INSERT INTO audit_log (actor, action, target, detail) VALUES ($1, $2, $3, $4)', [
    actor,
    action,
    target,
    JSON.stringify(detail),
  ]);
}

export async function auditTail(q: Queryable, limit = 100, target?: string): Promise<AuditEntry[]> {
  const rows = target
    ? await q.query<AuditEntry>(
        'SELECT at, actor, action, target, detail FROM audit_log WHERE target = $1 ORDER BY id DESC LIMIT $2',
        [target, limit],
      )
    : await q.query<AuditEntry>('SELECT at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT $1', [limit]);
  return rows;
}
