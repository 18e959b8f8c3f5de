import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { site } from '@hutong/protocols';
import type { Logger } from 'pino';
import type { Adapter } from './adapters/contract.js';
import { DeviceRegistry } from './adapters/devices.js';
import { MqttSiteAdapter } from './adapters/mqtt-site.js';
import { SerialLinesAdapter } from './adapters/serial-lines.js';
import type { SiteServices } from './adapters/services.js';
import { TcpLinesAdapter } from './adapters/tcp-lines.js';
import { SiteBroker } from './broker/site-broker.js';
import { CameraService } from './camera/index.js';
import type { EdgeConfig } from './config/edge-config.js';
import { DeviceHealth } from './health/devices.js';
import { GatewayStats, ProcessSampler, type StatsSources } from './health/stats.js';
import { type Part, Supervisor } from './health/supervisor.js';
import { parkingRoutes } from './http/parking.js';
import { GatewayHttp } from './http/server.js';
import { createOutbox, type Outbox } from './outbox/index.js';
import { OutboxImageSink } from './records/image-sink.js';
import { OutboxSink } from './records/outbox-sink.js';
import { SyncedStamper } from './records/synced-stamper.js';
import { restoreHeld } from './records/held.js';
import { BinService, binScansVisitor } from './services/bins/index.js';
import { GateService, gateDecisionsVisitor } from './services/gates/index.js';
import { ParkingService, parkingFramesVisitor } from './services/parking/index.js';
import { Uplink } from './uplink/uplink.js';

export interface RunningAgent {
  stop(): Promise<void>;
  readonly outbox: Outbox;
  readonly uplink: Uplink;
  readonly siteBroker: SiteBroker | undefined;
  readonly http: GatewayHttp | undefined;
  readonly adapters: readonly Adapter[];
  readonly health: DeviceHealth;
  readonly stamper: SyncedStamper;
  readonly sources: StatsSources;
}

export interface AgentOptions {
  /** Boot id for provisional stamps (default: the boot time in base 36). */
  bootId?: string;
}

const part = (name: string, start: () => Promise<void>, stop: () => Promise<void>): Part => ({ name, start, stop });

/**
 * The composition root of the gateway: outbox → record sink → services → adapters → site broker → uplink →
 * health → http. Everything is constructed first (constructors are inert), then started in that order and
 * stopped in reverse. Only the outbox is required to start; any other part that fails is logged and retried by
 * the supervisor (capped), so one broken device port or a missing ffmpeg never takes the gateway down.
 */
