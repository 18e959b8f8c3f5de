import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { decodeImage, downlinkTopic, PROTOCOL_VERSION, parseTopic } from '@hutong/protocols';
import { Aedes } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';

export interface SeenBatch {
  id: string;
  recs: { k: string; d: string; ts: string }[];
}

/**
 * A stand-in for the cloud in the uplink's tests: a plain aedes broker plus one subscriber that answers time
 * requests and records batches; the test decides which batch ids to ack.
 */
export class TestCloud {
  broker: Aedes | undefined;
  server: Server | undefined;
  sub: MqttClient | undefined;
  port = 0;
  readonly batches: SeenBatch[] = [];
  readonly statuses: string[] = [];
  /** Header ids of the images received on up/image. */
  readonly images: string[] = [];
  offsetMs = 0;
  autoAck = false;
  private waiters: { n: number; resolve: () => void }[] = [];
  private readonly sockets = new Set<Socket>();
  refusedLogins = 0;

  /** `tls`: serve MQTT over TLS with this key/cert; `logins`: username → password the broker accepts. */
  constructor(private readonly opts: { tls?: { key: string; cert: string; ca: string }; logins?: Record<string, string> } = {}) {}

  async start(port = 0): Promise<void> {
    const logins = this.opts.logins;
    this.broker = await Aedes.createBroker({
      authenticate: (_client, username, password, done) => {
        if (!logins || username === 'cloud') return done(null, true);
        const ok = username !== undefined && logins[username] !== undefined && password?.toString() === logins[username];
        if (!ok) this.refusedLogins++;
        done(ok ? null : Object.assign(new Error('bad login'), { returnCode: 4 as const }), ok);
      },
    });
    const b = this.broker;
    const onConn = (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
      b.handle(s);
    };
    const tls = this.opts.tls;
    this.server = tls ? createTlsServer({ key: tls.key, cert: tls.cert }, onConn) : createServer(onConn);
    this.server.on('tlsClientError', () => {});
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    this.sub = await connectAsync(`${tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${this.port}`, {
      clientId: 'cloud',
      username: 'cloud',
      reconnectPeriod: 0,
      protocolVersion: 4,
      ...(tls ? { ca: tls.ca } : {}),
    });
    await this.sub.subscribeAsync(['hutong/gw/+/up/#', 'hutong/gw/+/status'], { qos: 1 });
    this.sub.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  async stop(): Promise<void> {
    await this.sub?.endAsync(true);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    await new Promise<void>((r) => (this.broker ? this.broker.close(() => r()) : r()));
    this.sub = undefined;
    this.server = undefined;
    this.broker = undefined;
  }

  /** Resolves once `n` batches in total have arrived. */
  waitBatches(n: number): Promise<void> {
    if (this.batches.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  async ack(gw: string, ids: string[], stored?: number, codes?: Record<string, number>): Promise<void> {
    const acks = ids.map((id) => {
      const b = this.batches.find((x) => x.id === id);
      const n = b?.recs.length ?? 0;
      const s = stored ?? n;
      return { id, stored: s, rejected: n - s, ...(codes ? { codes } : {}) };
    });
    await this.sub!.publishAsync(downlinkTopic(gw, 'ack'), JSON.stringify({ v: PROTOCOL_VERSION, acks }), { qos: 1 });
  }

  private onMessage(topic: string, payload: Buffer): void {
    const t = parseTopic(topic);
    if (!t) return;
    if (t.kind === 'status') {
      this.statuses.push(JSON.parse(payload.toString()).state);
      return;
    }
    if (t.kind !== 'up') return;
    if (t.channel === 'time') {
      const req = JSON.parse(payload.toString()) as { t0: number };
      const reply = { v: PROTOCOL_VERSION, t0: req.t0, srv: Date.now() + this.offsetMs };
      this.sub!.publish(downlinkTopic(t.gw, 'time'), JSON.stringify(reply), { qos: 1 });
      return;
    }
    if (t.channel === 'image') {
      const d = decodeImage(payload);
      if (d.ok) this.images.push((d.header as { id: string }).id);
      return;
    }
    if (t.channel === 'batch') {
      const b = JSON.parse(payload.toString()) as SeenBatch;
      this.batches.push(b);
      if (this.autoAck) this.ack(t.gw, [b.id]).catch(() => {});
      for (const w of this.waiters.filter((x) => this.batches.length >= x.n)) w.resolve();
      this.waiters = this.waiters.filter((x) => this.batches.length < x.n);
    }
  }
}
