import {
  alarmMessage,
  type ErrorCode,
  HutongError,
  Limits,
  parkingReading,
  type PassAnswer,
  passRequest,
  parseSiteTopic,
  type ScanAnswer,
  scanRequest,
  site,
} from '@hutong/protocols';
import type { Logger } from 'pino';
import type { Adapter } from './contract.js';
import type { DeviceRegistry } from './devices.js';
import { Counters, rejectedKey, type SeenHook, type SiteServices } from './services.js';

export interface MqttSiteOptions {
  devices: DeviceRegistry;
  services: SiteServices;
  /** Publishes on the site broker (answers to scanners and readers). */
  publish: (topic: string, payload: string) => Promise<void>;
  logger: Logger;
  onSeen?: SeenHook;
}

/**
 * Routes device publishes on the site broker (`site/...`) to the services and answers on the device's answer
 * topic. `route` resolves when the message is either stored (the service resolved, so its records are durable)
 * or refused with a counted code and answered; the site broker then sends the PUBACK. It rejects only when the
 * service failed to store, so the device gets no PUBACK and sends again.
 */
export class MqttSiteAdapter implements Adapter {
  readonly name = 'mqtt-site';
  private readonly c = new Counters();

  constructor(private readonly opts: MqttSiteOptions) {}

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  counters(): Record<string, number> {
    return this.c.snapshot();
  }

  readonly route = async (clientId: string, topic: string, payload: Buffer): Promise<void> => {
    const t = parseSiteTopic(topic);
    if (!t) return this.refuse('E_TOPIC', { clientId, topic });
    this.c.inc('messages');
    if (t.kind === 'alarm') return this.alarm(t.zone, payload);
    const kind = t.kind === 'scan' ? 'scanner' : t.kind === 'pass' ? 'reader' : 'parking';
    const answer = (code: ErrorCode, reqCode = '') => {
      if (t.kind === 'scan') return this.answerScan(t.device, { code: reqCode, result: 'rejected', reason: code });
      if (t.kind === 'pass') return this.answerPass(t.device, { result: 'deny', reason: code });
    };
    if (payload.length > Limits.sitePayloadBytes) {
      this.refuse('E_OVERSIZED', { device: t.device, bytes: payload.length });
      return answer('E_OVERSIZED');
    }
    if (!this.opts.devices.ofKind(t.device, kind)) {
      this.refuse('E_UNKNOWN_DEVICE', { device: t.device, kind });
      return answer('E_UNKNOWN_DEVICE');
    }
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      this.refuse('E_MALFORMED', { device: t.device });
      return answer('E_MALFORMED');
    }
    this.opts.onSeen?.(t.device);
    const svc = this.opts.services;
    if (t.kind === 'parking') {
      if (!parkingReading.check(body)) return this.refuse('E_SCHEMA', { device: t.device, issues: parkingReading.issues(body, 3) });
      if (!svc.parking) return this.refuse('E_UNKNOWN_DEVICE', { device: t.device, why: 'no parking service' });
      await this.call(() => svc.parking!.handle(t.device, body as never));
      this.c.inc('stored_parking');
      return;
    }
    if (t.kind === 'scan') {
      if (!scanRequest.check(body)) {
        const code = typeof (body as { code?: unknown })?.code === 'string' ? (body as { code: string }).code.slice(0, 128) : '';
        this.refuse('E_SCHEMA', { device: t.device, issues: scanRequest.issues(body, 3) });
        return answer('E_SCHEMA', code);
      }
      if (!svc.scan) {
        this.refuse('E_UNKNOWN_DEVICE', { device: t.device, why: 'no bin service' });
        return answer('E_UNKNOWN_DEVICE', body.code);
      }
      const req = body;
      const a = await this.call(() => svc.scan!.handle(t.device, req), () => this.answerScan(t.device, { code: req.code, result: 'rejected', reason: 'E_OUTBOX_FULL' }));
      this.c.inc(`scan_${a.result}`);
      return this.answerScan(t.device, a);
    }
    if (!passRequest.check(body)) {
      this.refuse('E_SCHEMA', { device: t.device, issues: passRequest.issues(body, 3) });
      return answer('E_SCHEMA');
    }
    if (!svc.pass) {
      this.refuse('E_UNKNOWN_DEVICE', { device: t.device, why: 'no gate service' });
      return answer('E_UNKNOWN_DEVICE');
    }
    const req = body;
    const a = await this.call(() => svc.pass!.handle(t.device, req), () => this.answerPass(t.device, { result: 'deny', reason: 'E_OUTBOX_FULL' }));
    this.c.inc(`pass_${a.result}`);
    return this.answerPass(t.device, a);
  };

  /** A fire alarm panel: `{"active": bool}`; stored (gate releases are recorded) before the PUBACK. */
  private async alarm(zone: string, payload: Buffer): Promise<void> {
    if (payload.length > Limits.sitePayloadBytes) return this.refuse('E_OVERSIZED', { zone, bytes: payload.length });
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      return this.refuse('E_MALFORMED', { zone });
    }
    if (!alarmMessage.check(body)) return this.refuse('E_SCHEMA', { zone, issues: alarmMessage.issues(body, 3) });
    const handler = this.opts.services.alarm;
    if (!handler) return this.refuse('E_UNKNOWN_DEVICE', { zone, why: 'no alarm handler' });
    const active = body.active;
    await this.call(() => handler(zone, active));
    this.c.inc(active ? 'alarms_active' : 'alarms_clear');
    this.opts.logger.warn({ zone, active }, 'fire alarm zone changed');
  }

  /** Runs a service call; on failure (records not durable) tells the device and rethrows so no PUBACK goes out. */
  private async call<T>(fn: () => Promise<T>, tell?: () => Promise<void>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const code = err instanceof HutongError ? err.code : 'E_OUTBOX_FULL';
      this.c.inc(`failed_${code.toLowerCase()}`);
      if (tell) await tell().catch(() => {});
      throw err;
    }
  }

  private refuse(code: ErrorCode, detail: Record<string, unknown>): void {
    this.c.inc(rejectedKey(code));
    this.opts.logger.warn({ code, ...detail }, 'site message refused');
  }

  private async answerScan(device: string, a: ScanAnswer): Promise<void> {
    await this.send(site.scanAnswer(device), JSON.stringify(a));
  }

  private async answerPass(device: string, a: PassAnswer): Promise<void> {
    await this.send(site.passAnswer(device), JSON.stringify(a));
  }

  private async send(topic: string, payload: string): Promise<void> {
    try {
      await this.opts.publish(topic, payload);
      this.c.inc('answers');
    } catch (err) {
      this.c.inc('answer_failed');
      this.opts.logger.warn({ err, topic }, 'answer could not be published');
    }
  }
}
