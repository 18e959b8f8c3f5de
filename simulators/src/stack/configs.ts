import type { CompoundProfile } from '../profiles/compound.js';

/**
 * The config files the stack writes for the cloud and the gateway, built from a compound profile. They are plain
 * JSON, exactly what an operator or installer would write (docs/edge.md, cloud/src/config.ts), so the simulated
 * compound exercises the same loading and checking as a real one.
 */
export interface CloudFiles {
  dataDir: string;
  mqttPort: number;
  apiPort: number;
  influxUrl?: string;
  broker?: 'aedes' | 'mosquitto';
  passwordEnv: string;
}

export function cloudConfig(o: CloudFiles): Record<string, unknown> {
  return {
    dataDir: `${o.dataDir}/cloud`,
    mqtt: { port: o.mqttPort, broker: o.broker ?? 'aedes' },
    api: { port: o.apiPort, attemptsPerMinute: 1000 },
    influx: o.influxUrl ? { url: o.influxUrl } : { dataDir: `${o.dataDir}/influxdb` },
    ingest: { imagesDir: `${o.dataDir}/images` },
    users: [
      { name: 'operator', role: 'operator', grids: ['*'], passwordEnv: o.passwordEnv },
      { name: 'installer', role: 'installer', passwordEnv: o.passwordEnv },
      { name: 'crew', role: 'crew', passwordEnv: o.passwordEnv },
    ],
  };
}

/** The cloud's device registry entries for a compound (installer's bulk upload). */
export function cloudDevices(p: CompoundProfile): Record<string, unknown>[] {
  return [
    ...p.scanners.map((s) => ({ id: s.id, kind: 'scanner' })),
    ...p.lots.flatMap((l) => l.spaces.map((s) => ({ id: s.sensor, kind: 'parking', lot: l.id, space: s.id, grid: l.grid }))),
    ...p.gates.flatMap((g) => g.readers.map((r) => ({ id: r.id, kind: 'reader', gate: g.id, grid: g.grid }))),
    ...p.cameras.map((c) => ({ id: c.id, kind: 'camera', grid: c.grid })),
  ];
}

export interface EdgeEndpoints {
  dataDir: string;
  uplinkUrl: string;
  username: string;
  password: string;
  caFile: string;
  sitePort: number;
  httpPort: number;
  /** TCP port per scanner/reader id that uses TCP. */
  tcpPorts: Record<string, number>;
  /** Gateway-side pty path per serial scanner id. */
  serialPaths: Record<string, string>;
  issuerKeys: { kid: number; publicKey: string }[];
  cameraUrl?: string;
}

const schedule = (everyH: number) => ({ times: everyH >= 24 ? ['07:00'] : ['07:00', '19:00'] });

export function edgeConfig(p: CompoundProfile, e: EdgeEndpoints): Record<string, unknown> {
  const transport = (id: string) =>
    e.serialPaths[id] ? { serial: { path: e.serialPaths[id], baud: 9600 } } : e.tcpPorts[id] ? { tcp: { port: e.tcpPorts[id] } } : 'mqtt';
  return {
    gateway: { id: p.gatewayId, dataDir: e.dataDir, compound: p.compound },
    uplink: { url: e.uplinkUrl, username: e.username, password: e.password, caFile: e.caFile, ackTimeoutMs: 15_000 },
    broker: { host: '127.0.0.1', port: e.sitePort },
    http: { host: '127.0.0.1', port: e.httpPort },
    devices: [
      ...p.scanners.map((s) => ({ id: s.id, kind: 'scanner', transport: transport(s.id) })),
      ...p.lots.flatMap((l) => l.spaces.map((s) => ({ id: s.sensor, kind: 'parking', transport: 'mqtt', lot: l.id, space: s.id, grid: l.grid }))),
      ...p.gates.flatMap((g) => g.readers.map((r) => ({ id: r.id, kind: 'reader', transport: transport(r.id), gate: g.id, dir: r.dir, grid: g.grid }))),
      ...(e.cameraUrl ? p.cameras.map((c) => ({ id: c.id, kind: 'camera', transport: 'mqtt', grid: c.grid })) : []),
    ],
    bins: { bins: p.bins.map((b) => ({ id: b.id, category: b.category, grid: b.grid, schedule: schedule(b.everyH) })) },
    parking: {
      lots: p.lots.map((l) => ({
        id: l.id,
        grid: l.grid,
        spaces: l.spaces.map((s) => ({ id: s.id, sensor: s.sensor, type: s.type, ...(s.type === 'shared' ? { share: [{ from: '08:00', to: '18:00' }] } : {}) })),
      })),
    },
    gates: {
      compound: p.compound,
      issuerKeys: e.issuerKeys,
      gates: p.gates.map((g, i) => ({ id: g.id, bit: i, readers: g.readers })),
    },
    cameras: {
      cameras: e.cameraUrl ? p.cameras.map((c) => ({ id: c.id, url: e.cameraUrl, fps: c.fps })) : [],
    },
  };
}
