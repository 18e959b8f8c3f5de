/**
 * Serves the synthetic camera: `tsx simulators/src/camera/cli.ts --port 8554 [--fps 2] [--seed 1]
 * [--scenario script.json] [--path cam1] [--truth]`. `--truth` prints the ground truth as JSON lines
 * once a second. Stops on SIGINT/SIGTERM.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isHutongError } from '@hutong/protocols';
import pino from 'pino';
import type { Scenario } from './scenario.js';
import { startCameraServer } from './server.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8554' },
      host: { type: 'string', default: '127.0.0.1' },
      path: { type: 'string', default: 'cam1' },
      fps: { type: 'string', default: '2' },
      seed: { type: 'string', default: '1' },
      width: { type: 'string', default: '1280' },
      height: { type: 'string', default: '720' },
      scenario: { type: 'string' },
      truth: { type: 'boolean', default: false },
    },
  });
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const scenario = values.scenario ? (JSON.parse(await readFile(values.scenario, 'utf8')) as Scenario) : undefined;
  const cam = await startCameraServer({
    port: Number(values.port),
    host: values.host,
    path: values.path,
    fps: Number(values.fps),
    seed: Number(values.seed),
    width: Number(values.width),
    height: Number(values.height),
    ...(scenario ? { scenario } : {}),
    logger,
  });
  process.stdout.write(`${cam.url}\n`);
  const truth = values.truth
    ? setInterval(() => {
        const t = cam.now();
        process.stdout.write(`${JSON.stringify({ t, items: cam.groundTruthAt(t) })}\n`);
      }, 1000)
    : undefined;
  const shutdown = () => {
    if (truth) clearInterval(truth);
    cam.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((e: unknown) => {
  process.stderr.write(`${isHutongError(e) ? e.message : e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
