/**
 * Outbox benchmark (docs/outbox.md, "Figures"):
 *   1. raw append rate with the shipped fsync policy: one appender, many concurrent appenders, and the group
 *      commit window swept (with fsync off as the ceiling, measured in the same run);
 *   2. the drain of a pre-filled backlog of one day of the reference compound (~1 M records) by lease+release,
 *      after a restart (open scans every segment), while the reference live load keeps being appended:
 *      drain records/s, the live items' append→lease latency, and the process RSS during the drain.
 * Last line: `bench outbox: N records/s drained (R× live rate)`, the live rate being the reference compound's.
 *
 * Usage: tsx bench/outbox.ts [--records N] [--dir DIR] [--quick]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { FileOutbox, type FileOutboxOptions } from '../edge/src/outbox/file.js';
import type { NewItem } from '../edge/src/outbox/contract.js';

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const quick = args.includes('--quick');
const log = pino({ level: process.env.LOG_LEVEL ?? 'warn' });

// The reference compound (DESIGN.md "Shared measuring stick"; the same numbers as simulators/src/profiles).
const REF = { sensors: 300, parkingPeriodS: 30, parkingChangeP: 0.05, gates: 4, passEveryS: 5, bins: 200 };
const parkingRate = (REF.sensors / REF.parkingPeriodS) * (1 + REF.parkingChangeP);
const gateRate = REF.gates / REF.passEveryS;
const scanRate = (2 * REF.bins) / 24 / 3600;
const LIVE_RATE = parkingRate + gateRate + scanRate;
const DAY_RECORDS = Math.round(LIVE_RATE * 86_400);

const root = arg('--dir') ?? (arg('--drain') !== undefined ? tmpdir() : mkdtempSync(join(tmpdir(), 'bench-outbox-')));
let dirs = 0;

function options(extra: Partial<FileOutboxOptions> = {}): FileOutboxOptions {
  // The shipped defaults of OutboxSection (edge/src/outbox/index.ts), except the directory.
  return {
    dir: join(root, `o${dirs++}`),
    maxBytes: 256 * 1024 * 1024,
    maxAgeMs: 7 * 24 * 3600_000,
    segmentBytes: 16 * 1024 * 1024,
    groupCommitMs: 0,
    fsync: 'data',
    ackFlushMs: 1000,
    liveWindowMs: 5000,
    liveShare: 0.25,
    ...extra,
  };
}

// --- reference records (JSON text, as the record sink stores them) ---
let seq = 0;
const t0 = Date.UTC(2026, 10, 21);
function parkRecord(i: number): NewItem {
  const s = i % REF.sensors;
  const ts = `${t0 + Math.floor(i / LIVE_RATE) * 1000}${String(++seq % 1_000_000).padStart(6, '0')}`;
  const rec = `{"k":"park","d":"ps-${String(s).padStart(4, '0')}","ts":"${ts}","lot":"lot-${s % 3}","space":"sp-${String(s).padStart(4, '0')}","occ":${s % 2 === 0},"bat":${80 + (s % 20)},"rssi":${-60 - (s % 30)}}`;
  return { cls: 2, type: 'rec', data: Buffer.from(rec) };
}
function gateRecord(i: number): NewItem {
  const ts = `${t0 + Math.floor(i / LIVE_RATE) * 1000}${String(++seq % 1_000_000).padStart(6, '0')}`;
  const rec = `{"k":"gate","d":"rd-${i % REF.gates}-in","ts":"${ts}","gate":"gate-${i % REF.gates}","dir":"in","res":"grant","reason":"ok","holder":"h-${(i * 7919) % 5000}","ms":${3 + (i % 5)}}`;
  return { cls: 0, type: 'rec', data: Buffer.from(rec) };
}
function scanRecord(i: number): NewItem {
  const ts = `${t0 + Math.floor(i / LIVE_RATE) * 1000}${String(++seq % 1_000_000).padStart(6, '0')}`;
  const rec = `{"k":"scan","d":"sc-${i % 4}","ts":"${ts}","bin":"bin-${String(i % REF.bins).padStart(4, '0')}","cat":"kitchen","crew":"crew-${i % 6}","kg":${(i % 40) + 0.5}}`;
  return { cls: 1, type: 'rec', data: Buffer.from(rec) };
}
/** The i-th record of the reference mix (parking : gates : scans in their rate ratio). */
function referenceRecord(i: number): NewItem {
  const r = (i * 0.618033988749895) % 1;
  if (r < scanRate / LIVE_RATE) return scanRecord(i);
  if (r < (scanRate + gateRate) / LIVE_RATE) return gateRecord(i);
  return parkRecord(i);
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const ms = (x: number) => x.toFixed(2);
const mib = (b: number) => (b / 1024 / 1024).toFixed(0);
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

/** `appenders` loops each appending one record at a time for `durationMs`; records/s and latency percentiles. */
async function appendRun(appenders: number, durationMs: number, extra: Partial<FileOutboxOptions>) {
  const ob = new FileOutbox(options(extra), log);
  await ob.open();
  const lat: number[] = [];
  let i = 0;
  const end = performance.now() + durationMs;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (performance.now() < end) {
        const item = referenceRecord(i++);
        const t = performance.now();
        await ob.append([item]);
        lat.push(performance.now() - t);
      }
    }),
  );
  const elapsed = performance.now() - start;
  await ob.close();
  lat.sort((a, b) => a - b);
  return { rate: lat.length / (elapsed / 1000), p50: pct(lat, 50), p99: pct(lat, 99) };
}

