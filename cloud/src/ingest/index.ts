export { Ingest, type IngestOptions, sniffId } from './ingest.js';
export { ImageStore } from './images.js';
