import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HutongError } from '@hutong/protocols';
import type { Logger } from 'pino';

const run = promisify(execFile);

/**
 * The cloud's own small PKI: a CA and a server certificate for the MQTT/TLS listener, made with the `openssl`
 * CLI at first start in `<dataDir>/tls/` and reused afterwards. Gateways receive the CA certificate at
 * enrolment and pin it. Keys are EC P-256, mode 0600. Extra host names/IPs can be added to the server SAN.
 */
export interface CloudTls {
  dir: string;
  caPath: string;
  certPath: string;
  keyPath: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface TlsOptions {
  dataDir: string;
  logger: Logger;
  /** Names the server certificate must carry besides localhost and 127.0.0.1. */
  hosts?: string[];
  openssl?: string;
}

async function openssl(bin: string, args: string[], cwd: string): Promise<void> {
  try {
    await run(bin, args, { cwd });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') {
      throw new HutongError('E_BINARY_MISSING', `${bin} not found: install the Debian package 'openssl'`, { cause: e });
    }
    throw new Error(`openssl ${args[0]} failed: ${err.stderr ?? err.message}`, { cause: e });
  }
}

const isIp = (h: string) => /^[0-9.]+$/.test(h) || h.includes(':');

export async function ensureCerts(o: TlsOptions): Promise<CloudTls> {
  const dir = join(o.dataDir, 'tls');
  const paths = { caPath: join(dir, 'ca.crt'), certPath: join(dir, 'server.crt'), keyPath: join(dir, 'server.key') };
  if (!(existsSync(paths.caPath) && existsSync(paths.certPath) && existsSync(paths.keyPath))) {
    await create(dir, o);
  } else {
    o.logger.debug({ dir }, 'reusing TLS certificates');
  }
  const [caPem, certPem, keyPem] = await Promise.all([
    readFile(paths.caPath, 'utf8'),
    readFile(paths.certPath, 'utf8'),
    readFile(paths.keyPath, 'utf8'),
  ]);
  return { dir, ...paths, caPem, certPem, keyPem };
}

async function create(dir: string, o: TlsOptions): Promise<void> {
  const bin = o.openssl ?? 'openssl';
  await mkdir(o.dataDir, { recursive: true });
  // Built in a scratch dir and moved in whole, so a crash half way never leaves a CA without its server cert.
  const tmp = await mkdtemp(join(o.dataDir, '.tls-'));
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await openssl(
      bin,
      ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', '/CN=Hutong cloud CA',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
      tmp,
    );
    await openssl(bin, ['req', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], tmp);
    const hosts = ['localhost', '127.0.0.1', ...(o.hosts ?? [])];
    const san = [...new Set(hosts)].map((h) => (isIp(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
    await writeFile(
      join(tmp, 'server.ext'),
      `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth\n`,
    );
    await openssl(
      bin,
      ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt',
        '-days', '825', '-sha256', '-extfile', 'server.ext'],
      tmp,
    );
    await chmod(join(tmp, 'ca.key'), 0o600);
    await chmod(join(tmp, 'server.key'), 0o600);
    for (const f of ['server.csr', 'server.ext', 'ca.srl']) await rm(join(tmp, f), { force: true });
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    await chmod(dir, 0o700);
    o.logger.info({ dir, san }, 'created cloud CA and server certificate');
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
