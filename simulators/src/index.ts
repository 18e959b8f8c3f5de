export * from './devices/accepted.js';
export * from './devices/lines.js';
export * from './devices/parking.js';
export * from './devices/scanners.js';
export * from './profiles/compound.js';
export * from './profiles/rng.js';
export * from './faults/index.js';
export * from './stack/index.js';
