import type { Logger } from 'pino';
import type { Db } from '../store/index.js';
import { DeviceRegistry } from './devices.js';
import { type Gateway, type GatewayInput, GatewayRegistry } from './gateways.js';
import { PresenceTracker } from './presence.js';
import type { ScryptParams } from './secrets.js';
import { Users } from './users.js';

export type { DeviceDirectory, PresenceSink } from './contract.js';
export { type Device, DeviceInput, DeviceRegistry } from './devices.js';
export { type Gateway, type GatewayInput, GatewayRegistry, type IssuedCredential, type VerifyResult } from './gateways.js';
export { type GatewayPresence, PresenceTracker } from './presence.js';
export * from './secrets.js';
export { ALL_GRIDS, ROLES, type Role, type User, type UserInput, Users, userMaySeeGrid } from './users.js';

export interface RegistryOptions {
  db: Db;
  logger: Logger;
  scrypt?: ScryptParams;
  tokenTtlMs?: number;
  presenceFlushMs?: number;
  now?: () => number;
}

/** Everything the cloud knows about gateways, devices and users, over one store. start() loads the caches. */
export class Registry {
  readonly db: Db;
  readonly gateways: GatewayRegistry;
  readonly devices: DeviceRegistry;
  readonly presence: PresenceTracker;
  readonly users: Users;

  constructor(o: RegistryOptions) {
    this.db = o.db;
    this.gateways = new GatewayRegistry({ db: o.db, logger: o.logger, scrypt: o.scrypt, now: o.now });
    this.devices = new DeviceRegistry({ db: o.db, logger: o.logger });
    this.presence = new PresenceTracker({ db: o.db, logger: o.logger, flushMs: o.presenceFlushMs });
    this.users = new Users({ db: o.db, scrypt: o.scrypt, now: o.now, tokenTtlMs: o.tokenTtlMs });
  }

  /** Creates a gateway and makes it known to the device directory at once. */
  async createGateway(input: GatewayInput, actor: string): Promise<Gateway> {
    const g = await this.gateways.create(input, actor);
    await this.devices.refresh(g.id);
    return g;
  }

  async start(): Promise<void> {
    await this.devices.start();
    await this.presence.start();
  }

  async stop(): Promise<void> {
    await this.presence.stop();
  }
}
