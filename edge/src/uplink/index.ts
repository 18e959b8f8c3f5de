export { BatchIds, buildBatch } from './batch.js';
export { Sender, type SenderOptions } from './sender.js';
export { type DownlinkHandlers, Uplink, type UplinkOptions } from './uplink.js';
