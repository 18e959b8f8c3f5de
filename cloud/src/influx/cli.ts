/**
 * `tsx cloud/src/influx/cli.ts --data DIR [--port N]`: runs an influxd of the cloud's own configuration on its own,
 * creates the database and retention policies, logs `influxd ready` with its URL, and stops it on SIGINT/SIGTERM.
 * For deployments (and the fault harness) where InfluxDB is stopped and started apart from the cloud.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ensureDatabase, startInfluxd } from './influxd.js';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { data: { type: 'string' }, port: { type: 'string' }, db: { type: 'string' } } });
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { app: 'hutong-influxd' } });
  if (!values.data) {
    process.stderr.write('usage: tsx cloud/src/influx/cli.ts --data DIR [--port N] [--db hutong]\n');
    return 2;
  }
  const influxd = await startInfluxd({ dataDir: values.data, logger, port: values.port ? Number(values.port) : 0 });
  await ensureDatabase(influxd.url, values.db ?? 'hutong');
  logger.info({ url: influxd.url, port: influxd.port }, 'influxd ready');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await influxd.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${String((e as Error)?.message ?? e)}\n`);
    process.exit(1);
  },
);
