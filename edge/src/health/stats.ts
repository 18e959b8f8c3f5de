import { statfs } from 'node:fs/promises';
import type { GatewayStatsRecord } from '@hutong/protocols';
import type { Logger } from 'pino';
import type { OutboxStats } from '../outbox/contract.js';
import type { RecordSink, Stamper } from '../records/sink.js';

/** What the stats and /metrics read from the running agent. */
export interface StatsSources {
  outbox: () => OutboxStats;
  uplinkConnected: () => boolean;
  clockOffsetMs: () => number | undefined;
  /** Counters per part (adapter, uplink, service…), each flat name → number. */
  counters: () => Record<string, Record<string, number>>;
}

export interface ProcessSample {
  cpuPct: number;
  rssBytes: number;
  diskFreeBytes: number | undefined;
}

const KEY_RE = /[^a-z0-9_.]/g;

/**
 * Flattens part counters into at most `max` gwstats keys (`part.name`, lower case, safe alphabet). Zeros are left
 * out (absent = 0) so the bounded record carries the counters that say something; parts come in the order given.
 */
export function flattenCounters(parts: Record<string, Record<string, number>>, max = 64): Record<string, number> {
  const out: Record<string, number> = {};
  let n = 0;
  for (const [part, c] of Object.entries(parts)) {
    for (const [name, v] of Object.entries(c)) {
      if (n >= max) return out;
      if (!Number.isFinite(v) || v === 0) continue;
      const key = `${part}.${name}`.toLowerCase().replace(KEY_RE, '_').slice(0, 64);
      out[key] = v;
      n++;
    }
  }
  return out;
}

/** Samples process CPU (since the previous sample), RSS and free disk space of the data dir. */
export class ProcessSampler {
  private lastCpu = process.cpuUsage();
  private lastAt = performance.now();
  constructor(private readonly dataDir: string) {}

  async sample(): Promise<ProcessSample> {
    const cpu = process.cpuUsage();
    const at = performance.now();
    const usedMs = (cpu.user - this.lastCpu.user + cpu.system - this.lastCpu.system) / 1000;
    const cpuPct = at > this.lastAt ? (100 * usedMs) / (at - this.lastAt) : 0;
    this.lastCpu = cpu;
    this.lastAt = at;
    let diskFreeBytes: number | undefined;
    try {
      const s = await statfs(this.dataDir);
      diskFreeBytes = s.bavail * s.bsize;
    } catch {
      diskFreeBytes = undefined;
    }
    return { cpuPct: Math.max(0, cpuPct), rssBytes: process.memoryUsage.rss(), diskFreeBytes };
  }
}

export interface GatewayStatsOptions {
  gatewayId: string;
  intervalS: number;
  sources: StatsSources;
  sampler: ProcessSampler;
  sink: RecordSink;
  stamper: Stamper;
  logger: Logger;
}

/** Emits one `gwstats` record every `intervalS` seconds. */
export class GatewayStats {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private failed = 0;

  constructor(private readonly o: GatewayStatsOptions) {}

  async start(): Promise<void> {
    this.timer = setInterval(() => {
      this.running = this.emit();
    }, this.o.intervalS * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  counters(): Record<string, number> {
    return { gwstats_failed: this.failed };
  }

  async record(): Promise<GatewayStatsRecord> {
    const s = this.o.sources;
    const p = await this.o.sampler.sample();
    const ob = s.outbox();
    const offset = s.clockOffsetMs();
    const MB = 1024 * 1024;
    return {
      k: 'gwstats',
      d: this.o.gatewayId,
      ts: this.o.stamper.stamp(this.o.gatewayId),
      cpu: Math.round(p.cpuPct * 10) / 10,
      rssMb: Math.round((p.rssBytes / MB) * 10) / 10,
      diskFreeMb: Math.round(((p.diskFreeBytes ?? 0) / MB) * 10) / 10,
      obDepth: ob.depth[0] + ob.depth[1] + ob.depth[2],
      obOldestS: Math.round(ob.oldestAgeMs / 100) / 10,
      obDropped: ob.dropped[0] + ob.dropped[1] + ob.dropped[2],
      uplink: s.uplinkConnected(),
      ...(offset === undefined ? {} : { clockOffsetMs: offset }),
      counters: flattenCounters(s.counters()),
    };
  }

  async emit(): Promise<void> {
    try {
      await this.o.sink.append([await this.record()]);
    } catch (err) {
      this.failed++;
      this.o.logger.error({ err }, 'gwstats record not stored');
    }
  }
}
