import { type AddressInfo, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Limits } from '@hutong/protocols';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from 'pino';
import type { GatewayRegistry } from '../registry/index.js';
import { randomSecret, safeEqual } from '../registry/index.js';
import type { CloudTls } from '../tls/index.js';
import { type CloudBroker, SERVICE_NAMES, type ServiceCredential, type ServiceName, serviceUsername } from './contract.js';
import { PacketSizeGuard } from './packet-guard.js';
import { checkConnect, checkPublish, checkSubscribe, checkWill, type Decision, type Principal } from './policy.js';

export interface AedesBrokerOptions {
  tls: CloudTls;
  gateways: Pick<GatewayRegistry, 'verify' | 'onCredentialsChanged'>;
  logger: Logger;
  host?: string;
  /** TLS port for gateways; 0 picks a free one. */
  port?: number;
  /** Plain TCP listener on loopback for the cloud's own service clients (undefined: none; 0: any free port). */
  servicePort?: number;
  maxPacket?: number;
}

/**
 * The embedded broker: aedes behind a TLS listener. Every gateway is authenticated against the registry and
 * held to its own topic prefix; every refusal is logged with its code and counted, and the broker keeps serving.
 * aedes speaks MQTT 3.1.1 only, so a refused PUBLISH closes the offending connection (the spec has no negative
 * PUBACK) and a refused SUBSCRIBE gets the failure return code 0x80.
 */
export class AedesBroker implements CloudBroker {
  readonly kind = 'aedes' as const;
  readonly sharedSubscriptions = false;
  private readonly o: AedesBrokerOptions;
  private readonly log: Logger;
  private readonly maxPacket: number;
  private readonly secrets = new Map<string, string>();
  private readonly principals = new WeakMap<Client, Principal>();
  /** Client id → principal that first used it: one gateway cannot take over another's session by its id. */
  private readonly owners = new Map<string, string>();
  private readonly count = new Map<string, number>();
  private broker: Aedes | undefined;
  private tlsServer: TlsServer | undefined;
  private readonly sockets = new Set<Socket>();
  private plainServer: NetServer | undefined;
  private offCreds: (() => void) | undefined;
  private _url = '';
  private _serviceUrl = '';

  constructor(o: AedesBrokerOptions) {
    this.o = o;
    this.log = o.logger.child({ component: 'broker' });
    this.maxPacket = o.maxPacket ?? Limits.maxPacket;
  }

  get url(): string {
    return this._url;
  }
  get serviceUrl(): string {
    return this._serviceUrl;
  }

  service(name: ServiceName): ServiceCredential {
    const username = serviceUsername(name);
    const password = this.secrets.get(username);
    if (!password) throw new Error(`broker not started: no credential for ${name}`);
    return { username, password };
  }

  counters(): Record<string, number> {
    return Object.fromEntries(this.count);
  }

  state(): 'up' | 'down' {
    return this.broker && !this.broker.closed && this.tlsServer?.listening ? 'up' : 'down';
  }

  private bump(key: string): void {
    this.count.set(key, (this.count.get(key) ?? 0) + 1);
  }

  private refuse(d: Decision & { ok: false }, client: Client | null, what: string): void {
    this.bump(d.code);
    const p = client ? this.principals.get(client) : undefined;
    this.log.warn({ code: d.code, clientId: client?.id, principal: p, what }, d.why);
  }

  async start(): Promise<void> {
    for (const n of SERVICE_NAMES) this.secrets.set(serviceUsername(n), randomSecret());
    const broker = await Aedes.createBroker({
      maxClientsIdLength: 128,
      preConnect: (client, packet, cb) => {
        const d = checkConnect(packet.clientId ?? '', packet.username, packet.password);
        if (!d.ok) {
          this.refuse(d, client, 'connect');
          return cb(new Error(`${d.code}: ${d.why}`), false); // an error closes the connection without CONNACK [MQTT-1.5.3-1]
        }
        cb(null, true);
      },
      authenticate: (client, username, password, done) => {
        this.authenticate(client, username, password).then(
          (err) => done(err, err === null),
          (e) => {
            this.log.error({ err: e }, 'authentication failed unexpectedly');
            done(authError(3), false); // server unavailable: the client retries later
          },
        );
      },
      authorizePublish: (client, packet, cb) => {
        const p = client ? this.principals.get(client) : undefined;
        if (!client) return cb(null); // the broker's own publishes (none today)
        if (!p) return cb(new Error('not authenticated'));
        const d = checkPublish(p, packet.topic, packet.payload?.length ?? 0, this.maxPacket);
        if (!d.ok) {
          this.refuse(d, client, 'publish');
          return cb(new Error(`${d.code}: ${d.why}`));
        }
        this.bump('publish.ok');
        cb(null);
      },
      authorizeSubscribe: (client, sub, cb) => {
        const p = this.principals.get(client);
        const d: Decision = p ? checkSubscribe(p, sub.topic, this.sharedSubscriptions) : { ok: false, code: 'E_AUTH', why: 'no principal' };
        if (!d.ok) {
          this.refuse(d, client, 'subscribe');
          if (sub.topic.startsWith('$share/')) this.bump('share_refused');
          return cb(null, null); // SUBACK 0x80, the connection stays
        }
        cb(null, sub);
      },
    });
    broker.on('clientError', (client, err) => this.log.debug({ clientId: client.id, err: err.message }, 'client error'));
    broker.on('connectionError', (client, err) => this.log.debug({ clientId: client.id, err: err.message }, 'connection error'));
    broker.on('clientDisconnect', () => this.bump('disconnect'));
    this.broker = broker;

    this.offCreds = this.o.gateways.onCredentialsChanged((gw) => this.dropGateway(gw));

    const host = this.o.host ?? '127.0.0.1';
    const tlsServer = createTlsServer({ cert: this.o.tls.certPem, key: this.o.tls.keyPem, minVersion: 'TLSv1.2' }, (socket) => {
      socket.on('error', () => {});
      broker.handle(socket);
      this.guard(socket);
    });
    // Raw sockets (also those still in the TLS handshake) are tracked so stop() leaves nothing open.
    tlsServer.on('connection', (s) => this.track(s));
    tlsServer.on('tlsClientError', (err) => {
      this.bump('tls_error');
      this.log.debug({ err: err.message }, 'TLS handshake failed');
    });
    this.tlsServer = tlsServer;
    const port = await listen(tlsServer, this.o.port ?? 8883, host);
    this._url = `mqtts://${host === '127.0.0.1' || host === '0.0.0.0' ? 'localhost' : host}:${port}`;

    if (this.o.servicePort !== undefined) {
      const plain = createNetServer((socket) => {
        this.track(socket);
        socket.on('error', () => {});
        (socket as unknown as { hutongPlain: boolean }).hutongPlain = true;
        broker.handle(socket);
        this.guard(socket);
      });
      this.plainServer = plain;
      const sp = await listen(plain, this.o.servicePort, '127.0.0.1');
      this._serviceUrl = `mqtt://127.0.0.1:${sp}`;
    } else {
      this._serviceUrl = this._url;
    }
    this.log.info({ url: this._url, serviceUrl: this._serviceUrl }, 'aedes broker listening');
  }

