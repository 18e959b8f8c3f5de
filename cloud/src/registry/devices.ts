import { type DeviceKind as DeviceKindT, DeviceKind, HutongError, Id } from '@hutong/protocols';
import { type Static, Type } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { Db } from '../store/index.js';
import { audit } from '../store/index.js';
import type { DeviceDirectory } from './contract.js';

/** A device as an installer registers it: id and kind, plus where it sits (all optional). */
export const DeviceInput = Type.Object(
  {
    id: Id,
    kind: DeviceKind,
    lot: Type.Optional(Id),
    space: Type.Optional(Id),
    bin: Type.Optional(Id),
    gate: Type.Optional(Id),
    zone: Type.Optional(Id),
    grid: Type.Optional(Id),
  },
  { additionalProperties: false },
);
export type DeviceInput = Static<typeof DeviceInput>;

export interface Device extends DeviceInput {
  gateway: string;
  updated: Date;
}

const ATTRS = ['lot', 'space', 'bin', 'gate', 'zone', 'grid'] as const;

/**
 * Devices per gateway, and the in-memory directory ingest reads on its hot path. The store is the source of
 * truth; the directory is loaded at start and reloaded for a gateway whenever its devices or it change.
 */
export class DeviceRegistry implements DeviceDirectory {
  private readonly db: Db;
  private readonly log: Logger;
  private byGateway = new Map<string, Map<string, DeviceKindT>>();

  constructor(o: { db: Db; logger: Logger }) {
    this.db = o.db;
    this.log = o.logger;
  }

  async start(): Promise<void> {
    const next = new Map<string, Map<string, DeviceKindT>>();
    for (const g of await this.db.query<{ id: string }>('SELECT id FROM gateways')) next.set(g.id, new Map());
    for (const d of await this.db.query<{ gateway: string; id: string; kind: DeviceKindT }>(
      'SELECT gateway, id, kind FROM devices',
    )) {
      next.get(d.gateway)?.set(d.id, d.kind);
    }
    this.byGateway = next;
    this.log.debug({ gateways: next.size }, 'device directory loaded');
  }

  kindOf(gw: string, device: string): DeviceKindT | undefined {
    const g = this.byGateway.get(gw);
    if (!g) return undefined;
    if (device === gw) return 'gateway';
    return g.get(device);
  }

  /** Reloads one gateway's entry (after it was created, or its devices changed). */
  async refresh(gw: string): Promise<void> {
    const exists = await this.db.query('SELECT id FROM gateways WHERE id = $1', [gw]);
    if (exists.length === 0) {
      this.byGateway.delete(gw);
      return;
    }
    const m = new Map<string, DeviceKindT>();
    for (const d of await this.db.query<{ id: string; kind: DeviceKindT }>('SELECT id, kind FROM devices WHERE gateway = $1', [gw])) {
      m.set(d.id, d.kind);
    }
    this.byGateway.set(gw, m);
  }

  /** Inserts or updates many devices of one gateway in one transaction; returns how many were written. */
  async upsert(gw: string, devices: DeviceInput[], actor: string): Promise<number> {
    const ids = new Set<string>();
    for (const d of devices) {
      if (ids.has(d.id)) throw new HutongError('E_SCHEMA', `device ${d.id} listed twice`);
      ids.add(d.id);
      if (d.id === gw) throw new HutongError('E_SCHEMA', `device id ${d.id} is the gateway's own id`);
    }
    await this.db.transaction(async (tx) => {
      const g = await tx.query('SELECT id FROM gateways WHERE id = $1', [gw]);
      if (g.length === 0) throw new HutongError('E_UNKNOWN_GATEWAY', gw);
      for (const d of devices) {
        const attrs: Record<string, string> = {};
        for (const a of ATTRS) if (d[a] !== undefined) attrs[a] = d[a];
        await tx.query(
          `INSERT INTO devices (gateway, id, kind, attrs, updated) VALUES ($1, $2, $3, $4, now())
           ON CONFLICT (gateway, id) DO UPDATE SET kind = EXCLUDED.kind, attrs = EXCLUDED.attrs, updated = now()`,
          [gw, d.id, d.kind, JSON.stringify(attrs)],
        );
      }
      await audit(tx, actor, 'devices.upsert', `gateway:${gw}`, { count: devices.length, ids: [...ids].slice(0, 50) });
    });
    await this.refresh(gw);
    return devices.length;
  }

  async list(gw: string): Promise<Device[]> {
    const rows = await this.db.query<{ gateway: string; id: string; kind: DeviceKindT; attrs: Record<string, string>; updated: Date }>(
      'SELECT gateway, id, kind, attrs, updated FROM devices WHERE gateway = $1 ORDER BY id',
      [gw],
    );
    return rows.map((r) => ({ ...r.attrs, gateway: r.gateway, id: r.id, kind: r.kind, updated: r.updated }));
  }
}
