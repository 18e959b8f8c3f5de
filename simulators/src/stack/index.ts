export * from './api.js';
export * from './configs.js';
export * from './gates.js';
export * from './ports.js';
export * from './stack.js';
