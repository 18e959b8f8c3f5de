import { type Static, Type } from '@sinclair/typebox';
import {
  DeviceEntry,
  GatewaySection,
  HealthSection,
  HttpSection,
  OpenSection,
  SiteBrokerSection,
  UplinkSection,
} from './schema.js';

/**
 * The whole gateway config file: the gateway's own sections plus those of the outbox, the domain services and
 * the camera pipeline. A section whose module has not landed yet is an open object (see `OpenSection`).
 */
export const EdgeConfig = Type.Object(
  {
    gateway: GatewaySection,
    uplink: UplinkSection,
    broker: Type.Object(SiteBrokerSection.properties, { additionalProperties: false, default: {} }),
    devices: Type.Array(DeviceEntry, { default: [], maxItems: 10_000 }),
    health: Type.Object(HealthSection.properties, { additionalProperties: false, default: {} }),
    http: Type.Object(HttpSection.properties, { additionalProperties: false, default: {} }),
    outbox: OpenSection('outbox bounds and storage (edge/src/outbox)'),
    bins: OpenSection('bin registry and duplicate window (edge/src/services/bins)'),
    parking: OpenSection('lots and overstay rules (edge/src/services/parking)'),
    gates: OpenSection('pass verification (edge/src/services/gates)'),
    cameras: OpenSection('camera pipeline (edge/src/camera)'),
  },
  { additionalProperties: false },
);
export type EdgeConfig = Static<typeof EdgeConfig>;
