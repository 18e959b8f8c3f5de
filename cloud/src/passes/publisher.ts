import { downlinkTopic, isValidId } from '@hutong/protocols';
import type { Logger } from 'pino';
import type { Db } from '../store/index.js';
import type { PassStore } from './store.js';

/** Publishes one downlink message (QoS 1). Injected: the cloud's own MQTT client does the sending. */
export type DownlinkPublish = (topic: string, payload: string) => Promise<void>;

/**
 * Sends revocation lists to gateways on `down/revocations`. A full list goes to a gateway each time it comes
 * online (the cloud does not know which version it kept, and a 100 000-id list is split into chunks that cannot be
 * one retained message); each revocation is sent at once as an increment to every gateway of the compound. A
 * gateway that missed an increment sees a gap, keeps its list and is brought up to date by the next full list.
 */
export class RevocationPublisher {
  private readonly count = { full_sent: 0, delta_sent: 0, publish_failed: 0 };
  /** When each gateway was last sent its full list (ms), against the presence table's `changed`. */
  private readonly sentAt = new Map<string, number>();

  constructor(
    private readonly o: { db: Db; store: PassStore; publish: DownlinkPublish; logger: Logger },
  ) {}

  counters(): Record<string, number> {
    return { ...this.count };
  }

  /** Call when a gateway's status turns online (and on demand): sends the whole list of its compound. */
  async gatewayOnline(gw: string): Promise<void> {
    if (!isValidId(gw)) return;
    const [row] = await this.o.db.query<{ compound: string }>('SELECT compound FROM gateways WHERE id = $1', [gw]);
    if (!row) return;
    const msgs = await this.o.store.revocations(row.compound, undefined);
    await this.send([gw], msgs);
    this.count.full_sent++;
  }

  /**
   * Sends the full list to every gateway that came online since it was last sent one, from the registry's presence
   * table (kept by ingest from the gateways' retained status). Run on a timer: this needs no hook into ingest.
   */
  async pollPresence(): Promise<number> {
    const rows = await this.o.db.query<{ gateway: string; changed: Date | null }>(
      'SELECT gateway, changed FROM presence WHERE online = true',
    );
    let sent = 0;
    for (const r of rows) {
      const changed = r.changed?.getTime() ?? 0;
      const last = this.sentAt.get(r.gateway);
      if (last !== undefined && last >= changed) continue;
      this.sentAt.set(r.gateway, Math.max(changed, Date.now()));
      await this.gatewayOnline(r.gateway);
      sent++;
    }
    return sent;
  }

  /** Call after a revocation: sends the change from `from` to every gateway of the compound. */
  async changed(compound: string, from: number): Promise<void> {
    const gws = await this.o.db.query<{ id: string }>('SELECT id FROM gateways WHERE compound = $1', [compound]);
    if (gws.length === 0) return;
    const msgs = await this.o.store.revocations(compound, from);
    await this.send(gws.map((g) => g.id), msgs);
    this.count.delta_sent++;
  }

  private async send(gws: string[], msgs: unknown[]): Promise<void> {
    for (const gw of gws) {
      const topic = downlinkTopic(gw, 'revocations');
      for (const m of msgs) {
        try {
          await this.o.publish(topic, JSON.stringify(m));
        } catch (e) {
          this.count.publish_failed++;
          this.o.logger.warn({ err: e, gw }, 'passes: revocation list not sent (the next full list catches up)');
          break;
        }
      }
    }
  }
}
