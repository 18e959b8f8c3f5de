/**
 * `npm run demo`: a whole simulated compound on one machine — the cloud (its own influxd, aedes over TLS, ingest,
 * API), one gateway enrolled with a one-time code, and the reference compound's devices: 300 parking sensors,
 * 4 bin scanners (TCP, MQTT, serial), 8 gate readers with residents' wallets, and the synthetic RTSP camera.
 * Prints what to open; Ctrl-C stops everything (influxd included).
 */
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { referenceCompound } from '../profiles/compound.js';
import { CompoundStack } from '../stack/stack.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: 'var/demo' },
      speed: { type: 'string', default: '1' },
      'api-port': { type: 'string', default: '8080' },
      'no-camera': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const dir = resolve(values.dir);
  if (!values.keep) await rm(dir, { recursive: true, force: true });
  const profile = referenceCompound();
  const stack = new CompoundStack({
    profile,
    dir,
    camera: !values['no-camera'],
    separateInflux: false,
    apiPort: Number(values['api-port']),
  });
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\nstopping (${why}) …\n`);
    await stack.stop();
    process.stdout.write('stopped: cloud, gateway, influxd, simulated devices.\n');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('Ctrl-C'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  process.stdout.write('starting the cloud, the gateway and the reference compound …\n');
  try {
    await stack.start();
  } catch (e) {
    process.stderr.write(`demo failed to start: ${(e as Error).message}\n`);
    for (const p of stack.procs) {
      const errs = p.lines.filter((l) => Number(l.level) >= 50 || l.raw).slice(-5);
      for (const l of errs) process.stderr.write(`  [${p.running ? 'running' : 'exited'}] ${JSON.stringify(l)}\n`);
    }
    await stack.stop();
    process.exit(1);
  }
  stack.runLoad(Number(values.speed));
  const influxPort = new URL(stack.influxUrl).port;
  const lines = [
    '',
    'Hutong demo is running.',
    `  cloud API         ${stack.apiUrl}   (users operator / installer / crew, password "${stack.password}")`,
    `      e.g.          curl -s ${stack.apiUrl}/health`,
    `                    TOKEN=$(curl -s -XPOST -H 'content-type: application/json' -d '{"name":"operator","password":"${stack.password}"}' ${stack.apiUrl}/api/login | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')`,
    `                    curl -s -H "authorization: Bearer $TOKEN" ${stack.apiUrl}/api/parking/lots`,
    `                    curl -s -H "authorization: Bearer $TOKEN" ${stack.apiUrl}/api/gateways`,
    `  gateway           http://127.0.0.1:${stack.httpPort}/health  and  /metrics`,
    ...(stack.cameraUrl ? [`  camera            ${stack.cameraUrl}  (live view: http://127.0.0.1:${stack.httpPort}/cameras/cam-1/view)`] : []),
    `  InfluxDB          influx -host 127.0.0.1 -port ${influxPort} -database hutong -execute 'SHOW MEASUREMENTS'`,
    `                    influx -host 127.0.0.1 -port ${influxPort} -database hutong -execute 'SELECT count(occ) FROM telemetry.park'`,
    `  data              ${dir}`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
  setInterval(() => {
    process.stdout.write(
      `accepted so far: ${stack.log.count('park')} parking readings, ${stack.log.count('scan')} scans, ${stack.log.count('gate')} gate decisions\n`,
    );
  }, 30_000).unref();
}

main().catch((e: unknown) => {
  process.stderr.write(`${String((e as Error)?.stack ?? e)}\n`);
  process.exit(1);
});
