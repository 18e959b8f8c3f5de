import type { DeviceEntry } from '../config/schema.js';

/** The devices this gateway serves, from the config file; one lookup per incoming message. */
export class DeviceRegistry {
  private readonly byId = new Map<string, DeviceEntry>();

  constructor(devices: readonly DeviceEntry[]) {
    for (const d of devices) this.byId.set(d.id, d);
  }

  get(id: string): DeviceEntry | undefined {
    return this.byId.get(id);
  }

  /** The device if it is registered with this kind, else undefined (a reader cannot post scans). */
  ofKind(id: string, kind: DeviceEntry['kind']): DeviceEntry | undefined {
    const d = this.byId.get(id);
    return d?.kind === kind ? d : undefined;
  }

  all(): DeviceEntry[] {
    return [...this.byId.values()];
  }
}
