export { passesPlugin, type PassesPluginOptions } from './plugin.js';
export { PASS_POLICY, validityWindow } from './policy.js';
export { type DownlinkPublish, RevocationPublisher } from './publisher.js';
export { ensurePassesSchema, PASSES_SCHEMA } from './schema.js';
export { type IssuedPass, type IssueInput, type IssuerKey, PassStore } from './store.js';
export { newKeyPair, nodeCrypto } from './crypto.js';

export { Passes } from './passes.js';
export { passesFeature, type PassesFeatureOptions } from './feature.js';
