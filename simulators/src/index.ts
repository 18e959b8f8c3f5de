export * from './profiles/compound.js';
export * from './profiles/rng.js';