export async function startAgent(config: EdgeConfig, logger: Logger, opts: AgentOptions = {}): Promise<RunningAgent> {
  const gw = config.gateway.id;
  const log = logger.child({ gw });
  await mkdir(config.gateway.dataDir, { recursive: true });

  // --- construct ---
  const outbox = createOutbox({ ...config.outbox, dir: resolve(config.gateway.dataDir, config.outbox.dir) }, log);
  const stamper = new SyncedStamper(opts.bootId ?? Date.now().toString(36));
  const sink = new OutboxSink(outbox, stamper);
  const images = new OutboxImageSink(outbox);
  const registry = new DeviceRegistry(config.devices);
  const health = new DeviceHealth({ gatewayId: gw, devices: config.devices, config: config.health, sink, stamper, logger: log.child({ part: 'health' }) });

  let siteBroker: SiteBroker | undefined;
  const relay = (gate: string, open: boolean): void => {
    const b = siteBroker;
    if (!b) return;
    b.publish(site.relay(gate), JSON.stringify({ open })).catch((err: unknown) => log.error({ err, gate }, 'relay command not published'));
  };
  const svcLog = log.child({ part: 'services' });
  const bins = new BinService({ config: config.bins, sink, stamper, logger: svcLog, gatewayId: gw });
  const parking = new ParkingService({ config: config.parking, sink, stamper, logger: svcLog, gatewayId: gw });
  const gates = new GateService({ config: config.gates, sink, stamper, logger: svcLog, relay, dataDir: config.gateway.dataDir, gatewayId: gw });
  const services: SiteServices = { scan: bins, parking, pass: gates, alarm: (zone, active) => gates.fireAlarm(zone, active) };
  const cameras = new CameraService({
    config: config.cameras,
    gatewayId: gw,
    sink,
    images,
    stamper,
    log: log.child({ part: 'camera' }),
    onFrame: (id) => health.seen(id),
  });

  const adapters: Adapter[] = [];
  const adLog = log.child({ part: 'adapters' });
  let mqttSite: MqttSiteAdapter | undefined;
  if (config.broker.enabled) {
    mqttSite = new MqttSiteAdapter({
      devices: registry,
      services,
      publish: (t, p) => siteBroker?.publish(t, p) ?? Promise.resolve(),
      logger: adLog,
      onSeen: health.seen,
    });
    adapters.push(mqttSite);
    siteBroker = new SiteBroker({ config: config.broker, logger: log.child({ part: 'site-broker' }), route: mqttSite.route });
  }
  for (const d of config.devices) {
    const t = d.transport;
    if (typeof t === 'object' && 'tcp' in t) {
      adapters.push(new TcpLinesAdapter({ device: d, port: t.tcp.port, services, logger: adLog, onSeen: health.seen }));
    } else if (typeof t === 'object' && 'serial' in t) {
      adapters.push(new SerialLinesAdapter({ device: d, path: t.serial.path, baud: t.serial.baud, services, logger: adLog, onSeen: health.seen }));
    }
  }

  const uplink = new Uplink({
    gatewayId: gw,
    config: config.uplink,
    outbox,
    stamper,
    logger: log.child({ part: 'uplink' }),
    handlers: {
      revocations: async (msg) => {
        const r = await gates.applyRevocations(msg);
        log.info({ result: r }, 'revocations applied');
      },
    },
  });

  const sup = new Supervisor(log.child({ part: 'supervisor' }));
  const sources: StatsSources = {
    outbox: () => outbox.stats(),
    uplinkConnected: () => uplink.isConnected,
    clockOffsetMs: () => stamper.offsetMs,
    counters: () => {
      // Order matters for gwstats (bounded to 64 keys): delivery first, then the devices, then the rest.
      const c: Record<string, Record<string, number>> = { uplink: uplink.counters() };
      for (const a of adapters) c[a.name] = a.counters();
      if (siteBroker) c['site-broker'] = siteBroker.stats();
      Object.assign(c, {
        sink: { ...sink.counters(), ...images.counters() },
        health: health.counters(),
        bins: bins.counters(),
        parking: parking.counters(),
        gates: gates.counters(),
        camera: cameras.counters(),
        agent: sup.counters(),
      });
      return c;
    },
  };
  const sampler = new ProcessSampler(config.gateway.dataDir);
  const stats = new GatewayStats({
    gatewayId: gw,
    intervalS: config.health.statsIntervalS,
    sources,
    sampler,
    sink,
    stamper,
    logger: log.child({ part: 'stats' }),
  });
  const http = config.http.enabled
    ? new GatewayHttp({ gatewayId: gw, config: config.http, sources, sampler, devices: () => health.devices(), logger: log, routes: [parkingRoutes(parking)] })
    : undefined;

  // --- start, in the order data flows ---
  await sup.start(part('outbox', () => outbox.open(), () => outbox.close()), true);
  // Before any device can connect: a sensor resending a frame, a scanner or reader asking again for a request
  // stored before a power loss, must find it known (docs/faults.md).
  // One pass over the held records: parking's last frame counters, the bins' duplicate window, the gates'
  // recorded decisions of reader requests.
  const restored = restoreHeld(outbox, [parkingFramesVisitor(parking), binScansVisitor(bins), gateDecisionsVisitor(gates)]);
  log.info(restored, 'services: state restored from the records held in the outbox');
  try {
    await sup.start(part('bins', () => bins.start(), () => bins.stop()));
    await sup.start(part('parking', () => parking.start(), () => parking.stop()));
    await sup.start(part('gates', () => gates.start(), () => gates.stop()));
    await sup.start(part('health', () => health.start(), () => health.stop()));
    await sup.start(part('camera', () => cameras.start(), () => cameras.stop()));
    for (const a of adapters) await sup.start(a);
    if (siteBroker) {
      const b = siteBroker;
      await sup.start(part('site-broker', () => b.start(), () => b.stop()));
    }
    await sup.start(part('uplink', () => uplink.start(), () => uplink.stop()));
    await sup.start(part('stats', () => stats.start(), () => stats.stop()));
    if (http) await sup.start(part('http', () => http.start(), () => http.stop()));
  } catch (err) {
    await sup.stopAll();
    throw err;
  }
  log.info({ devices: config.devices.length, adapters: adapters.map((a) => a.name), down: sup.downParts() }, 'gateway agent started');

  let stopping: Promise<void> | undefined;
  return {
    stop: () => {
      stopping ??= sup.stopAll().then(() => log.info('gateway agent stopped'));
      return stopping;
    },
    outbox,
    uplink,
    siteBroker,
    http,
    adapters,
    health,
    stamper,
    sources,
  };
}
