import type { Logger } from 'pino';

export interface Part {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the agent's parts in order and stops them in reverse. A part that fails to start is logged and retried
 * with backoff, at most `maxRestarts` times per `windowMs` (then it stays down and is reported), so one broken
 * adapter never takes the gateway down. Parts marked `required` (the outbox) fail the whole start instead.
 */
export class Supervisor {
  private readonly started: Part[] = [];
  private readonly retries = new Map<string, number[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly down = new Set<string>();
  private stopping = false;

  constructor(
    private readonly logger: Logger,
    private readonly maxRestarts = 5,
    private readonly windowMs = 10 * 60_000,
    private readonly backoffMs = 1000,
  ) {}

  async start(part: Part, required = false): Promise<void> {
    try {
      await part.start();
      this.started.push(part);
      this.down.delete(part.name);
    } catch (err) {
      if (required) throw err;
      this.down.add(part.name);
      this.logger.error({ err, part: part.name }, 'part failed to start');
      this.scheduleRestart(part);
    }
  }

  /** A running part reported a fatal fault: stop it and start it again (counted against the cap). */
  async restart(part: Part, why: string): Promise<void> {
    if (this.stopping) return;
    this.logger.error({ part: part.name, why }, 'part failed: restarting');
    const i = this.started.indexOf(part);
    if (i >= 0) this.started.splice(i, 1);
    await part.stop().catch(() => {});
    this.down.add(part.name);
    this.scheduleRestart(part);
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const p of this.started.splice(0).reverse()) {
      try {
        await p.stop();
      } catch (err) {
        this.logger.error({ err, part: p.name }, 'part failed to stop');
      }
    }
  }

  counters(): Record<string, number> {
    let restarts = 0;
    for (const r of this.retries.values()) restarts += r.length;
    return { parts_running: this.started.length, parts_down: this.down.size, restarts };
  }

  downParts(): string[] {
    return [...this.down];
  }

  private scheduleRestart(part: Part): void {
    if (this.stopping) return;
    const now = Date.now();
    const recent = (this.retries.get(part.name) ?? []).filter((t) => now - t < this.windowMs);
    if (recent.length >= this.maxRestarts) {
      this.logger.error({ part: part.name, restarts: recent.length }, 'part keeps failing: left down until the next restart of the gateway');
      return;
    }
    recent.push(now);
    this.retries.set(part.name, recent);
    const delay = this.backoffMs * 2 ** (recent.length - 1);
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopping) this.start(part).catch(() => {});
    }, delay);
    t.unref();
    this.timers.add(t);
  }
}
