export { type PublishRouter, SiteBroker, type SiteBrokerOptions } from './site-broker.js';
