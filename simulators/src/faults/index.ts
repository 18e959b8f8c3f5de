export * from './process.js';
export * from './proxy.js';
export * from './verify.js';
