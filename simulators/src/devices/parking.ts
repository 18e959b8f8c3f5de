import { site, type ParkingReading } from '@hutong/protocols';
import mqtt, { type MqttClient } from 'mqtt';
import type { CompoundProfile } from '../profiles/compound.js';
import { rng } from '../profiles/rng.js';
import type { AcceptanceLog } from './accepted.js';

/**
 * Parking-space sensors: each is its own MQTT client of the gateway's site broker (as real LoRa/NB-IoT bridges
 * or Wi-Fi sensors would be), publishing QoS 1 readings. A PUBACK is the gateway's acceptance. Every reading
 * carries the sensor's frame counter (`fcnt`, +1 per new reading); when mqtt.js resends an unacknowledged publish
 * after a reconnect it sends the same bytes, so the gateway sees the same counter and stores the reading once.
 */
export interface ParkingFleetOptions {
  brokerUrl: string;
  profile: CompoundProfile;
  log: AcceptanceLog;
  seed?: number;
  /** Only the first N sensors (tests); default all. */
  limit?: number;
}

export class ParkingFleet {
  private readonly clients = new Map<string, MqttClient>();
  readonly state = new Map<string, boolean>();
  /** Next frame counter per sensor (uint32, wraps as a LoRaWAN FCnt does). */
  private readonly fcnt = new Map<string, number>();
  private readonly sensors: string[];
  private readonly r: () => number;
  private timer: NodeJS.Timeout | undefined;
  private tick = 0;
  failures = 0;

  constructor(private readonly opts: ParkingFleetOptions) {
    const all = opts.profile.lots.flatMap((l) => l.spaces.map((s) => s.sensor));
    this.sensors = all.slice(0, opts.limit ?? all.length);
    this.r = rng(opts.seed ?? opts.profile.seed + 17);
  }

  get sensorIds(): readonly string[] {
    return this.sensors;
  }

  async start(): Promise<void> {
    await Promise.all(
      this.sensors.map(async (id) => {
        const c = await mqtt.connectAsync(this.opts.brokerUrl, { clientId: id, protocolVersion: 4, reconnectPeriod: 1000, connectTimeout: 5000 });
        c.on('error', () => {
          this.failures++;
        });
        this.clients.set(id, c);
        this.state.set(id, this.r() < 0.6);
      }),
    );
  }

  /** One new reading from one sensor (its frame counter is added unless given); resolves true when PUBACKed. */
  async send(id: string, reading: ParkingReading): Promise<boolean> {
    const c = this.clients.get(id);
    if (!c) throw new Error(`unknown simulated sensor ${id}`);
    if (reading.fcnt === undefined) {
      const fc = this.fcnt.get(id) ?? 0;
      this.fcnt.set(id, (fc + 1) >>> 0);
      reading = { ...reading, fcnt: fc };
    }
    try {
      await c.publishAsync(site.parking(id), JSON.stringify(reading), { qos: 1 });
      this.state.set(id, reading.occ);
      this.opts.log.add({ kind: 'park', device: id, at: Date.now(), detail: reading.occ ? 'occ' : 'free' });
      return true;
    } catch {
      this.failures++;
      return false;
    }
  }

  /**
   * Every sensor reports once per `periodS` (spread evenly over the period), flipping its state with the
   * profile's change probability. `speed` > 1 compresses time for tests and benchmarks.
   */
  run(periodS = this.opts.profile.rates.parkingPeriodS, speed = 1): void {
    const stepMs = (periodS * 1000) / speed / Math.max(1, this.sensors.length);
    this.timer = setInterval(() => {
      const id = this.sensors[this.tick++ % this.sensors.length] as string;
      const prev = this.state.get(id) ?? false;
      const occ = this.r() < this.opts.profile.rates.parkingChangeP ? !prev : prev;
      void this.send(id, { occ, bat: Math.round(60 + this.r() * 40), rssi: Math.round(-110 + this.r() * 50) });
    }, Math.max(1, stepMs));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.clients.values()].map((c) => c.endAsync().catch(() => undefined)));
    this.clients.clear();
  }
}
