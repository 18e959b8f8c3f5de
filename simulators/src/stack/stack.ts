import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AcceptanceLog } from '../devices/accepted.js';
import { ParkingFleet } from '../devices/parking.js';
import { ScannerFleet } from '../devices/scanners.js';
import { ManagedProcess, waitUntil } from '../faults/process.js';
import { CutProxy } from '../faults/proxy.js';
import type { CompoundProfile } from '../profiles/compound.js';
import { CloudApi } from './api.js';
import { cloudConfig, cloudDevices, edgeConfig } from './configs.js';
import { GateReaderFleet } from './gates.js';
import { freePort } from './ports.js';

/**
 * A whole compound on one machine: InfluxDB, the cloud, one gateway and its simulated devices, each a real
 * process (so a test can kill -9 the gateway, restart the cloud, or stop InfluxDB), with the uplink through a
 * proxy that can be cut. Used by `npm run demo` and by the fault-matrix test.
 */
export interface StackOptions {
  profile: CompoundProfile;
  dir: string;
  /** Start the simulated RTSP camera and the camera pipeline. */
  camera?: boolean;
  /** Run InfluxDB as its own process (so it can be stopped apart from the cloud); default true. */
  separateInflux?: boolean;
  broker?: 'aedes' | 'mosquitto';
  /** Fixed API port (demo); default any free port. */
  apiPort?: number;
  password?: string;
  repoRoot?: string;
  /** Adjusts the gateway config before it is written (tests shorten timeouts with it). */
  edgeTweak?: (config: Record<string, Record<string, unknown>>) => void;
}

export class CompoundStack {
  readonly log = new AcceptanceLog();
  readonly procs: ManagedProcess[] = [];
  influx: ManagedProcess | undefined;
  cloud!: ManagedProcess;
  edge!: ManagedProcess;
  camera: ManagedProcess | undefined;
  proxy!: CutProxy;
  parking!: ParkingFleet;
  scanners!: ScannerFleet;
  gates: GateReaderFleet | undefined;
  influxUrl = '';
  apiUrl = '';
  mqttPort = 0;
  sitePort = 0;
  httpPort = 0;
  cameraUrl: string | undefined;
  /** The gateway config as written. */
  edgeConfig: Record<string, unknown> = {};
  operator!: CloudApi;
  private socat: ReturnType<typeof spawn> | undefined;
  private readonly root: string;
  readonly password: string;

  constructor(private readonly o: StackOptions) {
    this.root = o.repoRoot ?? resolve(import.meta.dirname, '../../..');
    this.password = o.password ?? 'hutong-demo-password';
  }

