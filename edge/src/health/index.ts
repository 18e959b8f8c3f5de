export { DeviceHealth, type DeviceHealthOptions, type DeviceState } from './devices.js';
export { renderMetrics } from './metrics.js';
export { flattenCounters, GatewayStats, type GatewayStatsOptions, ProcessSampler, type ProcessSample, type StatsSources } from './stats.js';
