import type { ParkingReading, PassAnswer, PassRequest, ScanAnswer, ScanRequest } from '@hutong/protocols';
import type { DeviceService } from './contract.js';

/** The device-facing services the adapters route to; a missing one means that kind of device is refused. */
export interface SiteServices {
  scan?: DeviceService<ScanRequest, ScanAnswer>;
  parking?: DeviceService<ParkingReading, void>;
  pass?: DeviceService<PassRequest, PassAnswer>;
  /** A fire alarm zone went active or clear (site/alarm/{zone}); resolves once its records are durable. */
  alarm?: (zone: string, active: boolean) => Promise<void>;
}

/** Called for every well-formed message from a registered device (health's last-seen). */
export type SeenHook = (deviceId: string) => void;

/** Counter names follow the gwstats key pattern `^[a-z0-9_.]{1,64}$`. */
export class Counters {
  private readonly m = new Map<string, number>();
  inc(name: string, by = 1): void {
    this.m.set(name, (this.m.get(name) ?? 0) + by);
  }
  get(name: string): number {
    return this.m.get(name) ?? 0;
  }
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.m);
  }
}

export const rejectedKey = (code: string): string => `rejected_${code.toLowerCase()}`;
