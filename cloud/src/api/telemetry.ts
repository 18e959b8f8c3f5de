import { isValidId } from '@hutong/protocols';
import { InfluxDB } from 'influx';

/**
 * Read side of InfluxDB for the API, with the `influx` client. Measurements, tags and retention policies are
 * those of docs/influx-schema.md. Every query selects raw points with `ORDER BY time DESC LIMIT 1` per series
 * group instead of several `last()` selectors, because InfluxDB 1.x stamps a multi-selector row with epoch 0.
 * Ids put into a query are checked against ID_PATTERN first (no quotes or backslashes can get in).
 */
export interface LotState {
  gw: string;
  lot: string;
  free: number;
  occupied: number;
  unknown: number;
  at: Date;
}

export interface Collection {
  bin: string;
  gw: string;
  at: Date;
  category?: string;
  scanner?: string;
  crew?: string;
  kg?: number;
  grade?: number;
}

export interface GwStats {
  at: Date;
  obDepth?: number;
  obOldestS?: number;
  obDropped?: number;
  clockOffsetMs?: number;
  uplink?: boolean;
}

export interface TelemetryReader {
  lots(): Promise<LotState[]>;
  lastCollections(bin?: string): Promise<Collection[]>;
  gatewayStats(): Promise<Map<string, GwStats>>;
  /** Last time each device of gateway `gw` produced any point. */
  deviceLastSeen(gw: string): Promise<Map<string, Date>>;
  ping(): Promise<boolean>;
}

type Row = Record<string, unknown> & { time: Date };
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const lit = (id: string): string => {
  if (!isValidId(id)) throw new TypeError(`invalid id ${JSON.stringify(id)}`);
  return `'${id}'`;
};

/** One field every point of a measurement has, and the tag naming its device. */
const PRESENCE_FIELDS: ReadonlyArray<{ rp: string; m: string; field: string; device: string }> = [
  { rp: 'telemetry', m: 'park', field: 'occ', device: 'd' },
  { rp: 'telemetry', m: 'lot', field: 'free', device: 'd' },
  { rp: 'telemetry', m: 'health', field: 'online', device: 'd' },
  { rp: 'telemetry', m: 'gwstats', field: 'cpu', device: 'd' },
  { rp: 'events', m: 'scan', field: 'n', device: 'd' },
  { rp: 'events', m: 'gate', field: 'ms', device: 'd' },
  { rp: 'events', m: 'litter', field: 'conf', device: 'camera' },
  { rp: 'events', m: 'state', field: 'n', device: 'd' },
];

export class InfluxTelemetry implements TelemetryReader {
  private readonly influx: InfluxDB;
  private readonly url: string;

  constructor(o: { url: string; db: string }) {
    const u = new URL(o.url);
    this.url = o.url.replace(/\/$/, '');
    this.influx = new InfluxDB({
      host: u.hostname,
      port: Number(u.port || (u.protocol === 'https:' ? 443 : 8086)),
      protocol: u.protocol === 'https:' ? 'https' : 'http',
      database: o.db,
    });
  }

  async ping(): Promise<boolean> {
    try {
      const r = await fetch(`${this.url}/ping`, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      return r.status === 204;
    } catch {
      return false;
    }
  }

  async lots(): Promise<LotState[]> {
    const rows = (await this.influx.query(
      'SELECT "free", "occupied", "unknown" FROM "telemetry"."lot" GROUP BY "gw", "lot" ORDER BY time DESC LIMIT 1',
    )) as unknown as Row[];
    return rows.map((r) => ({
      gw: String(r.gw),
      lot: String(r.lot),
      free: num(r.free) ?? 0,
      occupied: num(r.occupied) ?? 0,
      unknown: num(r.unknown) ?? 0,
      at: new Date(r.time.getTime()),
    }));
  }

  async lastCollections(bin?: string): Promise<Collection[]> {
    const where = bin === undefined ? '' : ` WHERE "bin" = ${lit(bin)}`;
    const rows = (await this.influx.query(
      `SELECT "n", "crew", "kg", "grade", "category", "d" FROM "events"."scan"${where} GROUP BY "bin", "gw" ORDER BY time DESC LIMIT 1`,
    )) as unknown as Row[];
    // A bin moved between gateways has one row per gateway: keep the latest.
    const byBin = new Map<string, Collection>();
    for (const r of rows) {
      const c: Collection = {
        bin: String(r.bin),
        gw: String(r.gw),
        at: new Date(r.time.getTime()),
        category: str(r.category),
        scanner: str(r.d),
        crew: str(r.crew),
        kg: num(r.kg),
        grade: num(r.grade),
      };
      const prev = byBin.get(c.bin);
      if (!prev || prev.at < c.at) byBin.set(c.bin, c);
    }
    return [...byBin.values()].sort((a, b) => a.bin.localeCompare(b.bin));
  }

  async gatewayStats(): Promise<Map<string, GwStats>> {
    const rows = (await this.influx.query(
      'SELECT "obDepth", "obOldestS", "obDropped", "clockOffsetMs", "uplink" FROM "telemetry"."gwstats" GROUP BY "gw" ORDER BY time DESC LIMIT 1',
    )) as unknown as Row[];
    const out = new Map<string, GwStats>();
    for (const r of rows) {
      out.set(String(r.gw), {
        at: new Date(r.time.getTime()),
        obDepth: num(r.obDepth),
        obOldestS: num(r.obOldestS),
        obDropped: num(r.obDropped),
        clockOffsetMs: num(r.clockOffsetMs),
        uplink: typeof r.uplink === 'boolean' ? r.uplink : undefined,
      });
    }
    return out;
  }

  async deviceLastSeen(gw: string): Promise<Map<string, Date>> {
    const qs = PRESENCE_FIELDS.map(
      (p) => `SELECT last("${p.field}") FROM "${p.rp}"."${p.m}" WHERE "gw" = ${lit(gw)} GROUP BY "${p.device}"`,
    );
    const results = (await this.influx.query(qs)) as unknown as Row[][];
    const out = new Map<string, Date>();
    results.forEach((rows, i) => {
      const tag = PRESENCE_FIELDS[i]?.device ?? 'd';
      for (const r of rows) {
        const d = str(r[tag]);
        if (!d) continue;
        const at = new Date(r.time.getTime());
        const prev = out.get(d);
        if (!prev || prev < at) out.set(d, at);
      }
    });
    return out;
  }
}
