import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import { Counters } from '../adapters/services.js';
import type { SiteBrokerSection } from '../config/schema.js';

/**
 * Decides what happens to one device publish. Resolving means "acknowledge" (PUBACK): the message was either
 * stored durably or received, answered and refused. Rejecting means "not accepted": no PUBACK, the connection
 * is closed and the device sends the message again after it reconnects.
 */
export type PublishRouter = (clientId: string, topic: string, payload: Buffer) => Promise<void>;

export interface SiteBrokerOptions {
  config: SiteBrokerSection;
  logger: Logger;
  route: PublishRouter;
}

/**
 * The embedded aedes broker for on-site devices (MQTT 3.1.1). Acceptance is the PUBACK: aedes writes the PUBACK
 * of a QoS 1 publish only after `authorizePublish` called back, so the hook waits for the router (and through it
 * for the outbox append) before it calls back.
 */
export class SiteBroker {
  private broker: Aedes | undefined;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly counters = new Counters();
  private readonly creds: Map<string, string> | undefined;

  constructor(private readonly opts: SiteBrokerOptions) {
    const list = opts.config.credentials;
    this.creds = list ? new Map(list.map((c) => [c.username, c.password])) : undefined;
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const log = this.opts.logger;
    const broker = await Aedes.createBroker({
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, cb) => this.authorizePublish(client, packet, cb),
      authorizeSubscribe: (_client, sub, cb) => {
        if (!mayDeviceSubscribe(sub.topic)) {
          this.counters.inc('subscribe_refused');
          cb(null, null); // SUBACK failure (0x80), the connection stays
        } else cb(null, sub);
      },
    });
    broker.on('clientError', (client, err) => log.debug({ client: client.id, err: err.message }, 'site client error'));
    broker.on('connectionError', (_client, err) => {
      this.counters.inc('connection_errors');
      log.debug({ err: err.message }, 'site connection error');
    });
    broker.on('client', () => this.counters.inc('connects'));
    this.broker = broker;
    const server = createServer((sock) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
      sock.on('error', () => {}); // aedes reports it; an unhandled socket error must not crash the process
      broker.handle(sock);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.config.port, this.opts.config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => log.error({ err }, 'site broker server error'));
    log.info({ port: this.port, host: this.opts.config.host }, 'site broker listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    const broker = this.broker;
    this.server = undefined;
    this.broker = undefined;
    if (server) {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of this.sockets) s.destroy();
      await closed;
    }
    if (broker) await new Promise<void>((r) => broker.close(() => r()));
  }

  /** Publishes an answer or a relay command to devices (QoS 1, not retained). */
  publish(topic: string, payload: string | Buffer): Promise<void> {
    const broker = this.broker;
    if (!broker) return Promise.resolve();
    const packet = { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false } as PublishPacket;
    return new Promise((resolve, reject) => broker.publish(packet, (err) => (err ? reject(err) : resolve())));
  }

  stats(): Record<string, number> {
    return { ...this.counters.snapshot(), clients: this.broker?.connectedClients ?? 0 };
  }

  /**
   * Refuses CONNECTs that MQTT 3.1.1 says to close but aedes accepts (FACTS.md): a client id that is not valid
   * UTF-8 or holds U+0000 [MQTT-1.5.3-1, -2], NUL in the username, a password without a username [MQTT-3.1.2-22].
   */
  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: AuthenticateError | null, ok: boolean | null) => void,
  ): void {
    const id = client.id ?? '';
    const bad = connectProblem(id, username, password);
    if (bad) {
      this.counters.inc('connect_refused');
      this.opts.logger.warn({ code: 'E_BAD_CONNECT', client: id, why: bad.why }, 'site CONNECT refused');
      done(Object.assign(new Error(`E_BAD_CONNECT: ${bad.why}`), { returnCode: bad.returnCode }) as AuthenticateError, false);
      return;
    }
    if (this.creds) {
      const want = username === undefined ? undefined : this.creds.get(username);
      if (want === undefined || password === undefined || password.toString('utf8') !== want) {
        this.counters.inc('auth_failed');
        this.opts.logger.warn({ code: 'E_AUTH', client: id, username }, 'site device login refused');
        done(Object.assign(new Error('E_AUTH: bad credentials'), { returnCode: 4 }) as AuthenticateError, false);
        return;
      }
    }
    done(null, true);
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    // The broker's own publishes (answers, relay commands, wills) pass untouched.
    if (!client) {
      cb(null);
      return;
    }
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (payload.length > this.opts.config.maxPacket) {
      this.counters.inc('rejected_e_oversized_packet');
      this.opts.logger.warn({ code: 'E_OVERSIZED', client: client.id, bytes: payload.length }, 'site packet above maxPacket: closing');
      cb(new Error('E_OVERSIZED: packet above maxPacket'));
      return;
    }
    this.counters.inc('publishes');
    this.opts.route(client.id, packet.topic, payload).then(
      () => cb(null),
      (err: unknown) => {
        this.counters.inc('not_accepted');
        this.opts.logger.error({ err, client: client.id, topic: packet.topic }, 'site publish not accepted: no PUBACK');
        cb(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }
}

function connectProblem(
  id: string,
  username: string | undefined,
  password: Buffer | undefined,
): { returnCode: 2 | 4; why: string } | undefined {
  if (id.includes('\uFFFD') || id.includes('\u0000')) return { returnCode: 2, why: 'client id is not valid UTF-8' };
  if (username !== undefined && (username.includes('\u0000') || username.includes('\uFFFD'))) {
    return { returnCode: 4, why: 'NUL or invalid UTF-8 in username' };
  }
  if (password !== undefined && username === undefined) return { returnCode: 4, why: 'password without username' };
  return undefined;
}

/**
 * Devices may listen only to what the gateway sends them: scanner answers, reader decisions and gate relay
 * commands (one device or `+`). Never `#` or the request topics, so one device cannot read another's pass codes.
 */
const DEVICE_SUB = /^site\/(scanner\/[^/#]+\/answer|reader\/[^/#]+\/decision|gate\/[^/#]+\/relay)$/;
export function mayDeviceSubscribe(filter: string): boolean {
  return DEVICE_SUB.test(filter);
}
