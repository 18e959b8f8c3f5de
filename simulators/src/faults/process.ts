import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import readline from 'node:readline';

/**
 * Runs a Hutong process (cloud or edge agent) as a child, for faults that need a real process boundary:
 * `kill('SIGKILL')` is a power loss, `restart()` brings it back with the same config and data dir.
 * Its pino JSON lines are kept (bounded) so a test can wait for a log message or read error codes.
 */
export interface ChildSpec {
  name: string;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class ManagedProcess {
  private child: ChildProcess | undefined;
  readonly lines: Record<string, unknown>[] = [];
  private readonly waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: () => void }[] = [];
  exits = 0;

  constructor(private readonly spec: ChildSpec) {}

  start(): void {
    const child = spawn(this.spec.cmd, this.spec.args, {
      cwd: this.spec.cwd,
      env: { ...process.env, ...this.spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const onLine = (raw: string) => {
      let l: Record<string, unknown>;
      try {
        l = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        l = { msg: raw, raw: true };
      }
      if (this.lines.length > 20_000) this.lines.splice(0, 10_000);
      this.lines.push(l);
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const w = this.waiters[i];
        if (w?.pred(l)) {
          this.waiters.splice(i, 1);
          w.resolve();
        }
      }
      if (process.env.HUTONG_CHILD_LOGS) process.stderr.write(`[${this.spec.name}] ${raw}\n`);
    };
    if (child.stdout) readline.createInterface({ input: child.stdout }).on('line', onLine);
    if (child.stderr) readline.createInterface({ input: child.stderr }).on('line', onLine);
    child.on('exit', () => {
      this.exits++;
    });
  }

  /** Resolves when a log line matches, or rejects after `timeoutMs`. */
  waitForLine(pred: (l: Record<string, unknown>) => boolean, timeoutMs = 60_000): Promise<void> {
    if (this.lines.some(pred)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const tail = this.lines.slice(-6).map((l) => JSON.stringify(l).slice(0, 300));
        reject(new Error(`${this.spec.name}: no matching log line in ${timeoutMs} ms (running: ${this.running}); last lines:\n${tail.join('\n')}`));
      }, timeoutMs);
      this.waiters.push({
        pred,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      });
    });
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    const exited = once(c, 'exit');
    c.kill(signal);
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(t);
  }

  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.kill(signal);
    this.lines.length = 0;
    this.start();
  }
}

/** Polls `probe` until it resolves true, or fails after `timeoutMs`. */
export async function waitUntil(probe: () => Promise<boolean> | boolean, timeoutMs = 60_000, everyMs = 200): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
