/**
 * What the rest of the cloud needs from an MQTT broker, embedded (aedes) or external (Mosquitto): where
 * gateways connect (TLS), where in-process service clients connect, their credentials, and refusal counters.
 */
export interface ServiceCredential {
  username: string;
  password: string;
}

export interface CloudBroker {
  readonly kind: 'aedes' | 'mosquitto';
  /** MQTT 3.1.1 shared subscriptions ($share/group/filter) work on this broker. */
  readonly sharedSubscriptions: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** mqtts:// URL gateways use (valid after start). */
  readonly url: string;
  /** URL for the cloud's own clients (ingest, API downlink): loopback, plain TCP or TLS. */
  readonly serviceUrl: string;
  /** Credentials of a service account (random per start). */
  service(name: ServiceName): ServiceCredential;
  counters(): Record<string, number>;
  /** Resolves once credential changes so far are in force at the broker (external brokers reload files). */
  whenSynced?(): Promise<void>;
  state(): 'up' | 'down';
}

export type ServiceName = 'ingest' | 'api';
export const SERVICE_NAMES: readonly ServiceName[] = ['ingest', 'api'];

/**
 * Service usernames start with `_`, which no gateway id may (ids start with a letter or digit), so a gateway
 * can never be registered under a service account's name.
 */
export const serviceUsername = (name: ServiceName): string => `_svc.${name}`;
