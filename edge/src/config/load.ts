import { readFile } from 'node:fs/promises';
import { checkConfig, formatConfigIssues, HutongError, type SchemaIssue } from '@hutong/protocols';
import { EdgeConfig } from './edge-config.js';

export type LoadResult = { ok: true; config: EdgeConfig } | { ok: false; message: string; issues: SchemaIssue[] };

/**
 * Checks a parsed config: the schema first (every error with its path), then the rules a schema cannot say
 * (unique device ids and ports, one password source). All issues are reported together.
 */
export function checkEdgeConfig(input: unknown, file = 'config'): LoadResult {
  const r = checkConfig(EdgeConfig, withInherited(input));
  const issues: SchemaIssue[] = r.ok ? [] : [...r.issues];
  // Cross-field rules run on the raw input too, so a file with schema errors still gets them all listed.
  issues.push(...crossCheck((r.ok ? r.value : input) as Partial<EdgeConfig>));
  if (issues.length > 0 || !r.ok) return { ok: false, issues, message: formatConfigIssues(file, issues) };
  return { ok: true, config: r.value };
}

/** The gates section's compound defaults to the gateway's, so it is written once. */
function withInherited(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const raw = input as Record<string, unknown>;
  const gw = raw.gateway as { compound?: unknown } | undefined;
  const gates = raw.gates;
  if (typeof gw?.compound !== 'string' || (gates !== undefined && (typeof gates !== 'object' || gates === null))) return input;
  return { ...raw, gates: { compound: gw.compound, ...(gates as object | undefined) } };
}

function crossCheck(c: Partial<EdgeConfig>): SchemaIssue[] {
  const out: SchemaIssue[] = [];
  const ids = new Map<string, number>();
  const ports = new Map<number, number>();
  const paths = new Map<string, number>();
  const devices = Array.isArray(c?.devices) ? c.devices : [];
  devices.forEach((d, i) => {
    if (typeof d !== 'object' || d === null) return;
    if (typeof d.id === 'string') {
      const prev = ids.get(d.id);
      if (prev !== undefined) out.push({ path: `/devices/${i}/id`, message: `duplicate device id (also /devices/${prev})` });
      else ids.set(d.id, i);
    }
    const t = d.transport as unknown;
    if (t && typeof t === 'object' && 'tcp' in t) {
      const port = (t as { tcp?: { port?: unknown } }).tcp?.port;
      if (typeof port === 'number') {
        const prev = ports.get(port);
        if (prev !== undefined) out.push({ path: `/devices/${i}/transport/tcp/port`, message: `port already used by /devices/${prev}` });
        else ports.set(port, i);
        if (port === c.broker?.port) out.push({ path: `/devices/${i}/transport/tcp/port`, message: 'port is the site broker port' });
      }
    }
    if (t && typeof t === 'object' && 'serial' in t) {
      const p = (t as { serial?: { path?: unknown } }).serial?.path;
      if (typeof p === 'string') {
        const prev = paths.get(p);
        if (prev !== undefined) out.push({ path: `/devices/${i}/transport/serial/path`, message: `serial port already used by /devices/${prev}` });
        else paths.set(p, i);
      }
    }
    if (d.kind === 'parking' && t !== undefined && t !== 'mqtt') {
      out.push({ path: `/devices/${i}/transport`, message: 'parking sensors report over mqtt only' });
    }
  });
  out.push(...serviceCross(c, devices));
  const u = c?.uplink;
  if (u && typeof u === 'object') {
    if (u.password !== undefined && u.credentialsFile !== undefined) {
      out.push({ path: '/uplink', message: 'give either password or credentialsFile, not both' });
    }
    if (u.password === undefined && u.credentialsFile === undefined) {
      out.push({ path: '/uplink', message: 'needs password or credentialsFile' });
    }
    if (u.caFile !== undefined && u.caPem !== undefined) out.push({ path: '/uplink', message: 'give either caFile or caPem, not both' });
    if (u.reconnect && u.reconnect.minMs > u.reconnect.maxMs) {
      out.push({ path: '/uplink/reconnect', message: 'minMs is larger than maxMs' });
    }
  }
  return out;
}

/**
 * Devices and the services' own registries must agree: a parking sensor or reader the adapters know but the
 * service does not would be accepted at the door and refused inside, and the other way round it would be refused
 * as an unknown device.
 */
function serviceCross(c: Partial<EdgeConfig>, devices: readonly unknown[]): SchemaIssue[] {
  const out: SchemaIssue[] = [];
  const dev = new Map<string, { kind: unknown; i: number }>();
  devices.forEach((d, i) => {
    const e = d as { id?: unknown; kind?: unknown } | null;
    if (e && typeof e.id === 'string') dev.set(e.id, { kind: e.kind, i });
  });
  const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const sensors = new Set<string>();
  arr((c.parking as { lots?: unknown } | undefined)?.lots).forEach((lot, li) => {
    arr((lot as { spaces?: unknown })?.spaces).forEach((sp, si) => {
      const sensor = (sp as { sensor?: unknown })?.sensor;
      if (typeof sensor !== 'string') return;
      sensors.add(sensor);
      if (dev.get(sensor)?.kind !== 'parking') {
        out.push({ path: `/parking/lots/${li}/spaces/${si}/sensor`, message: `sensor ${sensor} is not a parking device in /devices` });
      }
    });
  });
  const readers = new Set<string>();
  arr((c.gates as { gates?: unknown } | undefined)?.gates).forEach((g, gi) => {
    arr((g as { readers?: unknown })?.readers).forEach((r, ri) => {
      const id = (r as { id?: unknown })?.id;
      if (typeof id !== 'string') return;
      readers.add(id);
      if (dev.get(id)?.kind !== 'reader') out.push({ path: `/gates/gates/${gi}/readers/${ri}/id`, message: `reader ${id} is not a reader device in /devices` });
    });
  });
  for (const [id, d] of dev) {
    if (d.kind === 'parking' && !sensors.has(id)) out.push({ path: `/devices/${d.i}`, message: `parking sensor ${id} watches no space in /parking/lots` });
    if (d.kind === 'reader' && !readers.has(id)) out.push({ path: `/devices/${d.i}`, message: `reader ${id} belongs to no gate in /gates/gates` });
  }
  return out;
}

/** Reads and checks a config file; throws HutongError E_CONFIG whose message lists every issue. */
export async function loadConfig(file: string): Promise<EdgeConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new HutongError('E_CONFIG', `cannot read ${file}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new HutongError('E_CONFIG', `${file} is not valid JSON: ${(e as Error).message}`);
  }
  const r = checkEdgeConfig(raw, file);
  // formatConfigIssues already starts with the code
  if (!r.ok) throw new HutongError('E_CONFIG', r.message.replace(/^E_CONFIG: /, ''));
  return r.config;
}
