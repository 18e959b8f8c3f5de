import { readFile } from 'node:fs/promises';
import {
  ackMessage,
  type DownlinkChannel,
  downlinkFilter,
  Limits,
  PROTOCOL_VERSION,
  parseTopic,
  type RevocationMessage,
  revocationMessage,
  statusTopic,
  timeReply,
  uplinkTopic,
} from '@hutong/protocols';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { Counters } from '../adapters/services.js';
import type { UplinkSection } from '../config/schema.js';
import type { Outbox } from '../outbox/contract.js';
import type { SyncedStamper } from '../records/synced-stamper.js';
import { Sender } from './sender.js';

export interface DownlinkHandlers {
  revocations?: (msg: RevocationMessage) => void | Promise<void>;
  config?: (msg: unknown) => void | Promise<void>;
  tasks?: (msg: unknown) => void | Promise<void>;
}

export interface UplinkOptions {
  gatewayId: string;
  config: UplinkSection;
  outbox: Outbox;
  stamper: SyncedStamper;
  logger: Logger;
  handlers?: DownlinkHandlers;
  agent?: string;
}

/**
 * The gateway's one connection to the cloud broker: MQTT 3.1.1 over TLS with the gateway's own credentials,
 * a persistent session (clean: false, client id = gateway id), reconnect with exponential backoff, a retained
 * `status` (online on connect, offline as the last will), the downlink subscription, the clock offset
 * measurement, and the sender loop that moves the outbox to the cloud.
 */
export class Uplink {
  private client: MqttClient | undefined;
  private readonly c = new Counters();
  private readonly sender: Sender;
  private connected = false;
  private stopped = true;
  private backoff: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private readonly listeners: ((up: boolean) => void)[] = [];

  constructor(private readonly o: UplinkOptions) {
    const cfg = o.config;
    this.backoff = cfg.reconnect.minMs;
    this.sender = new Sender({
      gatewayId: o.gatewayId,
      outbox: o.outbox,
      logger: o.logger,
      batchRecords: Math.min(cfg.batchRecords, Limits.batchRecords),
      batchBytes: Math.min(cfg.batchBytes, Limits.batchBytes),
      window: cfg.window,
      ackTimeoutMs: cfg.ackTimeoutMs,
      publish: (topic, payload) => this.publish(topic, payload),
      mayRecords: () => !cfg.holdUntilClockSync || o.stamper.synced,
      // Unsynced (only when holdUntilClockSync is off): send the provisional stamp as it is.
      finalMs: (p) => (o.stamper.synced ? o.stamper.finalMs(p) : undefined),
    });
  }

  get isConnected(): boolean {
    return this.connected;
  }

  onConnection(fn: (up: boolean) => void): void {
    this.listeners.push(fn);
  }

  counters(): Record<string, number> {
    return { ...this.c.snapshot(), ...this.sender.counters(), connected: this.connected ? 1 : 0 };
  }

