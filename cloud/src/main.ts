import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkConfig, formatConfigIssues, isHutongError } from '@hutong/protocols';
import { pino } from 'pino';
import { startCloud } from './cloud.js';
import { CloudConfig } from './config.js';

/**
 * `tsx cloud/src/main.ts --config FILE`: reads the JSON config (every error listed with its path), starts the
 * cloud, and shuts it down cleanly on SIGINT/SIGTERM. Without --config every default applies.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write('usage: tsx cloud/src/main.ts [--config cloud.json]\n');
    return 0;
  }
  const file = values.config;
  let raw: unknown = {};
  if (file) {
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      process.stderr.write(`E_CONFIG: cannot read ${file}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const checked = checkConfig(CloudConfig, raw);
  if (!checked.ok) {
    process.stderr.write(`${formatConfigIssues(file ?? '(defaults)', checked.issues)}\n`);
    return 2;
  }
  const logger = pino({ level: process.env.LOG_LEVEL ?? checked.value.logLevel });
  let cloud: Awaited<ReturnType<typeof startCloud>>;
  try {
    cloud = await startCloud(checked.value, logger);
  } catch (e) {
    logger.fatal({ err: e, code: isHutongError(e) ? e.code : undefined }, 'cloud failed to start');
    return 1;
  }
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string) => {
      logger.info({ signal: sig }, 'shutting down');
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await cloud.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`${String(e?.stack ?? e)}\n`);
    process.exit(1);
  },
);
