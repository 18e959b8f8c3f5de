import { type HutongRecord, type LotRecord, type ParkingReading, type ParkRecord, parkingReading, type StateRecord } from '@hutong/protocols';
import type { Logger } from 'pino';
import type { DeviceService } from '../../adapters/contract.js';
import type { RecordSink, Stamper } from '../../records/sink.js';
import type { ParkingConfig, SpaceConfig } from './config.js';
import { inShareWindow } from './window.js';

export { ParkingSection, type ParkingConfig } from './config.js';
export { inShareWindow } from './window.js';
export { parkingFramesVisitor, seedParkingFrames } from './held.js';

export interface LotCounts {
  free: number;
  occupied: number;
  unknown: number;
}
export type CountsListener = (lot: string, counts: LotCounts) => void;

export interface ParkingServiceOptions {
  config: ParkingConfig;
  sink: RecordSink;
  stamper: Stamper;
  logger: Logger;
  now?: () => number;
  /** Device id on lot records (the gateway computes them). */
  gatewayId?: string;
}

interface SpaceState {
  lot: string;
  cfg: SpaceConfig;
  subject: string;
  grid: string | undefined;
  lastAt: number | undefined;
  /** Value of the latest reading and since when it has held (debounce candidate). */
  cand: boolean | undefined;
  candSince: number;
  /** Debounced state; undefined = unknown. */
  stable: boolean | undefined;
  stableSince: number;
  raised: boolean;
}

/**
 * A frame as the gateway last stored it for one sensor. The counter is the frame's identity; the content is
 * compared as well, so a sensor whose counter restarted (a reboot without saved state) is not taken for a resend
 * unless it also repeats the reading exactly (then nothing but the time of a point is lost).
 */
interface Frame {
  fc: number;
  occ: boolean;
  bat: number | undefined;
  rssi: number | undefined;
}

const sameFrame = (a: Frame, b: Frame): boolean => a.fc === b.fc && a.occ === b.occ && a.bat === b.bat && a.rssi === b.rssi;

/**
 * Parking: one sensor per space. A reading becomes the space's state only once it has held `debounceMs` (flapping
 * sensors do not move the counts); a sensor silent for `silenceMs` makes its space unknown, never free. Counts per
 * lot cover offered spaces: normal and visitor spaces, shared spaces inside a share window; no-parking spaces are
 * never offered. Live counts go to subscribers at once; `lot` records are throttled per lot. A reading with a
 * frame counter (`fcnt`) equal to the sensor's last stored frame is a resend (MQTT QoS 1): answered, not stored.
 */
