export { startInfluxd, ensureDatabase, influxQuery, freePort, HUTONG_RETENTION, type Influxd, type InfluxdOptions, type RetentionPolicy } from './influxd.js';
export { LineBuffer, RP_OF_KIND, BOUNDED_TAG_KEYS, type RetentionName } from './lines.js';
export { InfluxWriter, type WriterOptions, type WriteResult } from './writer.js';
