import fs from 'node:fs';
import { formatScanAnswer, scanRequest, site, type ScanAnswer, type ScanRequest } from '@hutong/protocols';
import mqtt, { type MqttClient } from 'mqtt';
import type { CompoundProfile, ScannerSpec } from '../profiles/compound.js';
import { pick, rng } from '../profiles/rng.js';
import type { AcceptanceLog } from './accepted.js';
import { LineClient } from './lines.js';

/** Where each simulated scanner reaches the gateway. */
export interface ScannerEndpoints {
  mqttUrl?: string;
  tcp?: Record<string, { host: string; port: number }>;
  /** Path of the simulator's end of a pty pair whose other end the gateway opened. */
  serial?: Record<string, string>;
}

/** One bin scanner speaking its transport's wire form; `scan` resolves with the gateway's answer. */
interface ScannerLink {
  scan(req: ScanRequest): Promise<string>;
  close(): Promise<void>;
}

function toLine(req: ScanRequest): string {
  let s = req.code;
  if (req.crew) s += `;crew=${req.crew}`;
  if (req.kg !== undefined) s += `;kg=${req.kg}`;
  if (req.grade !== undefined) s += `;grade=${req.grade}`;
  if (req.full) s += ';full';
  return s;
}

async function tcpLink(host: string, port: number): Promise<ScannerLink> {
  const c = new LineClient(host, port);
  await c.connect();
  return { scan: (req) => c.request(toLine(req)), close: async () => c.close() };
}

async function mqttLink(url: string, id: string): Promise<ScannerLink> {
  const c: MqttClient = await mqtt.connectAsync(url, { clientId: id, protocolVersion: 4 });
  const waiters: ((a: string) => void)[] = [];
  c.on('message', (_t, payload) => {
    try {
      const a = JSON.parse(payload.toString()) as ScanAnswer;
      waiters.shift()?.(formatScanAnswer(a));
    } catch {
      waiters.shift()?.('NO rejected malformed-answer');
    }
  });
  await c.subscribeAsync(site.scanAnswer(id), { qos: 1 });
  return {
    scan: async (req) => {
      const answered = new Promise<string>((resolve) => waiters.push(resolve));
      await c.publishAsync(site.scan(id), JSON.stringify(req), { qos: 1 });
      return answered;
    },
    close: () => c.endAsync(),
  };
}

function serialLink(path: string): ScannerLink {
  const w = fs.createWriteStream(path);
  const r = fs.createReadStream(path, { encoding: 'utf8' });
  let buf = '';
  const waiters: ((l: string) => void)[] = [];
  r.on('data', (d) => {
    buf += d as string;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      waiters.shift()?.(buf.slice(0, i).replace(/\r$/, ''));
      buf = buf.slice(i + 1);
    }
  });
  r.on('error', () => undefined);
  w.on('error', () => undefined);
  return {
    scan: (req) =>
      new Promise((resolve) => {
        waiters.push(resolve);
        w.write(`${toLine(req)}\r\n`);
      }),
    close: async () => {
      r.destroy();
      w.destroy();
    },
  };
}

/** The compound's scanners: crews scan coded bins at pickup, now and then a duplicate or an unknown code. */
export class ScannerFleet {
  private readonly links = new Map<string, ScannerLink>();
  private readonly r: () => number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly profile: CompoundProfile,
    private readonly endpoints: ScannerEndpoints,
    private readonly log: AcceptanceLog,
    seed = profile.seed + 31,
  ) {
    this.r = rng(seed);
  }

  async start(): Promise<void> {
    for (const s of this.profile.scanners) this.links.set(s.id, await this.open(s));
  }

  private async open(s: ScannerSpec): Promise<ScannerLink> {
    if (s.transport === 'tcp') {
      const ep = this.endpoints.tcp?.[s.id];
      if (!ep) throw new Error(`no TCP endpoint for scanner ${s.id}`);
      return tcpLink(ep.host, ep.port);
    }
    if (s.transport === 'mqtt') {
      if (!this.endpoints.mqttUrl) throw new Error(`no MQTT url for scanner ${s.id}`);
      return mqttLink(this.endpoints.mqttUrl, s.id);
    }
    const path = this.endpoints.serial?.[s.id];
    if (!path) throw new Error(`no serial path for scanner ${s.id}`);
    return serialLink(path);
  }

  /** One scan; resolves with the answer line. An `OK recorded` answer is an acceptance. */
  async scan(scannerId: string, req: ScanRequest): Promise<string> {
    const link = this.links.get(scannerId);
    if (!link) throw new Error(`unknown simulated scanner ${scannerId}`);
    if (!scanRequest.check(req)) throw new Error('simulator built an invalid scan');
    const answer = await link.scan(req);
    const entry = { kind: 'scan' as const, device: scannerId, at: Date.now(), detail: `${req.code} ${answer}` };
    if (answer === 'OK recorded') this.log.add(entry);
    else this.log.refuse(entry);
    return answer;
  }

  /** A random realistic scan: mostly known bins, about 2 % unknown codes. */
  randomScan(): { scanner: string; req: ScanRequest } {
    const scanner = pick(this.r, this.profile.scanners).id;
    const unknown = this.r() < 0.02;
    const bin = unknown ? `BIN-X${Math.floor(this.r() * 1e6)}` : pick(this.r, this.profile.bins).id;
    const req: ScanRequest = { code: bin, crew: `crew-${1 + Math.floor(this.r() * 6)}`, kg: Math.round(this.r() * 400) / 10 };
    if (this.r() < 0.7) req.grade = 1 + Math.floor(this.r() * 5);
    return { scanner, req };
  }

  run(speed = 1): void {
    const everyMs = 3_600_000 / this.profile.rates.scansPerHour / speed;
    this.timer = setInterval(() => {
      const { scanner, req } = this.randomScan();
      this.scan(scanner, req).catch(() => undefined);
    }, Math.max(1, everyMs));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.links.values()].map((l) => l.close().catch(() => undefined)));
    this.links.clear();
  }
}
