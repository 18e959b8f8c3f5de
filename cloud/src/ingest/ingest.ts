import {
  ACCEPTED_VERSIONS,
  type AckEntry,
  ALL_STATUS_FILTER,
  ALL_UPLINK_FILTER,
  batchEnvelope,
  checkRecord,
  type ErrorCode,
  HutongError,
  isValidId,
  Limits,
  PROTOCOL_VERSION,
  type ParsedTopic,
  downlinkTopic,
  parseTopic,
  sharedFilter,
  statusMessage,
  timeRequest,
} from '@hutong/protocols';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { RP_OF_KIND } from '../influx/lines.js';
import { InfluxWriter } from '../influx/writer.js';
import type { DeviceDirectory, PresenceSink } from '../registry/contract.js';
import { handleImage } from './image-handler.js';
import { ImageStore } from './images.js';
import { PendingWrite } from './pending.js';
import { RateLimitedWarn } from './ratelog.js';

/**
 * Cloud ingest: MQTT uplink → validation → line protocol → InfluxDB → end-to-end ack on the gateway's downlink.
 * Stateless apart from the write in the making, so several workers can share one broker's load with a shared
 * subscription (Mosquitto, EMQX). Delivery semantics are written down in docs/delivery.md.
 */
export interface IngestOptions {
  mqttUrl: string;
  username?: string;
  password?: string;
  /** CA certificate (PEM) for an mqtts:// broker with a private CA. */
  ca?: string;
  rejectUnauthorized?: boolean;
  /** Subscribe as `$share/<group>/…` (Mosquitto, EMQX). Refused when the broker does not deliver it (aedes). */
  sharedGroup?: string;
  /** Fixed per worker so a restarted worker gets the messages its persistent session queued meanwhile. */
  clientId?: string;
  influxUrl: string;
  db: string;
  directory: DeviceDirectory;
  presence?: PresenceSink;
  imagesDir: string;
  logger: Logger;
  /** Write when this many points are waiting… */
  flushPoints?: number;
  /** …or when the oldest waiting batch is this old (ms). */
  flushMs?: number;
  /** InfluxDB writes in flight. */
  writesInFlight?: number;
  /**
   * Bound on points received but not yet written (InfluxDB slow or down). Beyond it new batches are left
   * unacknowledged (counted as `deferred_batches`): the gateways keep them and resend, nothing is lost.
   */
  maxWaitingPoints?: number;
}

const PROBE_PREFIX = 'hutong/probe/';

type Rejection = { code: ErrorCode; detail: string };

export class Ingest {
  private client: MqttClient | undefined;
  private writer: InfluxWriter | undefined;
  private readonly log: Logger;
  private readonly warnings: RateLimitedWarn;
  private readonly images: ImageStore;
  private readonly counts = new Map<string, number>();
  private cur = new PendingWrite();
  private readonly pool: PendingWrite[] = [];
  private readonly flushes = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private readonly ready: PendingWrite[] = [];
  private readyPoints = 0;
  private writingPoints = 0;
  private readonly maxWaitingPoints: number;
  private accepting = false;
  private readonly flushPoints: number;
  private readonly flushMs: number;
  private readonly maxFlushes: number;

  constructor(private readonly opts: IngestOptions) {
    this.log = opts.logger.child({ component: 'ingest' });
    this.warnings = new RateLimitedWarn(this.log);
    this.images = new ImageStore(opts.imagesDir);
    this.flushPoints = opts.flushPoints ?? 5000;
    this.flushMs = opts.flushMs ?? 50;
    this.maxFlushes = opts.writesInFlight ?? 2;
    this.maxWaitingPoints = opts.maxWaitingPoints ?? 1_000_000;
  }

  async start(): Promise<void> {
    const o = this.opts;
    // Each write posts one request per retention policy; both of a write go out together.
    this.writer = new InfluxWriter({ url: o.influxUrl, db: o.db, logger: this.log, maxInFlight: this.maxFlushes * 2 });
    const clientOpts: IClientOptions = {
      protocolVersion: 4,
      clean: false,
      clientId: o.clientId ?? `hutong-ingest-${o.sharedGroup ?? 'main'}-1`,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      keepalive: 30,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
    };
    const client = await mqtt.connectAsync(o.mqttUrl, clientOpts);
    this.client = client;
    client.on('error', (err) => this.log.warn({ err: err.message }, 'MQTT client error'));
    client.on('offline', () => this.log.warn('MQTT connection lost: reconnecting'));
    client.on('message', (topic, payload) => {
      try {
        this.onMessage(topic, payload);
      } catch (e) {
        // Every path above is meant to count and return; this is the last guard that keeps the worker alive.
        this.bump('internal_errors');
        this.log.error({ err: e, topic }, 'ingest handler failed');
      }
    });
    this.accepting = true;
    if (o.sharedGroup) await this.probeSharedSubscriptions(client, o.sharedGroup);
    const filters = [ALL_UPLINK_FILTER, ALL_STATUS_FILTER].map((f) => (o.sharedGroup ? sharedFilter(o.sharedGroup, f) : f));
    const granted = await client.subscribeAsync(filters, { qos: 1 });
    const refused = granted.filter((g) => g.qos === 128);
    if (refused.length > 0) throw new HutongError('E_AUTH', `broker refused subscriptions ${refused.map((g) => g.topic).join(', ')}`);
    this.log.info({ filters, clientId: clientOpts.clientId }, 'ingest subscribed');
  }

