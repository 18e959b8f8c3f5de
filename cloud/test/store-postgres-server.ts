import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway PostgreSQL 15 server for the slow store suite: initdb in a temp dir owned by the `postgres` user
 * (initdb and postgres refuse to run as root), started with pg_ctl on a free loopback port, socket in the same
 * dir, stopped and removed afterwards.
 */
const BIN = '/usr/lib/postgresql/15/bin';

export const postgresAvailable = (): boolean => existsSync(join(BIN, 'initdb'));

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface PgServer {
  url: string;
  stop(): Promise<void>;
}

function run(cmd: string, args: string[], asPostgres: boolean): void {
  const root = process.getuid?.() === 0;
  const [c, a] = root && asPostgres ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const r = spawnSync(c, a as string[], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
}

export async function startPostgres(): Promise<PgServer> {
  if (!postgresAvailable()) {
    throw new Error(`E_BINARY_MISSING: ${BIN}/initdb not found: install the Debian package 'postgresql' (PostgreSQL 15)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'hutong-pg-'));
  const data = join(dir, 'data');
  if (process.getuid?.() === 0) run('chown', ['postgres:postgres', dir], false);
  run(join(BIN, 'initdb'), ['-D', data, '-U', 'hutong', '--auth=trust', '-E', 'UTF8'], true);
  const port = await freePort();
  run(
    join(BIN, 'pg_ctl'),
    ['-D', data, '-w', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, 'start'],
    true,
  );
  return {
    url: `postgres://hutong@127.0.0.1:${port}/postgres`,
    async stop() {
      try {
        run(join(BIN, 'pg_ctl'), ['-D', data, '-w', '-m', 'fast', 'stop'], true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
