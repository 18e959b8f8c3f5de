export { GatewayHttp, type GatewayHttpOptions } from './server.js';