interface DrainResult {
  openS: number;
  drainS: number;
  batches: number;
  /** Sorted ms, append resolved → leased, of the live items. */
  liveLat: number[];
  /** Sorted RSS samples (bytes) during the drain. */
  rss: number[];
  rssOpen: number;
  st: ReturnType<FileOutbox['stats']>;
}

/** The drain phase, run in its own process: open (scan), then lease+release everything while live load flows. */
async function drain(dir: string, total: number): Promise<DrainResult> {
  const ob = new FileOutbox({ ...options(), dir }, log);
  let tf = performance.now();
  await ob.open();
  const openS = (performance.now() - tf) / 1000;
  const rssOpen = process.memoryUsage().rss;

  // Live load at the reference rate while the backlog drains; latency = append resolved → leased.
  const liveAppendedAt = new Map<number, number>();
  const liveLat: number[] = [];
  let liveMarker = 0;
  let draining = true;
  const live = (async () => {
    const every = 1000 / LIVE_RATE;
    let next = performance.now();
    let i = 0;
    while (draining) {
      next += every;
      const item = referenceRecord(i++);
      const key = liveMarker++;
      const marked = Buffer.concat([item.data.subarray(0, item.data.length - 1), Buffer.from(`,"live":"L${key}"}`)]);
      await ob.append([{ ...item, data: marked }]);
      liveAppendedAt.set(key, performance.now());
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
  })();

  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 100);
  let drained = 0;
  let batches = 0;
  tf = performance.now();
  const liveRe = /"live":"L(\d+)"/;
  // The uplink's pattern: lease a batch, ship it, release on the cloud's ack. Here the "cloud" acks at once.
  while (drained < total) {
    const batch = ob.lease(500, 512 * 1024, 'rec');
    if (batch.length === 0) {
      await Promise.race([ob.whenReadable(), sleep(50)]);
      continue;
    }
    const now = performance.now();
    for (const it of batch) {
      // Backlog records end in a number then `}`; live ones were marked with a trailing `"live":"L<n>"`.
      if (it.data[it.data.length - 2] !== 0x22) {
        drained++;
        continue;
      }
      const tail = Buffer.from(it.data.buffer, it.data.byteOffset, it.data.byteLength);
      const m = liveRe.exec(tail.toString('latin1', Math.max(0, tail.length - 24)));
      const at = m ? liveAppendedAt.get(Number(m[1])) : undefined;
      if (at !== undefined) liveLat.push(now - at);
      else drained++;
    }
    await ob.release(batch.map((b) => b.id));
    batches++;
  }
  const drainS = (performance.now() - tf) / 1000;
  draining = false;
  clearInterval(sampler);
  await live;
  const st = ob.stats();
  await ob.close();
  rss.sort((a, b) => a - b);
  liveLat.sort((a, b) => a - b);
  return { openS, drainS, batches, liveLat, rss, rssOpen, st };
}

