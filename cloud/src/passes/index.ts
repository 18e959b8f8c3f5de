import type { Logger } from 'pino';
import type { Db } from '../store/index.js';
import { type DownlinkPublish, RevocationPublisher } from './publisher.js';
import { PassStore } from './store.js';

export { passesPlugin, type PassesPluginOptions } from './plugin.js';
export { PASS_POLICY, validityWindow } from './policy.js';
export { type DownlinkPublish, RevocationPublisher } from './publisher.js';
export { ensurePassesSchema, PASSES_SCHEMA } from './schema.js';
export { type IssuedPass, type IssueInput, type IssuerKey, PassStore } from './store.js';
export { newKeyPair, nodeCrypto } from './crypto.js';

/**
 * The pass issuer as one unit for the composition root: `start()` creates its tables and a first issuer key;
 * register `passesPlugin` with `{ store, publisher }` under the API prefix, and call `publisher.gatewayOnline(gw)`
 * when a gateway's status turns online. `purge` runs daily so revoked passes that expired leave the lists.
 */
export class Passes {
  readonly store: PassStore;
  readonly publisher: RevocationPublisher;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: { db: Db; publish: DownlinkPublish; logger: Logger; now?: () => number; purgeEveryMs?: number }) {
    this.store = new PassStore(o.db);
    this.publisher = new RevocationPublisher({ db: o.db, store: this.store, publish: o.publish, logger: o.logger });
  }

  async start(): Promise<void> {
    await this.store.start();
    this.timer = setInterval(() => {
      this.purge().catch((e: unknown) => this.o.logger.error({ err: e }, 'passes: purge failed'));
    }, this.o.purgeEveryMs ?? 86_400_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }

  async purge(): Promise<void> {
    const now = this.o.now ?? Date.now;
    for (const { compound, version } of await this.store.purgeExpired(Math.floor(now() / 1000))) {
      await this.publisher.changed(compound, version - 1);
    }
  }
}
