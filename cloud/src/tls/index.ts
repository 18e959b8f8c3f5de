export { type CloudTls, ensureCerts, type TlsOptions } from './certs.js';