  private async authenticate(client: Client, username: string | undefined, password: Buffer | undefined): Promise<AuthenticateError | null> {
    if (username === undefined || password === undefined) {
      this.refuse({ ok: false, code: 'E_AUTH', why: 'no username or password' }, client, 'connect');
      return authError(4);
    }
    const secret = password.toString('utf8');
    const plain = (client.conn as unknown as { hutongPlain?: boolean }).hutongPlain === true;
    let principal: Principal;
    const svc = this.secrets.get(username);
    if (svc !== undefined) {
      if (!safeEqual(secret, svc)) {
        this.refuse({ ok: false, code: 'E_AUTH', why: `bad secret for service ${username}` }, client, 'connect');
        return authError(4);
      }
      principal = { kind: 'service', name: username };
    } else {
      if (plain) {
        this.refuse({ ok: false, code: 'E_AUTH', why: 'gateways must connect over TLS' }, client, 'connect');
        return authError(5);
      }
      const r = await this.o.gateways.verify(username, secret);
      if (!r.ok) {
        this.refuse({ ok: false, code: r.code, why: `gateway ${username} refused` }, client, 'connect');
        return authError(r.code === 'E_AUTH' ? 4 : 5);
      }
      principal = { kind: 'gateway', gw: r.gateway };
      const will = checkWill(principal, (client as unknown as { _will?: { topic?: string } })._will?.topic);
      if (!will.ok) {
        this.refuse(will, client, 'connect');
        return authError(5);
      }
    }
    const who = principal.kind === 'gateway' ? `gw:${principal.gw}` : `svc:${principal.name}`;
    const owner = this.owners.get(client.id);
    if (owner !== undefined && owner !== who) {
      this.refuse({ ok: false, code: 'E_BAD_CONNECT', why: `client id ${client.id} belongs to ${owner}` }, client, 'connect');
      return authError(2);
    }
    if (this.owners.size > 100_000) this.owners.clear();
    this.owners.set(client.id, who);
    this.principals.set(client, principal);
    this.bump('connect.ok');
    return null;
  }

  /** A revoked or replaced credential ends the gateway's live sessions; it must reconnect with its new secret. */
  private dropGateway(gw: string): void {
    const clients = (this.broker as unknown as { clients?: Record<string, Client> } | undefined)?.clients ?? {};
    for (const c of Object.values(clients)) {
      const p = this.principals.get(c);
      if (p?.kind === 'gateway' && p.gw === gw) {
        this.log.info({ gw, clientId: c.id }, 'closing session after credential change');
        c.close();
      }
    }
  }

  /**
   * Drops a connection that announces a packet above the limit (payload limit plus room for the topic and
   * headers) before aedes buffers it. A 'data' listener beside aedes' 'readable' one sees every chunk aedes reads
   * without changing how it reads.
   */
  private guard(socket: Duplex): void {
    const g = new PacketSizeGuard(this.maxPacket + 64 * 1024);
    const onData = (chunk: Buffer) => {
      const over = g.feed(chunk);
      if (over === undefined) return;
      socket.off('data', onData);
      this.bump('E_OVERSIZED');
      this.log.warn({ code: 'E_OVERSIZED', declared: over }, 'MQTT packet larger than the limit: connection closed');
      socket.destroy();
    };
    socket.on('data', onData);
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
  }

  async stop(): Promise<void> {
    this.offCreds?.();
    this.offCreds = undefined;
    const broker = this.broker;
    this.broker = undefined;
    const closing = Promise.all([closeServer(this.tlsServer), closeServer(this.plainServer)]);
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closing;
    this.tlsServer = undefined;
    this.plainServer = undefined;
  }
}

function authError(returnCode: 2 | 3 | 4 | 5): AuthenticateError {
  const e = new Error('refused') as AuthenticateError;
  e.returnCode = returnCode as AuthenticateError['returnCode'];
  return e;
}

async function listen(server: NetServer, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

async function closeServer(s: NetServer | undefined): Promise<void> {
  if (!s?.listening) return;
  await new Promise<void>((resolve) => s.close(() => resolve()));
}
