import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { CameraSection } from '../camera/index.js';
import { OutboxSection } from '../outbox/index.js';
import { BinsSection } from '../services/bins/index.js';
import { GatesSection } from '../services/gates/index.js';
import { ParkingSection } from '../services/parking/index.js';
import {
  DeviceEntry,
  GatewaySection,
  HealthSection,
  HttpSection,
  SiteBrokerSection,
  UplinkSection,
} from './schema.js';

/**
 * The whole gateway config file: the gateway's own sections plus those of the outbox, the domain services and
 * the camera pipeline (each section's schema lives with the code that reads it). Every section may be left out
 * of the file: its defaults apply.
 */
const optional = <T extends TSchema>(s: T): T => ({ ...s, default: {} });

export const EdgeConfig = Type.Object(
  {
    gateway: GatewaySection,
    uplink: UplinkSection,
    broker: Type.Object(SiteBrokerSection.properties, { additionalProperties: false, default: {} }),
    devices: Type.Array(DeviceEntry, { default: [], maxItems: 10_000 }),
    health: Type.Object(HealthSection.properties, { additionalProperties: false, default: {} }),
    http: Type.Object(HttpSection.properties, { additionalProperties: false, default: {} }),
    outbox: optional(OutboxSection),
    bins: optional(BinsSection),
    parking: optional(ParkingSection),
    gates: optional(GatesSection),
    cameras: optional(CameraSection),
  },
  { additionalProperties: false },
);
export type EdgeConfig = Static<typeof EdgeConfig>;
