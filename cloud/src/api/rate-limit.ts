/**
 * A fixed-window counter per key (client address), for the unauthenticated endpoints that check secrets
 * (login, enrolment): enough to make online guessing of a password or a one-time code hopeless. Bounded:
 * the table is cleared when it grows past `maxKeys` (an attacker spraying addresses only resets windows).
 */
export class RateLimiter {
  private readonly hits = new Map<string, { start: number; n: number }>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 50_000,
  ) {}

  /** Counts one attempt; false when `key` is over its limit in the current window. */
  take(key: string): boolean {
    const t = this.now();
    let e = this.hits.get(key);
    if (!e || t - e.start >= this.windowMs) {
      if (!e && this.hits.size >= this.maxKeys) this.hits.clear();
      e = { start: t, n: 0 };
      this.hits.set(key, e);
    }
    e.n++;
    return e.n <= this.limit;
  }
}
