import type { DeviceState } from './devices.js';
import type { ProcessSample, StatsSources } from './stats.js';

/**
 * The Prometheus text exposition (format 0.0.4) of the gateway: outbox, uplink, clock, devices, process and
 * every part's counters as `hutong_part_stat{part,name}`.
 */
const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function renderMetrics(gw: string, s: StatsSources, p: ProcessSample, devices: DeviceState[]): string {
  const out: string[] = [];
  const g = `gateway="${esc(gw)}"`;
  const metric = (name: string, type: string, help: string, rows: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of rows) out.push(`${name}{${g}${labels ? `,${labels}` : ''}} ${Number.isFinite(v) ? v : 0}`);
  };
  const ob = s.outbox();
  metric('hutong_outbox_depth', 'gauge', 'items waiting or in flight, per priority class', ob.depth.map((d, i) => [`class="${i}"`, d]));
  metric('hutong_outbox_bytes', 'gauge', 'bytes held by the outbox', [['', ob.bytes]]);
  metric('hutong_outbox_in_flight', 'gauge', 'items sent and awaiting the cloud ack', [['', ob.inFlight]]);
  metric('hutong_outbox_oldest_seconds', 'gauge', 'age of the oldest unreleased item', [['', ob.oldestAgeMs / 1000]]);
  metric('hutong_outbox_dropped_total', 'counter', 'items dropped (full or too old), per class', ob.dropped.map((d, i) => [`class="${i}"`, d]));
  if (ob.expired) metric('hutong_outbox_expired_total', 'counter', 'of the dropped: too old (maxAgeMs), per class', ob.expired.map((d, i) => [`class="${i}"`, d]));
  if (ob.refused) {
    metric('hutong_outbox_refused_total', 'counter', 'appends refused (E_OUTBOX_FULL per class, E_OUTBOX_IO)', [
      ...ob.refused.full.map((d, i): [string, number] => [`reason="full",class="${i}"`, d]),
      ['reason="io"', ob.refused.io],
    ]);
  }
  if (ob.corrupt !== undefined) metric('hutong_outbox_corrupt_total', 'counter', 'torn or corrupt outbox regions found (E_OUTBOX_CORRUPT)', [['', ob.corrupt]]);
  metric('hutong_outbox_appended_total', 'counter', 'items appended', [['', ob.appended]]);
  metric('hutong_outbox_released_total', 'counter', 'items released after the cloud ack', [['', ob.released]]);
  metric('hutong_uplink_connected', 'gauge', '1 when connected to the cloud broker', [['', s.uplinkConnected() ? 1 : 0]]);
  const off = s.clockOffsetMs();
  metric('hutong_clock_synced', 'gauge', '1 once the clock offset to the cloud is known', [['', off === undefined ? 0 : 1]]);
  if (off !== undefined) metric('hutong_clock_offset_seconds', 'gauge', 'cloud clock minus gateway clock', [['', off / 1000]]);
  metric(
    'hutong_device_up',
    'gauge',
    '0 once a device is silent past its kind timeout',
    devices.map((d) => [`device="${esc(d.id)}",kind="${d.kind}"`, d.online ? 1 : 0]),
  );
  metric(
    'hutong_device_last_seen_seconds',
    'gauge',
    'unix time a device was last heard (absent if never)',
    devices.filter((d) => d.lastSeenMs !== undefined).map((d) => [`device="${esc(d.id)}"`, (d.lastSeenMs ?? 0) / 1000]),
  );
  metric('process_cpu_percent', 'gauge', 'process CPU since the previous sample, % of one core', [['', p.cpuPct]]);
  metric('process_resident_memory_bytes', 'gauge', 'resident set size', [['', p.rssBytes]]);
  if (p.diskFreeBytes !== undefined) metric('hutong_disk_free_bytes', 'gauge', 'free space of the data dir filesystem', [['', p.diskFreeBytes]]);
  const rows: [string, number][] = [];
  for (const [part, c] of Object.entries(s.counters())) {
    for (const [name, v] of Object.entries(c)) rows.push([`part="${esc(part)}",name="${esc(name)}"`, v]);
  }
  metric('hutong_part_stat', 'gauge', 'counters of the gateway parts (adapters, uplink, services)', rows);
  return `${out.join('\n')}\n`;
}