async function main(): Promise<void> {
  const dur = quick ? 1000 : 3000;
  console.log(`reference compound: ${LIVE_RATE.toFixed(2)} records/s live (parking ${parkingRate.toFixed(1)}, gates ${gateRate.toFixed(1)}, scans ${scanRate.toFixed(4)}); one day = ${DAY_RECORDS} records`);
  console.log('');
  console.log('append (1 record per append)       | fsync | window ms | appenders | records/s | p50 ms | p99 ms');
  console.log('-----------------------------------|-------|-----------|-----------|-----------|--------|-------');
  const rows: [string, Partial<FileOutboxOptions>, number][] = [
    ['single appender, shipped policy', {}, 1],
    ['concurrent, shipped policy', {}, 16],
    ['concurrent, shipped policy', {}, 64],
    ['concurrent, window 1 ms', { groupCommitMs: 1 }, 64],
    ['concurrent, window 2 ms', { groupCommitMs: 2 }, 64],
    ['concurrent, window 5 ms', { groupCommitMs: 5 }, 64],
    ['concurrent, fsync full', { fsync: 'full' }, 64],
    ['ceiling: fsync off (not shipped)', { fsync: 'off' }, 64],
  ];
  let shipped64 = 0;
  for (const [label, extra, n] of rows) {
    const r = await appendRun(n, dur, extra);
    if (label === 'concurrent, shipped policy' && n === 64) shipped64 = r.rate;
    const o = options(extra);
    dirs--;
    console.log(
      `${label.padEnd(35)}| ${o.fsync.padEnd(6)}| ${String(o.groupCommitMs).padStart(9)} | ${String(n).padStart(9)} | ${r.rate.toFixed(0).padStart(9)} | ${ms(r.p50).padStart(6)} | ${ms(r.p99).padStart(6)}`,
    );
  }

  // --- the day-long backlog ---
  const total = Number(arg('--records') ?? (quick ? 100_000 : DAY_RECORDS));
  const opts = options();
  const fill = new FileOutbox(opts, log);
  await fill.open();
  const tf = performance.now();
  const BATCH = 1000;
  for (let i = 0; i < total; i += BATCH) {
    const items: NewItem[] = [];
    for (let k = i; k < Math.min(total, i + BATCH); k++) items.push(referenceRecord(k));
    await fill.append(items);
  }
  const fillS = (performance.now() - tf) / 1000;
  const filled = fill.stats();
  const disk = fill.disk();
  await fill.close();
  console.log('');
  console.log(`backlog: ${total} records (${filled.depth.join('/')} per class), ${mib(disk.bytes)} MiB in ${disk.segments} segments, filled in ${fillS.toFixed(1)} s with appends of ${BATCH} (${(total / fillS).toFixed(0)} records/s)`);

  // Restart after the outage, in a fresh process (as the gateway would be), so its RSS is the drain's own.
  const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--drain', opts.dir, String(total)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const d = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as DrainResult;
  const { openS, drainS, batches, liveLat, rss, rssOpen, st } = d;
  const drainRate = total / drainS;
  console.log('');
  console.log('drain (lease 500 + release, restart first)  | value');
  console.log('--------------------------------------------|------');
  console.log(`open: scan segments, rebuild index          | ${openS.toFixed(2)} s`);
  console.log(`drained                                     | ${total} records in ${drainS.toFixed(1)} s (${batches} batches)`);
  console.log(`drain rate                                  | ${drainRate.toFixed(0)} records/s`);
  console.log(`live items during the drain                 | ${liveLat.length} (append → leased p50 ${ms(pct(liveLat, 50))} ms, p99 ${ms(pct(liveLat, 99))} ms)`);
  console.log(`RSS after open (fresh process)              | ${mib(rssOpen)} MiB`);
  console.log(`RSS during drain (median / max)             | ${mib(pct(rss, 50))} / ${mib(rss[rss.length - 1] ?? 0)} MiB`);
  console.log(`left after drain (depth, in flight, dropped)| ${st.depth.join('/')}, ${st.inFlight}, ${st.dropped.join('/')}`);
  console.log(`concurrent append rate, shipped policy      | ${shipped64.toFixed(0)} records/s (${(shipped64 / LIVE_RATE).toFixed(0)}× live rate)`);
  if (arg('--dir') === undefined) rmSync(root, { recursive: true, force: true });
  console.log(`bench outbox: ${drainRate.toFixed(0)} records/s drained (${(drainRate / LIVE_RATE).toFixed(0)}× live rate)`);
}

if (arg('--drain') !== undefined) {
  process.stdout.write(`${JSON.stringify(await drain(arg('--drain')!, Number(args[args.indexOf('--drain') + 2])))}\n`);
} else await main();
