export { type ApiOptions, buildApi } from './app.js';
export { currentUser } from './auth.js';
export { RateLimiter } from './rate-limit.js';
export type { ApiServices, Check } from './services.js';
export { type Collection, InfluxTelemetry, type GwStats, type LotState, type TelemetryReader } from './telemetry.js';
