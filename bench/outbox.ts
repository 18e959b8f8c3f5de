/**
 * Outbox benchmark (docs/outbox.md, "Figures"):
 *   1. raw append rate with the shipped fsync policy: one appender, many concurrent appenders, the group-commit
 *      window swept, fsync full, and fsync off as the ceiling (all in the same run);
 *   2. one day of the reference compound (~1 M records) pre-filled as a backlog, then, after a restart (open
 *      scans every segment), in a fresh process:
 *      a. outbox alone: lease + release as fast as possible;
 *      b. end to end: the real uplink → aedes → the real cloud ingest (own process) → InfluxDB, releasing on the
 *         cloud's end-to-end ack;
 *      both while the reference live load keeps being appended. Reported: drain records/s, the live records'
 *      latency (a: append → leased; b: append → released on the cloud's ack, i.e. stored in InfluxDB), the
 *      gateway process's RSS during the drain, and for b the InfluxDB count against what was accepted.
 * Last line: `bench outbox: N records/s drained (R× live rate)` — the end-to-end drain when it ran, the live rate
 * being the reference compound's records/s.
 *
 * Usage: tsx bench/outbox.ts [--records N] [--quick] [--no-e2e]
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkConfig, type DeviceKind } from '@hutong/protocols';
import { pino } from 'pino';
import { Ingest } from '../cloud/src/ingest/ingest.js';
import type { DeviceDirectory } from '../cloud/src/registry/contract.js';
import { UplinkSection } from '../edge/src/config/schema.js';
import type { ItemType, NewItem, Outbox, OutboxItem, OutboxStats } from '../edge/src/outbox/contract.js';
import { FileOutbox, type FileOutboxOptions } from '../edge/src/outbox/file.js';
import { SyncedStamper } from '../edge/src/records/synced-stamper.js';
import { Uplink } from '../edge/src/uplink/uplink.js';
import { benchAedes, benchInflux, countPoints, ensureDatabase, finalLine, fmt, median, percentile, printTable } from './harness.js';
import { liveRecordRate, referenceCompound } from '@hutong/simulators';

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const quick = args.includes('--quick');
const log = pino({ level: process.env.LOG_LEVEL ?? 'warn' });

// The reference compound, defined once in simulators/ (DESIGN.md "Shared measuring stick").
const REF_PROFILE = referenceCompound();
const REF = {
  sensors: REF_PROFILE.lots.reduce((n, l) => n + l.spaces.length, 0),
  gates: REF_PROFILE.gates.length,
  scansPerHour: REF_PROFILE.rates.scansPerHour,
  scanners: REF_PROFILE.scanners.length,
  bins: REF_PROFILE.bins.length,
};
const parkingRate = (REF.sensors / REF_PROFILE.rates.parkingPeriodS) * (1 + REF_PROFILE.rates.parkingChangeP);
const gateRate = REF.gates / REF_PROFILE.rates.passEveryS;
const scanRate = REF.scansPerHour / 3600;
const LIVE_RATE = liveRecordRate(REF_PROFILE);
const DAY_RECORDS = Math.round(LIVE_RATE * 86_400);
const GW = 'gw-bench-001';

function options(dir: string, extra: Partial<FileOutboxOptions> = {}): FileOutboxOptions {
  // The shipped defaults of OutboxSection (edge/src/outbox/index.ts).
  return {
    dir,
    maxBytes: 256 * 1024 * 1024,
    maxAgeMs: 7 * 24 * 3600_000,
    segmentBytes: 16 * 1024 * 1024,
    groupCommitMs: 0,
    fsync: 'data',
    ackFlushMs: 1000,
    liveShare: 0.25,
    ...extra,
  };
}

// --- reference records (JSON text, as the record sink stores them; valid for the cloud's schema) ---
let seq = 0;
const pad = (n: number, w: number) => String(n).padStart(w, '0');
/** ns timestamp: ms plus a sequence in the sub-ms digits (so two records never share a point). */
const ns = (ms: number) => `${Math.floor(ms)}${pad(++seq % 1_000_000, 6)}`;
function parkRecord(i: number, ms: number): NewItem {
  const s = i % REF.sensors;
  const rec = `{"k":"park","d":"ps-${pad(s, 4)}","ts":"${ns(ms)}","lot":"lot-${s % 3}","space":"sp-${pad(s, 4)}","occ":${s % 2 === 0},"bat":${80 + (s % 20)},"rssi":${-60 - (s % 30)}}`;
  return { cls: 2, type: 'rec', data: Buffer.from(rec) };
}
function gateRecord(i: number, ms: number): NewItem {
  const g = i % REF.gates;
  const rec = `{"k":"gate","d":"rd-${g}-in","ts":"${ns(ms)}","gate":"gate-${g}","dir":"in","res":"grant","reason":"ok","holder":"h-${(i * 7919) % 5000}","ms":${3 + (i % 5)}}`;
  return { cls: 0, type: 'rec', data: Buffer.from(rec) };
}
function scanRecord(i: number, ms: number): NewItem {
  const rec = `{"k":"scan","d":"sc-${i % REF.scanners}","ts":"${ns(ms)}","bin":"bin-${pad(i % REF.bins, 4)}","cat":"kitchen","crew":"crew-${i % 6}","kg":${(i % 40) + 0.5}}`;
  return { cls: 1, type: 'rec', data: Buffer.from(rec) };
}
/** The i-th record of the reference mix (parking : gates : scans in their rate ratio), stamped `ms`. */
function referenceRecord(i: number, ms: number): NewItem {
  const r = (i * 0.618033988749895) % 1;
  if (r < scanRate / LIVE_RATE) return scanRecord(i, ms);
  if (r < (scanRate + gateRate) / LIVE_RATE) return gateRecord(i, ms);
  return parkRecord(i, ms);
}