export class ParkingService implements DeviceService<ParkingReading, void> {
  private readonly bySensor = new Map<string, SpaceState>();
  private readonly byLot = new Map<string, SpaceState[]>();
  private readonly last = new Map<string, LotCounts>();
  private readonly lotRecordAt = new Map<string, number>();
  private readonly pending = new Set<string>();
  private readonly listeners = new Set<CountsListener>();
  private readonly now: () => number;
  private readonly gw: string;
  /** Per sensor: its last frame whose record is durable (docs/faults.md, "QoS 1 redelivery"). */
  private readonly lastFrame = new Map<string, Frame>();
  /** Per sensor: the frame whose append is under way (a resend may arrive before it resolved). */
  private readonly storing = new Map<string, { frame: Frame; done: Promise<void> }>();
  private readonly count = {
    readings: 0,
    replayed: 0,
    unknown_sensor: 0,
    rejected: 0,
    lot_records: 0,
    no_parking: 0,
    space_overstay: 0,
    record_failed: 0,
  };
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: ParkingServiceOptions) {
    this.now = o.now ?? Date.now;
    this.gw = o.gatewayId ?? 'gateway';
    for (const lot of o.config.lots) {
      const states: SpaceState[] = [];
      for (const cfg of lot.spaces) {
        const s: SpaceState = {
          lot: lot.id,
          cfg,
          subject: `${lot.id}.${cfg.id}`.slice(0, 64),
          grid: cfg.grid ?? lot.grid,
          lastAt: undefined,
          cand: undefined,
          candSince: 0,
          stable: undefined,
          stableSince: 0,
          raised: false,
        };
        this.bySensor.set(cfg.sensor, s);
        states.push(s);
      }
      this.byLot.set(lot.id, states);
    }
  }

  async start(): Promise<void> {
    const now = this.now();
    for (const lot of this.byLot.keys()) this.last.set(lot, this.lotCounts(lot, now));
    this.timer = setInterval(() => this.tick(), this.o.config.tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }

  counters(): Record<string, number> {
    return { ...this.count };
  }

  /** Live counts of every lot as of now. */
  counts(): Record<string, LotCounts> {
    const now = this.now();
    const out: Record<string, LotCounts> = {};
    for (const lot of this.byLot.keys()) out[lot] = this.lotCounts(lot, now);
    return out;
  }

  /** Calls `fn` whenever a lot's counts change (for the entrance boards' event stream). Returns unsubscribe. */
  subscribe(fn: CountsListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Takes a park record still held in the outbox as that sensor's last stored frame (called on start, in append
   * order, before devices connect): a sensor that resends a frame whose PUBACK was lost in a power loss is then
   * recognised by the restarted gateway. Returns whether the record carried a frame counter of a mapped sensor.
   */
  seedFrame(rec: ParkRecord): boolean {
    if (rec.fc === undefined || !this.bySensor.has(rec.d)) return false;
    this.lastFrame.set(rec.d, { fc: rec.fc, occ: rec.occ, bat: rec.bat, rssi: rec.rssi });
    return true;
  }

  async handle(sensorId: string, reading: ParkingReading): Promise<void> {
    if (!parkingReading.check(reading)) {
      this.count.rejected++;
      this.o.logger.warn({ code: 'E_SCHEMA', sensor: sensorId }, 'parking: reading does not match its schema');
      return;
    }
    const s = this.bySensor.get(sensorId);
    if (!s) {
      this.count.unknown_sensor++;
      this.o.logger.warn({ code: 'E_UNKNOWN_DEVICE', sensor: sensorId }, 'parking: reading from an unmapped sensor');
      return;
    }
    const frame: Frame | undefined =
      reading.fcnt === undefined ? undefined : { fc: reading.fcnt, occ: reading.occ, bat: reading.bat, rssi: reading.rssi };
    if (frame !== undefined) {
      // MQTT QoS 1 is at least once: a frame whose PUBACK the sensor never got comes again, with the same
      // counter. Its record is already durable (or about to be): answer it, store nothing, observe nothing new.
      const last = this.lastFrame.get(sensorId);
      const busy = this.storing.get(sensorId);
      if (busy !== undefined && sameFrame(busy.frame, frame)) {
        await busy.done;
        this.count.replayed++;
        return;
      }
      if (last !== undefined && sameFrame(last, frame)) {
        this.count.replayed++;
        this.o.logger.debug({ sensor: sensorId, fcnt: frame.fc }, 'parking: resent frame answered, not stored again');
        return;
      }
    }
    this.count.readings++;
    const now = this.now();
    // The sensor's state is observed now, whatever becomes of its record: update first, then record.
    const events: HutongRecord[] = [];
    this.settle(s, now, events);
    if (s.lastAt === undefined || now - s.lastAt > this.o.config.silenceMs || s.cand !== reading.occ) {
      s.cand = reading.occ;
      s.candSince = now;
    }
    s.lastAt = now;
    this.settle(s, now, events);
    const rec: ParkRecord = { k: 'park', d: sensorId, ts: this.o.stamper.stamp(sensorId), lot: s.lot, space: s.cfg.id, occ: reading.occ };
    if (reading.bat !== undefined) rec.bat = reading.bat;
    if (reading.rssi !== undefined) rec.rssi = reading.rssi;
    if (frame !== undefined) rec.fc = frame.fc;
    this.refresh(s.lot, now, events);
    const done = this.o.sink.append([rec, ...events]);
    if (frame === undefined) return done;
    const entry = { frame, done };
    this.storing.set(sensorId, entry);
    try {
      await done;
      // Only a durable frame counts as stored: if the append failed, no PUBACK went out and the resend must be stored.
      this.lastFrame.set(sensorId, frame);
    } finally {
      if (this.storing.get(sensorId) === entry) this.storing.delete(sensorId);
    }
  }

  /** Evaluates debounce, silence, share windows and overstays as of now; called every `tickMs`. */
  tick(): void {
    const now = this.now();
    const events: HutongRecord[] = [];
    for (const [lot, states] of this.byLot) {
      for (const s of states) this.settle(s, now, events);
      this.refresh(lot, now, events);
    }
    if (events.length > 0) this.background(events);
  }

  /** Promotes a held candidate to the stable state, drops silent sensors to unknown, raises space events. */
  private settle(s: SpaceState, now: number, events: HutongRecord[]): void {
    const { debounceMs, silenceMs, visitorOverstayMs } = this.o.config;
    if (s.lastAt === undefined || now - s.lastAt > silenceMs) {
      s.stable = undefined;
      s.cand = undefined;
    } else if (s.cand !== undefined && s.stable !== s.cand && now - s.candSince >= debounceMs) {
      s.stable = s.cand;
      s.stableSince = s.candSince;
    }
    if (s.stable !== true) {
      s.raised = false;
      return;
    }
    if (s.raised) return;
    if (s.cfg.type === 'no_parking') {
      s.raised = true;
      this.count.no_parking++;
      events.push(this.stateRecord(s, 'no_parking', 'occupied no-parking space'));
    } else if (s.cfg.type === 'visitor' && now - s.stableSince > visitorOverstayMs) {
      s.raised = true;
      this.count.space_overstay++;
      events.push(this.stateRecord(s, 'space_overstay', `visitor space occupied ${Math.round((now - s.stableSince) / 60_000)} min`));
    }
  }

  private effective(s: SpaceState, now: number): boolean | undefined {
    if (s.lastAt === undefined || now - s.lastAt > this.o.config.silenceMs) return undefined;
    if (s.cand !== undefined && now - s.candSince >= this.o.config.debounceMs) return s.cand;
    return s.stable;
  }

  private offered(s: SpaceState, now: number): boolean {
    const t = s.cfg.type;
    if (t === 'normal' || t === 'visitor') return true;
    if (t === 'shared') return inShareWindow(s.cfg.share, now, this.o.config.tzOffsetMin);
    return false;
  }

  private lotCounts(lot: string, now: number): LotCounts {
    const c: LotCounts = { free: 0, occupied: 0, unknown: 0 };
    for (const s of this.byLot.get(lot) ?? []) {
      if (!this.offered(s, now)) continue;
      const st = this.effective(s, now);
      if (st === undefined) c.unknown++;
      else if (st) c.occupied++;
      else c.free++;
    }
    return c;
  }

  /** Recomputes one lot; tells subscribers on a change and emits a lot record when its throttle allows. */
  private refresh(lot: string, now: number, events: HutongRecord[]): void {
    const c = this.lotCounts(lot, now);
    const prev = this.last.get(lot);
    if (!prev || prev.free !== c.free || prev.occupied !== c.occupied || prev.unknown !== c.unknown) {
      this.last.set(lot, c);
      this.pending.add(lot);
      for (const fn of this.listeners) {
        try {
          fn(lot, { ...c });
        } catch (e) {
          this.o.logger.error({ err: e }, 'parking: counts listener failed');
        }
      }
    }
    if (!this.pending.has(lot)) return;
    const at = this.lotRecordAt.get(lot);
    if (at !== undefined && now - at < this.o.config.lotThrottleMs) return;
    this.pending.delete(lot);
    this.lotRecordAt.set(lot, now);
    this.count.lot_records++;
    const rec: LotRecord = { k: 'lot', d: this.gw, ts: this.o.stamper.stamp(this.gw), lot, ...c };
    events.push(rec);
  }

  private stateRecord(s: SpaceState, type: 'no_parking' | 'space_overstay', detail: string): StateRecord {
    const rec: StateRecord = { k: 'state', d: s.cfg.sensor, ts: this.o.stamper.stamp(s.cfg.sensor), type, subject: s.subject, detail };
    if (s.grid) rec.grid = s.grid;
    return rec;
  }

  private background(recs: HutongRecord[]): void {
    this.o.sink.append(recs).catch((e: unknown) => {
      this.count.record_failed++;
      this.o.logger.error({ err: e }, 'parking: lot/state records could not be stored');
    });
  }
}
