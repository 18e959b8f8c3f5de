export { AedesBroker, type AedesBrokerOptions } from './aedes.js';
export { type CloudBroker, SERVICE_NAMES, type ServiceCredential, type ServiceName, serviceUsername } from './contract.js';
export { checkConnect, checkPublish, checkSubscribe, checkWill, type Decision, type Principal } from './policy.js';
export { aclFile, MosquittoBroker, type MosquittoBrokerOptions } from './mosquitto.js';
