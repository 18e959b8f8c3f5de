import { openPostgres } from '../src/store/index.js';
import { type PgServer, startPostgres } from './store-postgres-server.js';
import { storeSuite } from './store-suite.js';

let server: PgServer | undefined;

storeSuite(
  'PostgreSQL 15 server',
  async () => {
    server = await startPostgres();
    return openPostgres(server.url);
  },
  async () => {
    await server?.stop();
  },
);
