import type { StateRecord } from '@hutong/protocols';
import type { Logger } from 'pino';
import type { DeviceEntry, HealthSection } from '../config/schema.js';
import type { RecordSink, Stamper } from '../records/sink.js';

export interface DeviceState {
  id: string;
  kind: DeviceEntry['kind'];
  lastSeenMs: number | undefined;
  online: boolean;
}

export interface DeviceHealthOptions {
  gatewayId: string;
  devices: readonly DeviceEntry[];
  config: HealthSection;
  sink: RecordSink;
  stamper: Stamper;
  logger: Logger;
  now?: () => number;
}

/**
 * Device availability, decided here at the edge (one timeout, in one place): a device not heard from for its
 * kind's timeout becomes `device_silent`, and `device_back` when it is heard again. A device never heard since
 * the gateway started counts from the start, so a dead device is reported too. The cloud only adds grace,
 * priority and routing on top of these state records.
 */
export class DeviceHealth {
  private readonly state = new Map<string, { entry: DeviceEntry; last: number | undefined; silent: boolean }>();
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private checking: Promise<void> = Promise.resolve();
  private emitted = { silent: 0, back: 0, failed: 0 };

  constructor(private readonly o: DeviceHealthOptions) {
    this.now = o.now ?? Date.now;
    for (const d of o.devices) this.state.set(d.id, { entry: d, last: undefined, silent: false });
  }

  async start(): Promise<void> {
    this.startedAt = this.now();
    this.timer = setInterval(() => {
      this.checking = this.check();
    }, this.o.config.checkIntervalS * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.checking;
  }

  /** A well-formed message from this device arrived. */
  readonly seen = (id: string): void => {
    const s = this.state.get(id);
    if (!s) return;
    s.last = this.now();
    if (s.silent) {
      s.silent = false;
      this.emit('device_back', s.entry, 'heard again').catch(() => {}); // emit logs and counts its own failure
    }
  };

  /** Runs one availability check now (the timer calls it; tests call it with their own clock). */
  async check(): Promise<void> {
    const now = this.now();
    const recs: Promise<void>[] = [];
    for (const s of this.state.values()) {
      if (s.silent) continue;
      const timeoutMs = this.o.config.timeoutsS[s.entry.kind] * 1000;
      const since = s.last ?? this.startedAt;
      if (now - since >= timeoutMs) {
        s.silent = true;
        recs.push(this.emit('device_silent', s.entry, s.last === undefined ? 'not heard since start' : `silent ${Math.round((now - since) / 1000)} s`));
      }
    }
    await Promise.all(recs);
  }

  devices(): DeviceState[] {
    return [...this.state.values()].map((s) => ({ id: s.entry.id, kind: s.entry.kind, lastSeenMs: s.last, online: !s.silent }));
  }

  counters(): Record<string, number> {
    let silent = 0;
    for (const s of this.state.values()) if (s.silent) silent++;
    return { devices: this.state.size, devices_silent: silent, silent_events: this.emitted.silent, back_events: this.emitted.back, record_failed: this.emitted.failed };
  }

  private async emit(type: 'device_silent' | 'device_back', d: DeviceEntry, detail: string): Promise<void> {
    if (type === 'device_silent') this.emitted.silent++;
    else this.emitted.back++;
    this.o.logger[type === 'device_silent' ? 'warn' : 'info']({ device: d.id, kind: d.kind, detail }, type);
    const rec: StateRecord = {
      k: 'state',
      d: this.o.gatewayId,
      ts: this.o.stamper.stamp(this.o.gatewayId),
      type,
      subject: d.id,
      detail,
      ...(d.grid ? { grid: d.grid } : {}),
    };
    try {
      await this.o.sink.append([rec]);
    } catch (err) {
      this.emitted.failed++;
      this.o.logger.error({ err, device: d.id, type }, 'state record not stored');
    }
  }
}