  /**
   * Stops taking messages, writes and acknowledges what was already received (waiting at most `graceMs` for
   * InfluxDB), then disconnects without ending the persistent session, so the broker queues for the next start.
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.accepting = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.seal();
    const all = Promise.all([...this.flushes]);
    const timeout = new Promise<void>((r) => setTimeout(r, graceMs).unref());
    await Promise.race([all, timeout]);
    this.writer?.close();
    await all.catch(() => {});
    if (this.client) await this.client.endAsync(false).catch(() => {});
    this.client = undefined;
  }

  counters(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries(this.counts);
    const w = this.writer?.stats;
    if (w) {
      out.writes = w.writes;
      out.write_retries = w.writeRetries;
      out.write_errors = w.writeErrors;
      out.written_bytes = w.bytes;
    }
    return out;
  }

  /** Presence is bookkeeping for the API: its failure must not cost a batch its write or ack. */
  private tellPresence(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.bump('presence_errors');
      this.warnings.warn('presence', { err: String(e) }, 'presence sink failed');
    }
  }

  private bump(name: string, by = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + by);
  }

  private reject(code: ErrorCode, by: number, ctx: Record<string, unknown>, detail: string): void {
    this.bump(`rejected.${code}`, by);
    this.warnings.warn(code, ctx, detail);
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (!this.accepting || topic.startsWith(PROBE_PREFIX)) return;
    this.bump('received');
    const t = parseTopic(topic);
    if (!t || t.kind === 'down') {
      this.reject('E_TOPIC', 1, { topic }, 'message on an unknown topic');
      return;
    }
    if (t.kind === 'status') {
      this.onStatus(t.gw, topic, payload);
      return;
    }
    switch (t.channel) {
      case 'batch':
        this.onBatch(t, topic, payload);
        return;
      case 'image':
        if (payload.length > Limits.imageBytes) {
          this.reject('E_OVERSIZED', 1, { gw: t.gw, topic, bytes: payload.length }, 'image frame too large');
          return;
        }
        this.bump('images_received');
        handleImage(t.gw, topic, payload, {
          images: this.images,
          reject: (code, ctx, detail) => this.reject(code, 1, ctx, detail),
          ack: (gw, entry) => this.publishAcks(gw, [entry]),
          bump: (n) => this.bump(n),
        }).catch((e: unknown) => {
          this.bump('internal_errors');
          this.log.error({ err: e, topic }, 'image handling failed: not acknowledged, the gateway will resend');
        });
        return;
      case 'time':
        this.onTime(t.gw, topic, payload);
        return;
    }
  }

  private onStatus(gw: string, topic: string, payload: Buffer): void {
    if (payload.length === 0) return; // a cleared retained status
    if (payload.length > Limits.controlBytes) {
      this.reject('E_OVERSIZED', 1, { gw, topic, bytes: payload.length }, 'status too large');
      return;
    }
    const msg = parseJson(payload);
    if (msg === undefined) {
      this.reject('E_MALFORMED', 1, { gw, topic }, 'status is not JSON');
      return;
    }
    if (!statusMessage.check(msg)) {
      this.reject('E_SCHEMA', 1, { gw, topic, issues: statusMessage.issues(msg, 3) }, 'bad status');
      return;
    }
    if (!ACCEPTED_VERSIONS.includes(msg.v)) {
      this.reject('E_VERSION', 1, { gw, topic, v: msg.v }, 'status version refused');
      return;
    }
    this.bump('status');
    this.tellPresence(() => this.opts.presence?.status(gw, msg.state, Date.now()));
  }

  private onTime(gw: string, topic: string, payload: Buffer): void {
    if (payload.length > Limits.controlBytes) {
      this.reject('E_OVERSIZED', 1, { gw, topic }, 'time request too large');
      return;
    }
    const msg = parseJson(payload);
    if (msg === undefined) {
      this.reject('E_MALFORMED', 1, { gw, topic }, 'time request is not JSON');
      return;
    }
    if (!timeRequest.check(msg)) {
      this.reject('E_SCHEMA', 1, { gw, topic }, 'bad time request');
      return;
    }
    if (!ACCEPTED_VERSIONS.includes(msg.v)) {
      this.reject('E_VERSION', 1, { gw, topic, v: msg.v }, 'time version refused');
      return;
    }
    const reply = JSON.stringify({ v: PROTOCOL_VERSION, t0: msg.t0, srv: Date.now() });
    // QoS 0: a late time reply is worthless, the gateway simply asks again.
    this.client?.publish(downlinkTopic(gw, 'time'), reply, { qos: 0 });
    this.bump('time_replies');
  }

  private onBatch(t: ParsedTopic, topic: string, payload: Buffer): void {
    const gw = t.gw;
    if (payload.length > Limits.batchBytes) {
      this.rejectBatch(gw, sniffId(payload), { code: 'E_OVERSIZED', detail: `batch of ${payload.length} bytes` }, topic, 0);
      return;
    }
    const env = parseJson(payload);
    if (env === undefined) {
      this.rejectBatch(gw, sniffId(payload), { code: 'E_MALFORMED', detail: 'batch is not JSON' }, topic, 0);
      return;
    }
    if (!batchEnvelope.check(env)) {
      const id = (env as { id?: unknown })?.id;
      const n = (env as { recs?: unknown })?.recs;
      this.rejectBatch(gw, isValidId(id) ? id : undefined, { code: 'E_SCHEMA', detail: JSON.stringify(batchEnvelope.issues(env, 3)) }, topic, Array.isArray(n) ? n.length : 0);
      return;
    }
    if (!ACCEPTED_VERSIONS.includes(env.v)) {
      this.rejectBatch(gw, env.id, { code: 'E_VERSION', detail: `version ${env.v}` }, topic, env.recs.length);
      return;
    }
    if (env.gw !== gw) {
      this.rejectBatch(gw, env.id, { code: 'E_GATEWAY_MISMATCH', detail: `envelope gw ${env.gw}` }, topic, env.recs.length);
      return;
    }
    if (this.waitingPoints >= this.maxWaitingPoints) {
      this.bump('deferred_batches');
      this.warnings.warn('E_INFLUX_WRITE', { gw, topic, batch: env.id, waiting: this.waitingPoints }, 'InfluxDB is behind: batch left unacknowledged, the gateway resends it');
      return;
    }

    const cur = this.cur;
    const dir = this.opts.directory;
    let stored = 0;
    let codes: Record<string, number> | undefined;
    for (const raw of env.recs) {
      const c = checkRecord(raw, env.v);
      let code: ErrorCode | undefined;
      if (!c.ok) {
        code = 'E_SCHEMA';
        this.warnings.warn(code, { gw, topic, batch: env.id, issues: c.issues }, 'record refused');
      } else if (dir.kindOf(gw, c.rec.d) === undefined) {
        code = 'E_UNKNOWN_DEVICE';
        this.warnings.warn(code, { gw, topic, batch: env.id, d: c.rec.d }, 'record from an unknown device');
      } else {
        const lb = cur.lines[RP_OF_KIND[c.rec.k]];
        const mark = lb.len;
        const marks = lb.points;
        try {
          lb.record(gw, c.rec);
          stored++;
          continue;
        } catch (e) {
          lb.len = mark;
          lb.points = marks;
          code = 'E_SCHEMA';
          this.warnings.warn(code, { gw, topic, batch: env.id, err: String(e) }, 'record could not be encoded');
        }
      }
      codes ??= {};
      codes[code] = (codes[code] ?? 0) + 1;
      this.bump(`rejected.${code}`);
    }
    const rejected = env.recs.length - stored;
    this.bump('records', env.recs.length);
    this.bump('batches');
    const entry: AckEntry = { id: env.id, stored, rejected };
    if (codes) entry.codes = codes;
    cur.addAck(gw, entry);
    this.scheduleFlush();
    this.tellPresence(() => this.opts.presence?.seen(gw, Date.now()));
  }

  /**
   * A batch refused as a whole is still acknowledged (stored 0, with its code) when it names an id: resending
   * it could never succeed, and an unacknowledged batch would block the gateway's outbox forever. The code in
   * the ack and the gateway's own counters make the loss visible (docs/delivery.md).
   */
  private rejectBatch(gw: string, id: string | undefined, r: Rejection, topic: string, records: number): void {
    this.reject(r.code, 1, { gw, topic, batch: id, detail: r.detail }, 'batch refused');
    if (records > 0) this.bump('records_in_refused_batches', records);
    if (!id) return;
    this.cur.addAck(gw, { id, stored: 0, rejected: records, codes: { [r.code]: Math.max(records, 1) } });
    this.scheduleFlush();
  }

  /**
   * Batches collect in `cur`; at `flushPoints` (or `flushMs` after its first batch) it is sealed into the ready
   * queue, and at most `maxFlushes` sealed writes are in flight. Writes therefore stay near `flushPoints` even
   * when InfluxDB is slow, instead of growing into one huge body.
   */
  private scheduleFlush(): void {
    if (this.cur.points >= this.flushPoints) {
      this.seal();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.seal();
      }, this.flushMs);
    }
  }

  private seal(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.cur.empty) {
      this.ready.push(this.cur);
      this.readyPoints += this.cur.points;
      this.cur = this.pool.pop() ?? new PendingWrite();
    }
    this.pump();
  }

  private pump(): void {
    while (this.flushes.size < this.maxFlushes && this.ready.length > 0) {
      const p = this.ready.shift()!;
      const points = p.points;
      this.readyPoints -= points;
      this.writingPoints += points;
      const f = this.flush(p).finally(() => {
        this.flushes.delete(f);
        this.writingPoints -= points;
        p.reset();
        if (this.pool.length < 8) this.pool.push(p);
        this.pump();
      });
      this.flushes.add(f);
    }
  }

  /** Points received but not yet confirmed by InfluxDB. */
  private get waitingPoints(): number {
    return this.readyPoints + this.writingPoints + this.cur.points;
  }

  private async flush(p: PendingWrite): Promise<void> {
    const writer = this.writer;
    if (!writer) return;
    const jobs: Promise<{ dropped: number }>[] = [];
    for (const [rp, lb] of Object.entries(p.lines)) {
      if (lb.points > 0) jobs.push(writer.write(rp, lb.bytes(), lb.points));
    }
    let results: { dropped: number }[];
    try {
      results = await Promise.all(jobs);
    } catch (e) {
      // Only when stopping: the batches stay unacknowledged and the gateways resend them.
      this.log.warn({ err: String(e), batches: p.batches }, 'write abandoned at stop: batches not acknowledged');
      return;
    }
    const dropped = results.reduce((s, r) => s + r.dropped, 0);
    if (dropped > 0) this.bump('rejected.E_INFLUX_WRITE', dropped);
    this.bump('stored_points', p.points - dropped);
    for (const [gw, acks] of p.acks) this.publishAcks(gw, acks);
  }

  private publishAcks(gw: string, acks: AckEntry[]): void {
    const client = this.client;
    if (!client) return;
    const payload = JSON.stringify({ v: PROTOCOL_VERSION, acks });
    client.publish(downlinkTopic(gw, 'ack'), payload, { qos: 1 }, (err) => {
      if (err) this.log.warn({ err: err.message, gw }, 'ack publish failed: the gateway will resend and be acked again');
    });
    this.bump('ack_messages');
    this.bump('acks', acks.length);
  }

  /**
   * aedes accepts a `$share/…` subscription and then delivers nothing (FACTS.md): publish a probe to a shared
   * subscription of our own and refuse to start if it never arrives.
   */
  private async probeSharedSubscriptions(client: MqttClient, group: string): Promise<void> {
    const topic = `${PROBE_PREFIX}${client.options.clientId ?? 'ingest'}-${Date.now()}`;
    const filter = sharedFilter(group, topic);
    const got = new Promise<boolean>((resolve) => {
      const onMsg = (t: string) => {
        if (t === topic) {
          client.off('message', onMsg);
          resolve(true);
        }
      };
      client.on('message', onMsg);
      setTimeout(() => {
        client.off('message', onMsg);
        resolve(false);
      }, 2_000).unref();
    });
    await client.subscribeAsync(filter, { qos: 1 });
    await client.publishAsync(topic, 'probe', { qos: 1 });
    const ok = await got;
    await client.unsubscribeAsync(filter).catch(() => {});
    if (!ok) {
      throw new HutongError('E_CONFIG', `broker at ${this.opts.mqttUrl} does not deliver shared subscriptions ($share/${group}/…): use Mosquitto or EMQX, or run one ingest worker without sharedGroup`);
    }
  }
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The batch id of a payload too broken to parse, so it can still be acknowledged and leave the outbox. */
export function sniffId(payload: Buffer): string | undefined {
  const head = payload.subarray(0, 512).toString('latin1');
  const m = /"id"\s*:\s*"([A-Za-z0-9][A-Za-z0-9_.-]{0,63})"/.exec(head);
  return m?.[1];
}
