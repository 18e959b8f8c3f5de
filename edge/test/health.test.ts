import type { HutongRecord, StateRecord } from '@hutong/protocols';
import { checkConfig, checkRecord, PROTOCOL_VERSION } from '@hutong/protocols';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { HealthSection } from '../src/config/schema.js';
import { DeviceHealth } from '../src/health/devices.js';
import { renderMetrics } from '../src/health/metrics.js';
import { flattenCounters, GatewayStats, ProcessSampler, type StatsSources } from '../src/health/stats.js';
import { Supervisor } from '../src/health/supervisor.js';
import { ClockStamper } from '../src/records/stamper.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

function memSink() {
  const recs: HutongRecord[] = [];
  return { recs, append: async (r: HutongRecord[]) => void recs.push(...r) };
}

const sources: StatsSources = {
  outbox: () => ({
    depth: [1, 2, 3],
    bytes: 100,
    inFlight: 1,
    oldestAgeMs: 4500,
    dropped: [0, 0, 7],
    appended: 10,
    released: 4,
    refused: { full: [0, 0, 2], io: 1 },
  }),
  uplinkConnected: () => true,
  clockOffsetMs: () => -12,
  counters: () => ({ 'tcp:sc-1': { lines: 3, rejected_e_device_line: 1 }, uplink: { acks: 2 } }),
};

describe('device health', () => {
  it('reports device_silent after the kind timeout and device_back when heard again', async () => {
    let now = 1_000_000;
    const sink = memSink();
    const cfg = checkConfig(HealthSection, { timeoutsS: { parking: 60, scanner: 600 } });
    if (!cfg.ok) throw new Error('config');
    const h = new DeviceHealth({
      gatewayId: 'gw-1',
      devices: [
        { id: 'p-1', kind: 'parking', transport: 'mqtt', grid: 'g-7' },
        { id: 'sc-1', kind: 'scanner', transport: 'mqtt' },
      ],
      config: cfg.value,
      sink,
      stamper: new ClockStamper(() => now),
      logger,
      now: () => now,
    });
    await h.start();
    h.seen('p-1');
    now += 59_000;
    await h.check();
    expect(sink.recs).toEqual([]);
    now += 2_000;
    await h.check();
    await h.check(); // reported once, not on every check
    expect(sink.recs).toHaveLength(1);
    const s = sink.recs[0] as StateRecord;
    expect(s).toMatchObject({ k: 'state', d: 'gw-1', type: 'device_silent', subject: 'p-1', grid: 'g-7' });
    expect(checkRecord(s, PROTOCOL_VERSION).ok).toBe(true);
    expect(h.devices().find((d) => d.id === 'p-1')?.online).toBe(false);
    h.seen('p-1');
    await new Promise((r) => setImmediate(r));
    expect(sink.recs[1]).toMatchObject({ type: 'device_back', subject: 'p-1' });
    // a scanner never heard since start is silent after its own timeout
    now += 600_000;
    await h.check();
    expect(sink.recs.map((r) => (r as StateRecord).subject)).toContain('sc-1');
    await h.stop();
  });
});

describe('gateway stats', () => {
  it('builds a valid gwstats record with outbox, uplink, clock and counters', async () => {
    const sink = memSink();
    const st = new GatewayStats({
      gatewayId: 'gw-1',
      intervalS: 60,
      sources,
      sampler: new ProcessSampler(process.cwd()),
      sink,
      stamper: new ClockStamper(),
      logger,
    });
    await st.emit();
    const r = sink.recs[0]!;
    expect(checkRecord(r, PROTOCOL_VERSION)).toMatchObject({ ok: true });
    expect(r).toMatchObject({ k: 'gwstats', obDepth: 6, obDropped: 7, obOldestS: 4.5, uplink: true, clockOffsetMs: -12 });
    expect((r as { counters: Record<string, number> }).counters['tcp_sc-1.lines'.replace('-', '_')]).toBe(3);
  });

  it('flattens counters into at most 64 safe keys', () => {
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`c${i}`, i]));
    const f = flattenCounters({ 'Serial:X-1': many });
    expect(Object.keys(f)).toHaveLength(64);
    expect(Object.keys(f).every((k) => /^[a-z0-9_.]{1,64}$/.test(k))).toBe(true);
  });

  it('renders Prometheus text with one TYPE per metric and labelled counters', () => {
    const text = renderMetrics('gw-1', sources, { cpuPct: 1.5, rssBytes: 1e8, diskFreeBytes: 5e9 }, [
      { id: 'p-1', kind: 'parking', lastSeenMs: 1_700_000_000_000, online: true },
    ]);
    expect(text).toContain('hutong_outbox_depth{gateway="gw-1",class="2"} 3');
    expect(text).toContain('hutong_outbox_dropped_total{gateway="gw-1",class="2"} 7');
    expect(text).toContain('hutong_outbox_refused_total{gateway="gw-1",reason="io"} 1');
    expect(text).toContain('hutong_part_stat{gateway="gw-1",part="tcp:sc-1",name="rejected_e_device_line"} 1');
    expect(text).toContain('hutong_device_up{gateway="gw-1",device="p-1",kind="parking"} 1');
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE'));
    expect(new Set(types).size).toBe(types.length);
    for (const l of text.trim().split('\n')) expect(l).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+\{[^}]*\} -?[0-9.e+]+)$/);
  });
});

describe('supervisor', () => {
  it('keeps going when a part fails to start and retries it', async () => {
    const sup = new Supervisor(logger, 3, 60_000, 1);
    let tries = 0;
    const started = new Promise<void>((resolve) => {
      sup.start({
        name: 'flaky',
        start: async () => {
          tries++;
          if (tries < 3) throw new Error('port busy');
          resolve();
        },
        stop: async () => {},
      }).catch(() => {});
    });
    await started;
    await new Promise((r) => setImmediate(r)); // the supervisor records the start after start() resolved
    expect(tries).toBe(3);
    expect(sup.counters()).toMatchObject({ parts_running: 1, parts_down: 0, restarts: 2 });
    await expect(sup.start({ name: 'outbox', start: async () => Promise.reject(new Error('disk')), stop: async () => {} }, true)).rejects.toThrow('disk');
    await sup.stopAll();
  });
});
