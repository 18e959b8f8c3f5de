import fs from 'node:fs';
import { formatScanAnswer, scanRequest, site, type ScanAnswer, type ScanRequest } from '@hutong/protocols';
import mqtt, { type MqttClient } from 'mqtt';
import type { CompoundProfile, ScannerSpec } from '../profiles/compound.js';
import { pick, rng } from '../profiles/rng.js';
import type { AcceptanceLog } from './accepted.js';
import { LineClient, type LineOutcome } from './lines.js';

/** Where each simulated scanner reaches the gateway. */
export interface ScannerEndpoints {
  mqttUrl?: string;
  tcp?: Record<string, { host: string; port: number }>;
  /** Path of the simulator's end of a pty pair whose other end the gateway opened. */
  serial?: Record<string, string>;
}

/**
 * One bin scanner speaking its transport's wire form; `scan` resolves with the gateway's answer, or with none if
 * the scanner gave up. Like a real scanner it asks again, with the same scan, when it got no answer.
 */
interface ScannerLink {
  scan(req: ScanRequest): Promise<LineOutcome>;
  close(): Promise<void>;
}

/** A scanner gives up on a scan after this long without an answer (the gateway was down all that time). */
const GIVE_UP_MS = 60_000;
/** An answer not here this long after the request (or its PUBACK) is taken as lost. */
const ANSWER_MS = 10_000;

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
  return { scan: (req) => c.ask(toLine(req), { giveUpMs: GIVE_UP_MS, answerMs: ANSWER_MS }), close: async () => c.close() };
}

/**
 * Over MQTT the scan is a QoS 1 publish: mqtt.js sends it again on its own after a reconnect until it gets the
 * PUBACK. Answers are matched by bin code (they name it), so a lost answer does not shift the others.
 */
async function mqttLink(url: string, id: string): Promise<ScannerLink> {
  const c: MqttClient = await mqtt.connectAsync(url, { clientId: id, protocolVersion: 4, reconnectPeriod: 250 });
  c.on('error', () => undefined);
  let connects = 0;
  c.on('connect', () => connects++);
  const waiters = new Map<string, ((a: string) => void)[]>();
  c.on('message', (_t, payload) => {
    let a: ScanAnswer;
    try {
      a = JSON.parse(payload.toString()) as ScanAnswer;
    } catch {
      return;
    }
    waiters.get(a.code)?.shift()?.(formatScanAnswer(a));
  });
  await c.subscribeAsync(site.scanAnswer(id), { qos: 1 });
  return {
    scan: async (req) => {
      const code = req.code.trim();
      const list = waiters.get(code) ?? [];
      waiters.set(code, list);
      let resolve: (a: string | undefined) => void = () => undefined;
      const answered = new Promise<string | undefined>((r) => (resolve = r));
      list.push(resolve);
      const before = connects;
      // The answer is published before the PUBACK: once the PUBACK is here, an answer still missing was lost.
      const acked = await c.publishAsync(site.scan(id), JSON.stringify(req), { qos: 1 }).then(
        () => true,
        () => false,
      );
      const timer = setTimeout(() => resolve(undefined), acked ? ANSWER_MS : 0);
      const answer = await answered;
      clearTimeout(timer);
      const i = list.indexOf(resolve);
      if (i >= 0) list.splice(i, 1);
      return { answer, sent: connects > before ? 2 : 1 };
    },
    close: () => c.endAsync(true),
  };
}

/**
 * A serial scanner: one request at a time on the wire. With no answer within `ANSWER_MS` (the gateway died, or is
 * restarting and will read the line from the port's buffer later) it sends the same line again. A line sent more
 * than once may be answered more than once: after such a request the scanner ignores answers for a quiet
 * second, so a late answer is never taken for the next request's.
 */
function serialLink(path: string): ScannerLink {
  const w = fs.createWriteStream(path);
  const r = fs.createReadStream(path, { encoding: 'utf8' });
  let buf = '';
  let waiter: ((l: string | undefined) => void) | undefined;
  let lastLine = 0;
  let closed = false;
  let turn: Promise<unknown> = Promise.resolve();
  r.on('data', (d) => {
    buf += d as string;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const l = buf.slice(0, i).replace(/\r$/, '');
      buf = buf.slice(i + 1);
      lastLine = Date.now();
      const take = waiter;
      waiter = undefined;
      take?.(l);
    }
  });
  r.on('error', () => undefined);
  w.on('error', () => undefined);
  const once = (line: string) =>
    new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => {
        waiter = undefined;
        resolve(undefined);
      }, ANSWER_MS);
      waiter = (l) => {
        clearTimeout(timer);
        resolve(l);
      };
      w.write(`${line}\r\n`);
    });
  const run = async (req: ScanRequest): Promise<LineOutcome> => {
    const line = toLine(req);
    const until = Date.now() + GIVE_UP_MS;
    let sent = 0;
    let answer: string | undefined;
    while (!closed && answer === undefined && (sent === 0 || Date.now() < until)) {
      sent++;
      answer = await once(line);
    }
    if (sent > 1) while (!closed && Date.now() - lastLine < 1000) await new Promise((res) => setTimeout(res, 200));
    return { answer, sent };
  };
  return {
    scan: (req) => {
      const p = turn.then(() => run(req));
      turn = p;
      return p;
    },
    close: async () => {
      closed = true;
      waiter?.(undefined);
      r.destroy();
      w.destroy();
    },
  };
}

/** The compound's scanners: crews scan coded bins at pickup, now and then a duplicate or an unknown code. */
export class ScannerFleet {
  private readonly links = new Map<string, ScannerLink>();
  private readonly inFlight = new Set<Promise<string>>();
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

  /**
   * One scan; resolves with the answer line ('' if none came). An `OK recorded` answer is an acceptance; a scan
   * sent but never answered is logged as unanswered (the gateway may have stored it).
   */
  scan(scannerId: string, req: ScanRequest): Promise<string> {
    const link = this.links.get(scannerId);
    if (!link) return Promise.reject(new Error(`unknown simulated scanner ${scannerId}`));
    if (!scanRequest.check(req)) return Promise.reject(new Error('simulator built an invalid scan'));
    const p = link.scan(req).then(({ answer, sent }) => {
      const entry = { kind: 'scan' as const, device: scannerId, at: Date.now(), detail: `${req.code} ${answer ?? '(no answer)'}` };
      if (answer === undefined) {
        if (sent > 0) this.log.noAnswer(entry);
        return '';
      }
      if (sent > 1) this.log.askedAgain(entry);
      if (answer === 'OK recorded') this.log.add(entry);
      else this.log.refuse(entry);
      return answer;
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
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

  /** Stops scanning; a scan still unanswered is given up (and logged as such) before this resolves. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.links.values()].map((l) => l.close().catch(() => undefined)));
    await Promise.allSettled([...this.inFlight]);
    this.links.clear();
  }
}
