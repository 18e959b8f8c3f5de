import { openPostgres } from '../src/store/index.js';
import { registrySuite } from './registry-suite.js';
import { type PgServer, startPostgres } from './store-postgres-server.js';

let server: PgServer | undefined;

registrySuite(
  'PostgreSQL 15 server',
  async () => {
    server = await startPostgres();
    return openPostgres(server.url);
  },
  async () => {
    await server?.stop();
  },
);
