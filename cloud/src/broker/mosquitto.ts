import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { connect as netConnect, createServer } from 'node:net';
import { join } from 'node:path';
import { HutongError, Limits } from '@hutong/protocols';
import mqtt from 'mqtt';
import type { Logger } from 'pino';
import type { GatewayRegistry } from '../registry/index.js';
import { mosquittoHash, randomSecret } from '../registry/index.js';
import type { CloudTls } from '../tls/index.js';
import { type CloudBroker, SERVICE_NAMES, type ServiceCredential, type ServiceName, serviceUsername } from './contract.js';

/** The reload-probe account: in the password file, absent from the ACL (no topic rights). */
const SYNC_USER = '_svc.sync';

export interface MosquittoBrokerOptions {
  tls: CloudTls;
  gateways: Pick<GatewayRegistry, 'brokerPasswordLines' | 'onCredentialsChanged'>;
  logger: Logger;
  /** Where the generated mosquitto.conf, password and ACL files live. */
  dir: string;
  host?: string;
  /** TLS port; 0 picks a free one. */
  port?: number;
  maxPacket?: number;
  binary?: string;
}

/**
 * The external broker for scale-out: Mosquitto 2 started as a child process with a generated configuration —
 * a TLS listener with the cloud's certificates, no anonymous access, a password file (PBKDF2-SHA512 hashes
 * kept by the registry, never plaintexts), and an ACL file that gives each gateway only its own prefix
 * (`%u` = gateway id). Service accounts get fresh random secrets at every start. When credentials change the
 * password file is rewritten and Mosquitto reloads it on SIGHUP. Shared subscriptions work here, so ingest
 * workers share one `$share/ingest/...` subscription.
 */
export class MosquittoBroker implements CloudBroker {
  readonly kind = 'mosquitto' as const;
  readonly sharedSubscriptions = true;
  private readonly o: MosquittoBrokerOptions;
  private readonly log: Logger;
  private readonly secrets = new Map<string, string>();
  private readonly count = new Map<string, number>();
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private stopping = false;
  private _url = '';
  private syncing: Promise<void> = Promise.resolve();
  private offCreds: (() => void) | undefined;

  constructor(o: MosquittoBrokerOptions) {
    this.o = o;
    this.log = o.logger.child({ component: 'mosquitto' });
  }

  get url(): string {
    return this._url;
  }
  /** Service clients use the same TLS listener (with the cloud CA). */
  get serviceUrl(): string {
    return this._url;
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
    return this.child && this.child.exitCode === null && !this.stopping ? 'up' : 'down';
  }

  private bump(k: string): void {
    this.count.set(k, (this.count.get(k) ?? 0) + 1);
  }

  private paths() {
    return { conf: join(this.o.dir, 'mosquitto.conf'), passwd: join(this.o.dir, 'passwd'), acl: join(this.o.dir, 'acl') };
  }

  async start(): Promise<void> {
    await mkdir(this.o.dir, { recursive: true, mode: 0o700 });
    for (const n of SERVICE_NAMES) this.secrets.set(serviceUsername(n), randomSecret());
    const host = this.o.host ?? '127.0.0.1';
    const port = this.o.port || (await freePort(host));
    const p = this.paths();
    await this.writePasswords();
    await atomicWrite(p.acl, aclFile());
    await atomicWrite(p.conf, this.config(host, port));
    const bin = this.o.binary ?? 'mosquitto';
    const child = spawn(bin, ['-c', p.conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    const spawnError = new Promise<never>((_, reject) => {
      child.once('error', (e: NodeJS.ErrnoException) => {
        reject(
          e.code === 'ENOENT'
            ? new HutongError('E_BINARY_MISSING', `${bin} not found: install the Debian package 'mosquitto'`, { cause: e })
            : e,
        );
      });
    });
    spawnError.catch(() => {});
    let tail = '';
    child.stderr?.on('data', (d: Buffer) => {
      tail = (tail + d.toString()).slice(-4000);
      for (const line of d.toString().split('\n')) if (line.trim()) this.log.debug({ line }, 'mosquitto');
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (!this.stopping) {
          this.bump('E_CHILD_EXIT');
          this.log.error({ code: 'E_CHILD_EXIT', exit: code, signal, tail }, 'mosquitto exited unexpectedly');
        }
        resolve();
      });
    });
    const exitedEarly = this.exited.then(() => {
      throw new HutongError('E_CHILD_EXIT', `mosquitto exited at start: ${tail.trim().split('\n').slice(-3).join(' | ')}`);
    });
    await Promise.race([waitForPort(host, port, 10_000), spawnError, exitedEarly]).catch(async (e) => {
      await this.stop();
      throw e;
    });
    this._url = `mqtts://${host === '127.0.0.1' || host === '0.0.0.0' ? 'localhost' : host}:${port}`;
    this.offCreds = this.o.gateways.onCredentialsChanged(() => {
      this.syncing = this.syncing.then(() => this.reloadPasswords()).catch((err) => this.log.error({ err }, 'password reload failed'));
    });
    this.log.info({ url: this._url, pid: child.pid }, 'mosquitto listening');
  }

