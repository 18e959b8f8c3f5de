export { Ingest, type IngestOptions, sniffId } from './ingest.js';
export { ImageStore } from './images.js';
export { IngestConfig, InfluxConfig } from './config.js';
