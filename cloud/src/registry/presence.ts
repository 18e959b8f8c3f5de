import type { Logger } from 'pino';
import type { Db } from '../store/index.js';
import type { PresenceSink } from './contract.js';

export interface GatewayPresence {
  lastSeen: number | null;
  online: boolean;
  changed: number | null;
}

/**
 * Last-seen and online state per gateway, fed by ingest on every message (hot path: memory only) and written
 * to the store every `flushMs` and at stop, so a restarted cloud still knows when a gateway was last heard.
 */
export class PresenceTracker implements PresenceSink {
  private readonly db: Db;
  private readonly log: Logger;
  private readonly flushMs: number;
  private readonly state = new Map<string, GatewayPresence>();
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly onlineListeners = new Set<(gw: string) => void>();

  constructor(o: { db: Db; logger: Logger; flushMs?: number }) {
    this.db = o.db;
    this.log = o.logger;
    this.flushMs = o.flushMs ?? 10_000;
  }

  async start(): Promise<void> {
    const rows = await this.db.query<{ gateway: string; last_seen: Date | null; online: boolean; changed: Date | null }>(
      'SELECT gateway, last_seen, online, changed FROM presence',
    );
    for (const r of rows) {
      this.state.set(r.gateway, {
        lastSeen: r.last_seen ? r.last_seen.getTime() : null,
        online: r.online,
        changed: r.changed ? r.changed.getTime() : null,
      });
    }
    this.timer = setInterval(() => {
      this.flush().catch((err) => this.log.error({ err }, 'presence flush failed'));
    }, this.flushMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /**
   * Called when a gateway turns online (its status says so, or a message arrives after it was offline): the
   * moment to push what it missed meanwhile (revocation lists, config). A throwing listener is logged, not fatal.
   */
  onOnline(fn: (gw: string) => void): () => void {
    this.onlineListeners.add(fn);
    return () => this.onlineListeners.delete(fn);
  }

  private wentOnline(gw: string): void {
    for (const fn of this.onlineListeners) {
      try {
        fn(gw);
      } catch (err) {
        this.log.error({ err, gw }, 'presence listener failed');
      }
    }
  }

  private entry(gw: string): GatewayPresence {
    let e = this.state.get(gw);
    if (!e) {
      e = { lastSeen: null, online: false, changed: null };
      this.state.set(gw, e);
    }
    return e;
  }

  seen(gw: string, atMs: number): void {
    const e = this.entry(gw);
    if (e.lastSeen === null || atMs > e.lastSeen) e.lastSeen = atMs;
    const turned = !e.online;
    if (turned) {
      e.online = true;
      e.changed = atMs;
    }
    this.dirty.add(gw);
    if (turned) this.wentOnline(gw);
  }

  status(gw: string, state: 'online' | 'offline', atMs: number): void {
    const e = this.entry(gw);
    const online = state === 'online';
    const turned = online && !e.online;
    if (e.online !== online || e.changed === null) e.changed = atMs;
    e.online = online;
    if (online && (e.lastSeen === null || atMs > e.lastSeen)) e.lastSeen = atMs;
    this.dirty.add(gw);
    if (turned) this.wentOnline(gw);
  }

  get(gw: string): GatewayPresence | undefined {
    const e = this.state.get(gw);
    return e ? { ...e } : undefined;
  }

  /** Writes changed entries; entries of unregistered gateways are skipped (the FK would refuse them). */
  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    const gws = [...this.dirty];
    this.dirty.clear();
    if (gws.length === 0) return;
    this.flushing = (async () => {
      try {
        await this.db.transaction(async (tx) => {
          for (const gw of gws) {
            const e = this.state.get(gw);
            if (!e) continue;
            await tx.query(
              `INSERT INTO presence (gateway, last_seen, online, changed)
                 SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM gateways WHERE id = $1)
               ON CONFLICT (gateway) DO UPDATE SET last_seen = EXCLUDED.last_seen, online = EXCLUDED.online, changed = EXCLUDED.changed`,
              [gw, e.lastSeen === null ? null : new Date(e.lastSeen), e.online, e.changed === null ? null : new Date(e.changed)],
            );
          }
        });
      } catch (e) {
        for (const gw of gws) this.dirty.add(gw);
        throw e;
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }
}
