/**
 * Serves the synthetic camera: `tsx simulators/src/camera/cli.ts --port 8554 [--fps 2] [--seed 1]
 * [--scenario script.json] [--path cam1] [--sensor-noise 3] [--ffmpeg PATH] [--truth]`. `--truth` prints the ground truth as JSON lines
 * once a second. Stops on SIGINT/SIGTERM.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isHutongError } from '@hutong/protocols';
import pino from 'pino';
import { checkScenario } from './config.js';
import { startCameraServer } from './server.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8554' },
      host: { type: 'string' },
      path: { type: 'string' },
      fps: { type: 'string' },
      seed: { type: 'string' },
      width: { type: 'string' },
      height: { type: 'string' },
      'sensor-noise': { type: 'string' },
      ffmpeg: { type: 'string' },
      scenario: { type: 'string' },
      truth: { type: 'boolean', default: false },
    },
  });
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const scenario = values.scenario ? checkScenario(JSON.parse(await readFile(values.scenario, 'utf8')), values.scenario) : undefined;
  const cam = await startCameraServer({
    port: num(values.port),
    host: values.host,
    path: values.path,
    fps: num(values.fps),
    seed: num(values.seed),
    width: num(values.width),
    height: num(values.height),
    sensorNoise: num(values['sensor-noise']),
    ffmpegPath: values.ffmpeg,
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
  process.exit(isHutongError(e) && e.code === 'E_CONFIG' ? 2 : 1);
});
