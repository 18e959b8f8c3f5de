export { EdgeConfig } from './edge-config.js';
export { checkEdgeConfig, loadConfig, type LoadResult } from './load.js';
export * from './schema.js';
