import type { Logger } from 'pino';
import type { Db } from '../store/index.js';
import { type DownlinkPublish, RevocationPublisher } from './publisher.js';
import { PassStore } from './store.js';

/**
 * The pass issuer as one unit for the composition root: `start()` creates its tables and a first issuer key;
 * register `passesPlugin` with `{ store, publisher }` under the API prefix, and call `publisher.gatewayOnline(gw)`
 * when a gateway's status turns online. `purge` runs daily so revoked passes that expired leave the lists.
 */
export class Passes {
  readonly store: PassStore;
  readonly publisher: RevocationPublisher;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly o: { db: Db; publish: DownlinkPublish; logger: Logger; now?: () => number; purgeEveryMs?: number; presencePollMs?: number },
  ) {
    this.store = new PassStore(o.db);
    this.publisher = new RevocationPublisher({ db: o.db, store: this.store, publish: o.publish, logger: o.logger });
  }

  async start(): Promise<void> {
    await this.store.start();
    const every = (ms: number, what: string, fn: () => Promise<unknown>) => {
      const t = setInterval(() => {
        fn().catch((e: unknown) => this.o.logger.error({ err: e }, `passes: ${what} failed`));
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.o.purgeEveryMs ?? 86_400_000, 'purge', () => this.purge());
    every(this.o.presencePollMs ?? 5000, 'presence poll', () => this.publisher.pollPresence());
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  async purge(): Promise<void> {
    const now = this.o.now ?? Date.now;
    for (const { compound, version } of await this.store.purgeExpired(Math.floor(now() / 1000))) {
      await this.publisher.changed(compound, version - 1);
    }
  }
}