  /** Resolves once every credential change so far has reached Mosquitto (file rewritten, SIGHUP sent). */
  whenSynced(): Promise<void> {
    return this.syncing;
  }

  /**
   * Rewrites the password file and signals Mosquitto. SIGHUP is applied asynchronously, so every reload also
   * rotates the secret of a probe account (no ACL rights at all) and waits until that new secret is accepted:
   * then the reload is in force, and a just-enrolled gateway can connect at once.
   */
  private async reloadPasswords(): Promise<void> {
    const probe = randomSecret();
    await this.writePasswords(probe);
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGHUP');
    this.bump('reload');
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      try {
        const c = await mqtt.connectAsync(this._url, {
          username: SYNC_USER,
          password: probe,
          ca: this.o.tls.caPem,
          clientId: `_sync-${probe.slice(0, 8)}`,
          protocolVersion: 4,
          reconnectPeriod: 0,
          connectTimeout: 2000,
        });
        await c.endAsync(true);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    this.log.warn('mosquitto did not confirm the password reload within 10 s');
  }

  private async writePasswords(probe = randomSecret()): Promise<void> {
    const lines = await this.o.gateways.brokerPasswordLines();
    for (const [u, secret] of this.secrets) lines.push(`${u}:${mosquittoHash(secret)}`);
    // Few iterations on purpose: the probe secret is random, single-use and has no rights.
    lines.push(`${SYNC_USER}:${mosquittoHash(probe, 1000)}`);
    await atomicWrite(this.paths().passwd, `${lines.join('\n')}\n`);
  }

  private config(host: string, port: number): string {
    const p = this.paths();
    return [
      '# Generated by the Hutong cloud at every start: edit the cloud config, not this file.',
      'per_listener_settings false',
      'allow_anonymous false',
      `password_file ${p.passwd}`,
      `acl_file ${p.acl}`,
      `max_packet_size ${this.o.maxPacket ?? Limits.maxPacket}`,
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      // As root Mosquitto would drop to the `mosquitto` user, which cannot read files in our data dir.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      `listener ${port} ${host}`,
      `cafile ${this.o.tls.caPath}`,
      `certfile ${this.o.tls.certPath}`,
      `keyfile ${this.o.tls.keyPath}`,
      'tls_version tlsv1.2',
      '',
    ].join('\n');
  }

  async stop(): Promise<void> {
    this.offCreds?.();
    this.offCreds = undefined;
    await this.syncing;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.stopping = true;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(killer);
    this.child = undefined;
    this.stopping = false;
  }
}

/** The same policy as the aedes hooks, in Mosquitto's words. Patterns come first: they apply to every user. */
export function aclFile(): string {
  const svc = SERVICE_NAMES.map((n) => `user ${serviceUsername(n)}\ntopic readwrite hutong/#\n`);
  return [
    '# Each gateway (username = gateway id) writes only its own uplink and status, reads only its downlink.',
    'pattern write hutong/gw/%u/up/#',
    'pattern write hutong/gw/%u/status',
    'pattern read hutong/gw/%u/down/#',
    '',
    '# Cloud service accounts (ingest, API downlink).',
    ...svc,
  ].join('\n');
}

async function atomicWrite(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, path);
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Mosquitto says nothing machine-readable when ready: it is ready when its port accepts. */
async function waitForPort(host: string, port: number, limitMs: number): Promise<void> {
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new HutongError('E_CHILD_EXIT', `mosquitto did not open ${host}:${port} within ${limitMs} ms`);
}