  async start(): Promise<void> {
    const cfg = this.o.config;
    const password = cfg.password ?? (cfg.credentialsFile ? (await readFile(cfg.credentialsFile, 'utf8')).trim() : undefined);
    const ca = cfg.caPem ?? (cfg.caFile ? await readFile(cfg.caFile, 'utf8') : undefined);
    const gw = this.o.gatewayId;
    const opts: IClientOptions = {
      clientId: gw,
      username: cfg.username ?? gw,
      password,
      protocolVersion: 4,
      clean: false,
      keepalive: cfg.keepaliveS,
      reconnectPeriod: 0, // reconnects are ours, with backoff
      connectTimeout: 30_000,
      resubscribe: true,
      will: { topic: statusTopic(gw), payload: Buffer.from(this.statusJson('offline')), qos: 1, retain: true },
      ...(ca ? { ca, rejectUnauthorized: true } : {}),
    };
    this.stopped = false;
    const client = connect(cfg.url, opts);
    this.client = client;
    client.on('connect', () => this.onConnect());
    client.on('close', () => this.onClose());
    client.on('error', (err) => {
      this.c.inc('errors');
      this.o.logger.warn({ err: err.message }, 'uplink connection error');
    });
    client.on('message', (topic, payload) => {
      this.onMessage(topic, payload).catch((err: unknown) => this.o.logger.error({ err, topic }, 'downlink handler failed'));
    });
    this.sender.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.syncTimer);
    await this.sender.stop();
    const client = this.client;
    this.client = undefined;
    if (client) {
      if (client.connected) {
        // A clean shutdown says offline itself (the will is only for a lost connection).
        await client.publishAsync(statusTopic(this.o.gatewayId), this.statusJson('offline'), { qos: 1, retain: true }).catch(() => {});
      }
      await client.endAsync(!client.connected).catch(() => {});
    }
  }

  /** Sends a clock offset request; the reply arrives on down/time. */
  requestTime(): void {
    const c = this.client;
    if (!c?.connected) return;
    this.c.inc('time_requests');
    c.publish(uplinkTopic(this.o.gatewayId, 'time'), JSON.stringify({ v: PROTOCOL_VERSION, t0: Date.now() }), { qos: 0 });
  }

  private statusJson(state: 'online' | 'offline'): string {
    return JSON.stringify({ v: PROTOCOL_VERSION, state, ts: Date.now(), agent: this.o.agent ?? 'hutong-edge' });
  }

  private publish(topic: string, payload: Buffer): Promise<void> {
    const c = this.client;
    if (!c) return Promise.reject(new Error('uplink stopped'));
    return c.publishAsync(topic, payload, { qos: 1 }).then(() => undefined);
  }

  private onConnect(): void {
    const client = this.client;
    if (!client) return;
    this.connected = true;
    this.backoff = this.o.config.reconnect.minMs;
    this.c.inc('connects');
    this.o.logger.info({ url: this.o.config.url }, 'uplink connected');
    client.publish(statusTopic(this.o.gatewayId), this.statusJson('online'), { qos: 1, retain: true });
    client.subscribe(downlinkFilter(this.o.gatewayId), { qos: 1 }, (err, granted) => {
      if (err || granted?.some((g) => g.qos === 128)) {
        this.c.inc('subscribe_refused');
        this.o.logger.error({ err: err?.message }, 'downlink subscription refused');
      }
      // Sending starts once the subscription is in place, so no ack can be missed.
      this.requestTime();
      this.sender.setOnline(true);
    });
    clearInterval(this.syncTimer);
    this.syncTimer = setInterval(() => this.requestTime(), this.o.config.timeSyncIntervalS * 1000);
    this.syncTimer.unref();
    for (const l of this.listeners) l(true);
  }

  private onClose(): void {
    const was = this.connected;
    this.connected = false;
    clearInterval(this.syncTimer);
    this.sender.setOnline(false);
    if (was) {
      this.c.inc('disconnects');
      this.o.logger.warn('uplink connection lost');
      for (const l of this.listeners) l(false);
    }
    if (this.stopped) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.o.config.reconnect.maxMs);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (this.stopped || !this.client) return;
      this.c.inc('reconnect_attempts');
      this.client.reconnect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    const t = parseTopic(topic);
    if (t?.kind !== 'down' || t.gw !== this.o.gatewayId) {
      this.c.inc('downlink_rejected_e_topic');
      return;
    }
    const ch: DownlinkChannel = t.channel;
    if (payload.length > Limits.controlBytes && ch !== 'revocations') {
      this.c.inc('downlink_rejected_e_oversized');
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      this.c.inc('downlink_rejected_e_malformed');
      this.o.logger.warn({ topic }, 'downlink message is not JSON');
      return;
    }
    this.c.inc(`downlink_${ch}`);
    switch (ch) {
      case 'ack':
        if (!ackMessage.check(body)) return this.schemaError(topic, ackMessage.issues(body, 3));
        await this.sender.onAcks(body.acks);
        return;
      case 'time': {
        if (!timeReply.check(body)) return this.schemaError(topic, timeReply.issues(body, 3));
        const now = Date.now();
        const rtt = now - body.t0;
        if (rtt < 0 || rtt > 60_000) {
          this.c.inc('time_replies_stale');
          return;
        }
        const offset = Math.round(body.srv + rtt / 2 - now);
        const first = !this.o.stamper.synced;
        this.o.stamper.setOffset(offset, rtt);
        this.c.inc('time_syncs');
        if (first) this.o.logger.info({ offsetMs: offset, rttMs: rtt }, 'clock offset to the cloud known: held readings go out');
        this.sender.wake();
        return;
      }
      case 'revocations':
        if (!revocationMessage.check(body)) return this.schemaError(topic, revocationMessage.issues(body, 3));
        await this.o.handlers?.revocations?.(body);
        return;
      case 'config':
      case 'tasks':
        this.o.logger.info({ channel: ch }, 'downlink message received');
        await this.o.handlers?.[ch]?.(body);
        return;
    }
  }

  private schemaError(topic: string, issues: unknown): void {
    this.c.inc('downlink_rejected_e_schema');
    this.o.logger.warn({ topic, issues, code: 'E_SCHEMA' }, 'downlink message refused');
  }
}