class BenchDirectory implements DeviceDirectory {
  private readonly kinds = new Map<string, DeviceKind>([[GW, 'gateway']]);
  constructor() {
    for (let s = 0; s < REF.sensors; s++) this.kinds.set(`ps-${pad(s, 4)}`, 'parking');
    for (let g = 0; g < REF.gates; g++) this.kinds.set(`rd-${g}-in`, 'reader');
    for (let s = 0; s < REF.scanners; s++) this.kinds.set(`sc-${s}`, 'scanner');
  }
  kindOf(gw: string, d: string): DeviceKind | undefined {
    return gw === GW ? this.kinds.get(d) : undefined;
  }
}

const mib = (b: number) => (b / 1024 / 1024).toFixed(0);
const sleep = (t: number) => new Promise<void>((r) => setTimeout(r, t));

/** `appenders` loops each appending one record at a time for `durationMs`; records/s and latency percentiles. */
async function appendRun(dir: string, appenders: number, durationMs: number, extra: Partial<FileOutboxOptions>) {
  const ob = new FileOutbox(options(dir, extra), log);
  await ob.open();
  const lat: number[] = [];
  let i = 0;
  const end = performance.now() + durationMs;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (performance.now() < end) {
        const item = referenceRecord(i++, Date.now());
        const t = performance.now();
        await ob.append([item]);
        lat.push(performance.now() - t);
      }
    }),
  );
  const elapsed = performance.now() - start;
  await ob.close();
  return { rate: lat.length / (elapsed / 1000), p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

/**
 * Wraps the outbox to time the live records: those appended in this process (`at` ≥ the start of the live
 * load). Their latency runs from the append call to the lease (outbox alone) or to the release, i.e. the
 * cloud's end-to-end ack after InfluxDB stored them (end to end).
 */
class LiveProbe implements Outbox {
  readonly appendedAt = new Map<string, number>();
  private readonly leasedIds = new Map<number, number>();
  readonly toLease: number[] = [];
  readonly toRelease: number[] = [];
  /** Per class: append → released (end to end) or → leased (outbox alone). */
  readonly byClass: [number[], number[], number[]] = [[], [], []];
  private readonly clsOf = new Map<number, 0 | 1 | 2>();
  liveFrom = Number.POSITIVE_INFINITY;
  /** Releases of records that are not live ones: the backlog. */
  backlogReleased = 0;
  constructor(readonly inner: Outbox) {}
  open(): Promise<void> {
    return this.inner.open();
  }
  append(items: NewItem[]): Promise<void> {
    return this.inner.append(items);
  }
  lease(maxItems: number, maxBytes: number, types?: ItemType): OutboxItem[] {
    const items = this.inner.lease(maxItems, maxBytes, types);
    const now = performance.now();
    for (const it of items) {
      if (it.at < this.liveFrom) continue;
      const m = /"ts":"(\d+)"/.exec(Buffer.from(it.data.buffer, it.data.byteOffset, it.data.byteLength).toString('latin1', 0, 80));
      const at = m ? this.appendedAt.get(m[1]!) : undefined;
      if (at === undefined) continue;
      if (!this.leasedIds.has(it.id)) this.toLease.push(now - at);
      this.leasedIds.set(it.id, at);
      this.clsOf.set(it.id, it.cls);
    }
    return items;
  }
  release(ids: readonly number[]): Promise<void> {
    const now = performance.now();
    for (const id of ids) {
      const at = this.leasedIds.get(id);
      if (at === undefined) {
        this.backlogReleased++;
        continue;
      }
      this.leasedIds.delete(id);
      this.toRelease.push(now - at);
      this.byClass[this.clsOf.get(id) ?? 2].push(now - at);
      this.clsOf.delete(id);
    }
    return this.inner.release(ids);
  }
  requeue(ids: readonly number[]): void {
    this.inner.requeue(ids);
  }
  forEachHeld(type: ItemType, fn: (item: OutboxItem) => void): number {
    return this.inner.forEachHeld(type, fn);
  }
  whenReadable(): Promise<void> {
    return this.inner.whenReadable();
  }
  stats(): OutboxStats {
    return this.inner.stats();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Appends the reference live load (one record per append, as devices do) until `stop()`. */
function liveLoad(probe: LiveProbe): { stop(): Promise<number> } {
  let running = true;
  let n = 0;
  probe.liveFrom = Date.now();
  const done = (async () => {
    const every = 1000 / LIVE_RATE;
    let next = performance.now();
    while (running) {
      next += every;
      const item = referenceRecord(n++, Date.now());
      const ts = /"ts":"(\d+)"/.exec(item.data.toString())![1]!;
      // Timed from the moment the reading arrives (the append's fsync is part of its way).
      probe.appendedAt.set(ts, performance.now());
      await probe.append([item]);
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return n;
    },
  };
}

interface DrainResult {
  openS: number;
  drainS: number;
  /** Sorted latencies (ms) of the live records (see LiveProbe). */
  liveLease: number[];
  liveRelease: number[];
  /** Per class, sorted: append → released. */
  liveByClass: [number[], number[], number[]];
  live: number;
  /** Sorted RSS samples (bytes) during the drain. */
  rss: number[];
  rssStart: number;
  rssOpen: number;
  st: OutboxStats;
  uplink?: Record<string, number>;
}

/**
 * The gateway side, run in its own process (a restarted gateway): open the backlog, then drain it while the
 * live load flows — by lease+release alone, or through the real uplink when `mqttUrl` is given.
 */
async function gatewayMain(dir: string, total: number, mqttUrl: string | undefined): Promise<DrainResult> {
  const rssStart = process.memoryUsage().rss;
  const file = new FileOutbox(options(dir), log);
  const probe = new LiveProbe(file);
  let tf = performance.now();
  await probe.open();
  const openS = (performance.now() - tf) / 1000;
  const rssOpen = process.memoryUsage().rss;
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 100);
  const live = liveLoad(probe);
  tf = performance.now();
  let uplinkCounters: Record<string, number> | undefined;
  const backlogLeft = () => probe.backlogReleased < total;
  if (mqttUrl === undefined) {
    // The uplink's pattern with a cloud that acks at once: lease a batch, release it.
    while (backlogLeft()) {
      const batch = probe.lease(500, 60 * 1024, 'rec');
      if (batch.length === 0) {
        await Promise.race([probe.whenReadable(), sleep(20)]);
        continue;
      }
      await probe.release(batch.map((b) => b.id));
    }
  } else {
    const cfg = checkConfig(UplinkSection, { url: mqttUrl, holdUntilClockSync: false });
    if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
    const uplink = new Uplink({ gatewayId: GW, config: cfg.value, outbox: probe, stamper: new SyncedStamper('bench'), logger: log });
    await uplink.start();
    while (backlogLeft()) await sleep(20);
    const drainS = (performance.now() - tf) / 1000;
    // Let the live records of the last seconds reach the cloud too, then stop.
    const appended = await live.stop();
    const until = performance.now() + 30_000;
    while (probe.stats().released < total + appended && performance.now() < until) await sleep(20);
    uplinkCounters = uplink.counters();
    await uplink.stop();
    clearInterval(sampler);
    const st = probe.stats();
    await probe.close();
    const sorted = (x: number[]) => [...x].sort((a, b) => a - b);
    return {
      openS,
      drainS,
      liveLease: sorted(probe.toLease),
      liveRelease: sorted(probe.toRelease),
      liveByClass: [sorted(probe.byClass[0]), sorted(probe.byClass[1]), sorted(probe.byClass[2])],
      live: appended,
      rss: sorted(rss),
      rssStart,
      rssOpen,
      st,
      uplink: uplinkCounters,
    };
  }
  const drainS = (performance.now() - tf) / 1000;
  const appended = await live.stop();
  clearInterval(sampler);
  const st = probe.stats();
  await probe.close();
  const sorted = (x: number[]) => [...x].sort((a, b) => a - b);
  return {
    openS,
    drainS,
    liveLease: sorted(probe.toLease),
    liveRelease: sorted(probe.toRelease),
    liveByClass: [sorted(probe.byClass[0]), sorted(probe.byClass[1]), sorted(probe.byClass[2])],
    live: appended,
    rss: sorted(rss),
    rssStart,
    rssOpen,
    st,
  };
}

/** The cloud ingest in its own process, as deployed. */
async function ingestMain(): Promise<void> {
  const [cfg] = (await once(process, 'message')) as [{ mqttUrl: string; influxUrl: string; db: string; imagesDir: string }];
  const ingest = new Ingest({ ...cfg, directory: new BenchDirectory(), logger: log, clientId: 'bench-outbox-ingest' });
  await ingest.start();
  process.send?.({ ready: true });
  await once(process, 'message');
  await ingest.stop();
  process.send?.({ counters: ingest.counters() }, () => process.exit(0));
}

function forkSelf(mode: string[]): ChildProcess {
  return fork(fileURLToPath(import.meta.url), mode, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

async function runGateway(dir: string, total: number, mqttUrl?: string): Promise<DrainResult> {
  const child = forkSelf(['--gateway', dir, String(total), ...(mqttUrl ? ['--mqtt', mqttUrl] : [])]);
  const [msg] = (await once(child, 'message')) as [DrainResult | { error: string }];
  await once(child, 'exit');
  if ('error' in msg) throw new Error(`gateway process failed: ${msg.error}`);
  return msg;
}

function drainRows(label: string, d: DrainResult, total: number, e2e: boolean): (string | number)[][] {
  const lat = e2e ? d.liveRelease : d.liveLease;
  return [
    [`${label}: open (scan segments, rebuild index)`, `${d.openS.toFixed(2)} s`],
    [`${label}: drained`, `${fmt(total)} records in ${d.drainS.toFixed(1)} s`],
    [`${label}: drain rate`, `${fmt(total / d.drainS)} records/s (${fmt(total / d.drainS / LIVE_RATE)}× live rate)`],
    [
      `${label}: live records during the drain`,
      `${d.live}, ${e2e ? 'append → cloud ack' : 'append → leased'} p50 ${percentile(lat, 50).toFixed(1)} ms, p99 ${percentile(lat, 99).toFixed(1)} ms (${lat.length} timed)`,
    ],
    ...(e2e
      ? [0, 2].map((c) => {
          const l = d.liveByClass[c]!;
          return [
            `${label}: live class ${c} (${c === 0 ? 'gate decisions' : 'parking'})`,
            `${l.length}, append → cloud ack p50 ${percentile(l, 50).toFixed(1)} ms, p99 ${percentile(l, 99).toFixed(1)} ms`,
          ];
        })
      : []),
    [`${label}: gateway RSS start / after open`, `${mib(d.rssStart)} / ${mib(d.rssOpen)} MiB`],
    [`${label}: gateway RSS during drain (median / max)`, `${mib(percentile(d.rss, 50))} / ${mib(d.rss[d.rss.length - 1] ?? 0)} MiB`],
    [`${label}: left (depth, in flight, dropped)`, `${d.st.depth.join('/')}, ${d.st.inFlight}, ${d.st.dropped.join('/')}`],
  ];
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'bench-outbox-'));
  let dirs = 0;
  const fresh = () => join(root, `o${dirs++}`);
  try {
    const dur = quick ? 1000 : 3000;
    console.log(
      `reference compound: ${LIVE_RATE.toFixed(2)} records/s live (parking ${parkingRate.toFixed(1)}, gates ${gateRate.toFixed(1)}, scans ${scanRate.toFixed(4)}); one day = ${fmt(DAY_RECORDS)} records`,
    );
    console.log('');
    const rows: (string | number)[][] = [
      ['append, 1 record per append', 'fsync', 'window ms', 'appenders', 'records/s (median)', 'range', 'p50 ms', 'p99 ms'],
    ];
    const runs: [string, Partial<FileOutboxOptions>, number][] = [
      ['single appender, shipped policy', {}, 1],
      ['concurrent, shipped policy', {}, 16],
      ['concurrent, shipped policy', {}, 64],
      ['concurrent, window 1 ms', { groupCommitMs: 1 }, 64],
      ['concurrent, window 2 ms', { groupCommitMs: 2 }, 64],
      ['concurrent, window 5 ms', { groupCommitMs: 5 }, 64],
      ['concurrent, fsync full', { fsync: 'full' }, 64],
      ['ceiling: fsync off (not shipped)', { fsync: 'off' }, 64],
    ];
    // The machine is shared: each configuration runs `rounds` times, interleaved; the table shows medians.
    const rounds = quick ? 1 : 3;
    const results: { rate: number; p50: number; p99: number }[][] = runs.map(() => []);
    for (let r = 0; r < rounds; r++) {
      for (const [i, [, extra, n]] of runs.entries()) {
        const dir = fresh();
        results[i]!.push(await appendRun(dir, n, dur, extra));
        rmSync(dir, { recursive: true, force: true });
      }
    }
    for (const [i, [label, extra, n]] of runs.entries()) {
      const o = options('', extra);
      const rs = results[i]!;
      const rates = rs.map((x) => x.rate).sort((a, b) => a - b);
      rows.push([
        label,
        o.fsync,
        o.groupCommitMs,
        n,
        median(rates),
        `${fmt(rates[0]!)}–${fmt(rates[rates.length - 1]!)}`,
        median(rs.map((x) => x.p50)).toFixed(2),
        median(rs.map((x) => x.p99)).toFixed(2),
      ]);
    }
    printTable(rows);

    // --- one day of backlog, stamped over the last 24 h ---
    const total = Number(arg('--records') ?? (quick ? 100_000 : DAY_RECORDS));
    const dir = fresh();
    const fill = new FileOutbox(options(dir), log);
    await fill.open();
    const tf = performance.now();
    const BATCH = 1000;
    const dayStart = Date.now() - 86_400_000;
    for (let i = 0; i < total; i += BATCH) {
      const items: NewItem[] = [];
      for (let k = i; k < Math.min(total, i + BATCH); k++) items.push(referenceRecord(k, dayStart + (k / total) * 86_400_000));
      await fill.append(items);
    }
    const fillS = (performance.now() - tf) / 1000;
    const filled = fill.stats();
    const disk = fill.disk();
    await fill.close();
    console.log('');
    console.log(
      `backlog: ${fmt(total)} records (${filled.depth.join('/')} per class 0/1/2), ${mib(disk.bytes)} MiB in ${disk.segments} segments, ` +
        `filled in ${fillS.toFixed(1)} s by appends of ${BATCH} (${fmt(total / fillS)} records/s)`,
    );
    const e2eDir = fresh();
    const e2e = !args.includes('--no-e2e');
    if (e2e) cpSync(dir, e2eDir, { recursive: true });

    const alone = await runGateway(dir, total);
    const drain: (string | number)[][] = [['drain of the day backlog after a restart', 'value'], ...drainRows('outbox alone', alone, total, false)];
    let final = total / alone.drainS;
    if (e2e) {
      const influx = await benchInflux(log);
      const broker = await benchAedes();
      const db = 'bench_outbox';
      await ensureDatabase(influx.url, db);
      const ingest = forkSelf(['--ingest']);
      try {
        ingest.send({ mqttUrl: broker.url, influxUrl: influx.url, db, imagesDir: join(root, 'images') });
        const [ready] = (await once(ingest, 'message')) as [{ ready?: boolean }];
        if (!ready.ready) throw new Error('ingest did not start');
        const d = await runGateway(e2eDir, total, broker.url);
        ingest.send('stop');
        const [res] = (await once(ingest, 'message')) as [{ counters: Record<string, number> }];
        let stored = 0;
        for (const [rp, m, f] of [
          ['telemetry', 'park', 'occ'],
          ['events', 'gate', 'ms'],
          ['events', 'scan', 'n'],
        ] as const) {
          stored += await countPoints(influx.url, db, rp, m, f);
        }
        const accepted = total + d.live;
        drain.push(...drainRows('end to end', d, total, true));
        drain.push([
          'end to end: InfluxDB count vs accepted',
          `${fmt(stored)} of ${fmt(accepted)} (${stored === accepted ? 'exact' : `${accepted - stored} missing`}); acks ${d.uplink?.acks ?? 0}, resends ${d.uplink?.resends ?? 0}, ingest write retries ${res.counters.write_retries ?? 0}`,
        ]);
        final = total / d.drainS;
      } finally {
        if (ingest.exitCode === null) ingest.kill();
        await broker.stop();
        await influx.stop();
      }
    } else {
      drain.push(['end to end', 'not run (--no-e2e)']);
    }
    console.log('');
    printTable(drain);
    finalLine('outbox', `${fmt(final)} records/s drained`, final / LIVE_RATE, 'live rate');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (arg('--gateway') !== undefined) {
  const i = args.indexOf('--gateway');
  try {
    const r = await gatewayMain(args[i + 1]!, Number(args[i + 2]), arg('--mqtt'));
    process.send?.(r, () => process.exit(0));
  } catch (e) {
    process.send?.({ error: String((e as Error).stack ?? e) }, () => process.exit(1));
  }
} else if (args.includes('--ingest')) await ingestMain();
else await main();
