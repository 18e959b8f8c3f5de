/**
 * bench scan: a bin scanner's round trip through the gateway, from its TCP write of the scan line to its read of
 * the answer: TCP line adapter → BinService (registry of the reference compound's 200 bins) → scan record
 * durable in the FileOutbox (fdatasync) → answer. Every scan is recorded (duplicate window 0: the slowest path);
 * 1 in 20 codes is unknown. Baseline, in the same run and interleaved: the bare work of a scan without I/O
 * (parse the line, look the bin up in the registry).
 *
 *   npx tsx bench/scan.ts            BENCH_SCAN_N=2000 requests per round, BENCH_ROUNDS=3
 */
import { checkConfig, parseScanLine } from '@hutong/protocols';
import { TcpLinesAdapter } from '../edge/src/adapters/tcp-lines.js';
import { createOutbox, OutboxSection } from '../edge/src/outbox/index.js';
import { OutboxSink } from '../edge/src/records/outbox-sink.js';
import { ClockStamper } from '../edge/src/records/stamper.js';
import { BinService, BinsSection } from '../edge/src/services/bins/index.js';
import { referenceCompound } from '../simulators/src/profiles/compound.js';
import { benchLogger, finalLine, fmt, now, percentile, printTable, tempDir } from './harness.js';
import { LineClient } from '@hutong/simulators';

const N = Number(process.env.BENCH_SCAN_N ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/** One TCP connection speaking one line per request, one line per answer. */
async function main(): Promise<void> {
  const logger = benchLogger();
  const dir = await tempDir('scan');
  const ref = referenceCompound();
  const cfg = checkConfig(BinsSection, {
    bins: ref.bins.map((b) => ({ id: b.id, category: b.category, grid: b.grid })),
    duplicateWindowMs: 0,
  });
  const ob = checkConfig(OutboxSection, { kind: 'file', dir: `${dir.path}/outbox` });
  if (!cfg.ok || !ob.ok) throw new Error('bench config invalid');
  const outbox = createOutbox(ob.value, logger);
  await outbox.open();
  const bins = new BinService({ config: cfg.value, sink: new OutboxSink(outbox), stamper: new ClockStamper(), logger });
  await bins.start();
  const scanner = new TcpLinesAdapter({
    device: { id: 'sc-1', kind: 'scanner', transport: { tcp: { port: 0 } } },
    port: 0,
    host: '127.0.0.1',
    services: { scan: bins },
    logger,
  });
  await scanner.start();
  const client = new LineClient('127.0.0.1', scanner.port);
  await client.connect();
  const registry = new Map(cfg.value.bins.map((b) => [b.id, b]));

  const lines = Array.from({ length: N }, (_, i) => {
    const unknown = i % 20 === 19;
    const bin = unknown ? `NOPE-${i}` : (ref.bins[i % ref.bins.length]?.id as string);
    return { line: `${bin};crew=crew-1;kg=${(i % 40) + 0.5};grade=${(i % 5) + 1}`, unknown };
  });

  // Warm-up (JIT, first segment file): not measured.
  for (let i = 0; i < 200; i++) await client.request(lines[i % lines.length]?.line as string, 10_000);

  const rows: (string | number)[][] = [['round', 'scan p50 ms', 'scan p99 ms', 'bare p50 µs', 'bare p99 µs', 'recorded', 'unknown', 'wrong']];
  const allScan: number[] = [];
  const allBare: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const bare: number[] = [];
    let found = 0;
    for (const l of lines) {
      const t0 = now();
      const req = parseScanLine(l.line);
      if (req && registry.has(req.code.trim())) found++;
      bare.push(now() - t0);
    }
    const lat: number[] = [];
    let recorded = 0;
    let unknown = 0;
    let wrong = 0;
    for (const l of lines) {
      const t0 = now();
      const answer = await client.request(l.line, 10_000);
      lat.push(now() - t0);
      if (answer === 'OK recorded' && !l.unknown) recorded++;
      else if (answer.startsWith('NO unknown') && l.unknown) unknown++;
      else wrong++;
    }
    if (found !== recorded) wrong += Math.abs(found - recorded);
    allScan.push(...lat);
    allBare.push(...bare);
    rows.push([`${r + 1}`, fmt(percentile(lat, 50), 3), fmt(percentile(lat, 99), 3), fmt(percentile(bare, 50) * 1000, 1), fmt(percentile(bare, 99) * 1000, 1), recorded, unknown, wrong]);
  }
  printTable(rows);
  console.log(`outbox appended ${outbox.stats().appended} (incl. 190 warm-up); service counters ${JSON.stringify(bins.counters())}`);
  client.close();
  await scanner.stop();
  await bins.stop();
  await outbox.close();
  await dir.remove();
  const p99 = percentile(allScan, 99);
  const bareP99 = percentile(allBare, 99);
  finalLine('scan', `p99 ${fmt(p99, 2)} ms`, p99 / bareP99, 'bare lookup');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
