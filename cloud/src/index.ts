/** The cloud's public surface for other workspaces' tests and tools (simulators, benches, end-to-end tests). */
export { buildApi, InfluxTelemetry, type ApiOptions, type TelemetryReader } from './api/index.js';
export { AedesBroker, type CloudBroker, MosquittoBroker, serviceUsername } from './broker/index.js';
export { startCloud, type RunningCloud, type StartOptions } from './cloud.js';
export { CloudConfig } from './config.js';
export { type DeviceDirectory, type PresenceSink, Registry } from './registry/index.js';
export { type Db, openStore } from './store/index.js';
export { type CloudTls, ensureCerts } from './tls/index.js';
