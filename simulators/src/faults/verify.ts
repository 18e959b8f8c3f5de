/**
 * Counts what reached InfluxDB, to compare with what the simulated devices were told was accepted.
 * Uses the HTTP /query endpoint directly (always reading the whole body: InfluxDB 1.x sends 200 first).
 */
export async function influxCount(influxUrl: string, db: string, query: string): Promise<number> {
  const url = `${influxUrl.replace(/\/$/, '')}/query?db=${encodeURIComponent(db)}&q=${encodeURIComponent(query)}`;
  const res = await fetch(url);
  const body = (await res.json()) as {
    results?: { series?: { values?: unknown[][] }[]; error?: string }[];
    error?: string;
  };
  const r = body.results?.[0];
  if (body.error || r?.error) throw new Error(`influx query failed: ${body.error ?? r?.error}`);
  let total = 0;
  for (const s of r?.series ?? []) for (const v of s.values ?? []) total += Number(v[1] ?? 0);
  return total;
}

/** Exact-count verdict: lost = accepted but not stored, duplicated = stored more often than accepted. */
export function verdict(accepted: number, stored: number): { lost: number; duplicated: number } {
  return { lost: Math.max(0, accepted - stored), duplicated: Math.max(0, stored - accepted) };
}

/**
 * Verdict for devices whose requests may go unanswered (the gateway died after storing, before answering, and the
 * device gave up): an unanswered request may be stored once without being accepted. lost = accepted but not
 * stored; duplicated = stored beyond accepted + unanswered; unansweredStored = the stored extras it explains.
 */
export function verdictWithin(accepted: number, stored: number, unanswered: number): { lost: number; duplicated: number; unansweredStored: number } {
  const extra = stored - accepted;
  return { lost: Math.max(0, -extra), duplicated: Math.max(0, extra - unanswered), unansweredStored: Math.min(Math.max(0, extra), unanswered) };
}
