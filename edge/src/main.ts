/**
 * The gateway process: `tsx edge/src/main.ts --config FILE`. A missing or invalid config prints every error and
 * exits 2; SIGINT/SIGTERM stop the agent cleanly (parts in reverse order, outbox closed last).
 */
import { parseArgs } from 'node:util';
import { isHutongError } from '@hutong/protocols';
import pino from 'pino';
import { startAgent } from './agent.js';
import { loadConfig } from './config/load.js';

async function main(): Promise<number> {
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { app: 'hutong-edge' } });
  let args: { config?: string | undefined };
  try {
    args = parseArgs({ options: { config: { type: 'string', short: 'c' } } }).values;
  } catch (e) {
    process.stderr.write(`E_CONFIG: ${(e as Error).message}\nusage: tsx edge/src/main.ts --config FILE\n`);
    return 2;
  }
  if (!args.config) {
    process.stderr.write('E_CONFIG: no config file given\nusage: tsx edge/src/main.ts --config FILE\n');
    return 2;
  }
  let config: Awaited<ReturnType<typeof loadConfig>>;
  try {
    config = await loadConfig(args.config);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection (kept running)'));
  let agent: Awaited<ReturnType<typeof startAgent>>;
  try {
    agent = await startAgent(config, logger);
  } catch (err) {
    logger.fatal({ err, code: isHutongError(err) ? err.code : undefined }, 'gateway agent failed to start');
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      logger.info({ sig }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await agent.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
