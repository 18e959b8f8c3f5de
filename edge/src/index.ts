export { type AgentOptions, type RunningAgent, startAgent } from './agent.js';
export { checkEdgeConfig, EdgeConfig, loadConfig } from './config/index.js';
export type { Adapter, DeviceService } from './adapters/contract.js';
export type { Outbox } from './outbox/contract.js';
export type { RecordSink, Stamper } from './records/sink.js';
