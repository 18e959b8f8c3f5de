import type { Logger } from 'pino';

/**
 * Warn about rejections without letting a misbehaving gateway flood the log: at most one line per code per
 * interval; the next line says how many were suppressed in between. The counters keep the exact numbers.
 */
export class RateLimitedWarn {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(code: string, ctx: Record<string, unknown>, msg: string): void {
    const t = this.now();
    const e = this.last.get(code);
    if (e && t - e.at < this.intervalMs) {
      e.suppressed++;
      return;
    }
    this.logger.warn({ code, ...ctx, suppressed: e?.suppressed ?? 0 }, msg);
    this.last.set(code, { at: t, suppressed: 0 });
  }
}