  /**
   * Runs a TypeScript entry point as ONE process (`node --import tsx`), not behind the `tsx` wrapper: a SIGKILL
   * must hit the program itself (a wrapper would die and leave its child running).
   */
  private proc(name: string, script: string, args: string[]): ManagedProcess {
    const p = new ManagedProcess({
      name,
      cmd: process.execPath,
      args: ['--import', 'tsx', join(this.root, script), ...args],
      cwd: this.root,
      env: { HUTONG_DEMO_PASSWORD: this.password, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' },
    });
    this.procs.push(p);
    return p;
  }

  async start(): Promise<void> {
    const { profile, dir } = this.o;
    await mkdir(dir, { recursive: true });
    if (this.o.separateInflux !== false) {
      this.influx = this.proc('influxd', 'cloud/src/influx/cli.ts', ['--data', join(dir, 'influxdb'), '--port', String(await freePort())]);
      this.influx.start();
      await this.influx.waitForLine((l) => l.msg === 'influxd ready', 60_000);
      this.influxUrl = String(this.influx.lines.find((l) => l.msg === 'influxd ready')?.url);
    }
    this.mqttPort = await freePort();
    const apiPort = this.o.apiPort ?? (await freePort());
    const cloudFile = join(dir, 'cloud.json');
    const cc = cloudConfig({
      dataDir: dir,
      mqttPort: this.mqttPort,
      apiPort,
      passwordEnv: 'HUTONG_DEMO_PASSWORD',
      ...(this.influxUrl ? { influxUrl: this.influxUrl } : {}),
      ...(this.o.broker ? { broker: this.o.broker } : {}),
    });
    await writeFile(cloudFile, JSON.stringify(cc, null, 2));
    this.cloud = this.proc('cloud', 'cloud/src/main.ts', ['--config', cloudFile]);
    this.cloud.start();
    await this.cloud.waitForLine((l) => l.msg === 'cloud started', 240_000);
    const started = this.cloud.lines.find((l) => l.msg === 'cloud started') as { apiUrl: string; influxUrl: string };
    this.apiUrl = started.apiUrl;
    if (!this.influxUrl) this.influxUrl = started.influxUrl;

    // Provisioning, as the operator and the installer would do it.
    this.operator = await new CloudApi(this.apiUrl).login('operator', this.password);
    const installer = await new CloudApi(this.apiUrl).login('installer', this.password);
    await this.operator.call('POST', '/api/gateways', { id: profile.gatewayId, name: profile.compound, compound: profile.compound, grid: profile.grids[0] });
    await installer.call('PUT', `/api/gateways/${profile.gatewayId}/devices`, { devices: cloudDevices(profile) });
    const { code } = (await this.operator.call('POST', `/api/gateways/${profile.gatewayId}/enrolment-codes`, { ttlMinutes: 10 })) as { code: string };
    const enrolled = (await new CloudApi(this.apiUrl).call('POST', '/api/enrol', { gateway: profile.gatewayId, code }, false)) as {
      username: string;
      password: string;
      caPem: string;
    };
    const caFile = join(dir, 'cloud-ca.pem');
    await writeFile(caFile, enrolled.caPem);
    const issuerKeys = await this.issuerKeys();

    // The uplink goes through a proxy that a test can cut.
    this.proxy = new CutProxy({ host: '127.0.0.1', port: this.mqttPort });
    const proxyPort = await this.proxy.start();

    // Device endpoints: TCP ports for TCP scanners and readers, a pty pair for the serial scanner.
    const tcpPorts: Record<string, number> = {};
    for (const s of profile.scanners) if (s.transport === 'tcp') tcpPorts[s.id] = await freePort();
    if (issuerKeys.length > 0) for (const g of profile.gates) for (const r of g.readers) tcpPorts[r.id] = await freePort();
    const serialPaths: Record<string, string> = {};
    const simSerial: Record<string, string> = {};
    const serial = profile.scanners.find((s) => s.transport === 'serial');
    if (serial) {
      const gwSide = join(dir, `tty-${serial.id}-gw`);
      const simSide = join(dir, `tty-${serial.id}-dev`);
      this.socat = spawn('socat', [`pty,raw,echo=0,link=${gwSide}`, `pty,raw,echo=0,link=${simSide}`], { stdio: 'ignore' });
      this.socat.on('error', () => undefined);
      await waitUntil(() => existsSync(simSide) && existsSync(gwSide), 10_000);
      serialPaths[serial.id] = gwSide;
      simSerial[serial.id] = simSide;
    }
    if (this.o.camera) {
      const camPort = await freePort();
      this.camera = this.proc('camera', 'simulators/src/camera/cli.ts', ['--port', String(camPort)]);
      this.camera.start();
      this.cameraUrl = `rtsp://127.0.0.1:${camPort}/cam1`;
      await waitUntil(() => portOpen(camPort), 30_000);
    }
    this.sitePort = await freePort();
    this.httpPort = await freePort();
    const edgeFile = join(dir, 'gateway.json');
    const ec = edgeConfig(profile, {
      dataDir: join(dir, 'gateway'),
      uplinkUrl: `mqtts://127.0.0.1:${proxyPort}`,
      username: enrolled.username,
      password: enrolled.password,
      caFile,
      sitePort: this.sitePort,
      httpPort: this.httpPort,
      tcpPorts,
      serialPaths,
      issuerKeys,
      ...(this.cameraUrl ? { cameraUrl: this.cameraUrl } : {}),
    });
    this.o.edgeTweak?.(ec as Record<string, Record<string, unknown>>);
    this.edgeConfig = ec;
    await writeFile(edgeFile, JSON.stringify(ec, null, 2));
    this.edge = this.proc('gateway', 'edge/src/main.ts', ['--config', edgeFile]);
    this.edge.start();
    await this.edge.waitForLine((l) => l.msg === 'gateway agent started', 240_000);

    this.parking = new ParkingFleet({ brokerUrl: `mqtt://127.0.0.1:${this.sitePort}`, profile, log: this.log });
    await this.parking.start();
    const scannerTcp = Object.fromEntries(profile.scanners.filter((s) => s.transport === 'tcp').map((s) => [s.id, { host: '127.0.0.1', port: tcpPorts[s.id] as number }]));
    this.scanners = new ScannerFleet(profile, { mqttUrl: `mqtt://127.0.0.1:${this.sitePort}`, tcp: scannerTcp, serial: simSerial }, this.log);
    await this.scanners.start();
    if (issuerKeys.length > 0) {
      this.gates = new GateReaderFleet({ profile, api: this.operator, tcpPorts, log: this.log });
      await this.gates.start();
    }
  }

  /** The issuer's public keys, if the cloud issues passes. */
  private async issuerKeys(): Promise<{ kid: number; publicKey: string }[]> {
    try {
      const keys = (await this.operator.call('GET', '/api/passes/keys')) as { kid: number; publicKey: string; retired?: boolean }[];
      return keys.filter((k) => !k.retired).map((k) => ({ kid: k.kid, publicKey: k.publicKey }));
    } catch {
      return [];
    }
  }

  /** Starts the reference load at its real rates (`speed` > 1 compresses time). */
  runLoad(speed = 1): void {
    this.parking.run(undefined, speed);
    this.scanners.run(speed);
    this.gates?.run(speed);
  }

  async stopLoad(): Promise<void> {
    await Promise.all([this.parking?.stop(), this.scanners?.stop(), this.gates?.stop()]);
  }

  async stop(): Promise<void> {
    await this.stopLoad().catch(() => undefined);
    for (const p of [...this.procs].reverse()) await p.kill('SIGTERM').catch(() => undefined);
    await this.proxy?.stop().catch(() => undefined);
    this.socat?.kill('SIGTERM');
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
