import { assertValidId, isValidId } from './ids.js';

/**
 * Every topic a gateway may publish lives under its own prefix `hutong/gw/{gatewayId}/`, so one ACL pattern
 * per gateway (`hutong/gw/%u/#`) covers it. Uplink goes under `up/`, the retained online/offline status at
 * `status`, and everything the cloud sends to the gateway under `down/` (the gateway may only subscribe there).
 * Topic strings are built and parsed only here.
 */
export const ROOT = 'hutong';

export type UplinkChannel = 'batch' | 'image' | 'time';
export type DownlinkChannel = 'ack' | 'config' | 'revocations' | 'tasks' | 'time';

export const UPLINK_CHANNELS: readonly UplinkChannel[] = ['batch', 'image', 'time'];
export const DOWNLINK_CHANNELS: readonly DownlinkChannel[] = ['ack', 'config', 'revocations', 'tasks', 'time'];

export const gatewayPrefix = (gw: string): string => `${ROOT}/gw/${assertValidId(gw, 'gateway id')}/`;
export const uplinkTopic = (gw: string, ch: UplinkChannel): string => `${gatewayPrefix(gw)}up/${ch}`;
export const downlinkTopic = (gw: string, ch: DownlinkChannel): string => `${gatewayPrefix(gw)}down/${ch}`;
export const statusTopic = (gw: string): string => `${gatewayPrefix(gw)}status`;
/** What a gateway subscribes to. */
export const downlinkFilter = (gw: string): string => `${gatewayPrefix(gw)}down/#`;

/** What cloud ingest subscribes to (all gateways). */
export const ALL_UPLINK_FILTER = `${ROOT}/gw/+/up/#`;
export const ALL_STATUS_FILTER = `${ROOT}/gw/+/status`;
/** MQTT shared subscription form, for brokers that support it (Mosquitto, EMQX). */
export const sharedFilter = (group: string, filter: string): string => `$share/${assertValidId(group, 'share group')}/${filter}`;

export type ParsedTopic =
  | { kind: 'up'; gw: string; channel: UplinkChannel }
  | { kind: 'down'; gw: string; channel: DownlinkChannel }
  | { kind: 'status'; gw: string };

/** Parses a gateway topic; returns null for anything that is not exactly one of the shapes above. */
export function parseTopic(topic: string): ParsedTopic | null {
  const parts = topic.split('/');
  if (parts[0] !== ROOT || parts[1] !== 'gw') return null;
  const gw = parts[2];
  if (!isValidId(gw)) return null;
  if (parts.length === 4 && parts[3] === 'status') return { kind: 'status', gw };
  if (parts.length !== 5) return null;
  const ch = parts[4] as string;
  if (parts[3] === 'up' && (UPLINK_CHANNELS as readonly string[]).includes(ch)) {
    return { kind: 'up', gw, channel: ch as UplinkChannel };
  }
  if (parts[3] === 'down' && (DOWNLINK_CHANNELS as readonly string[]).includes(ch)) {
    return { kind: 'down', gw, channel: ch as DownlinkChannel };
  }
  return null;
}

/** May gateway `gw` publish to `topic`? Only its own uplink and status topics. */
export function gatewayMayPublish(gw: string, topic: string): boolean {
  const p = parseTopic(topic);
  return p !== null && p.gw === gw && (p.kind === 'up' || p.kind === 'status');
}

/** May gateway `gw` subscribe to `filter`? Only its own downlink branch (exact topics or its `down/#`). */
export function gatewayMaySubscribe(gw: string, filter: string): boolean {
  if (filter === downlinkFilter(gw)) return true;
  const p = parseTopic(filter);
  return p !== null && p.gw === gw && p.kind === 'down';
}

/** Refuses wildcards and empty levels in a topic we are about to publish to. */
export function assertPublishable(topic: string): string {
  if (topic.length === 0 || /[+#\u0000]/.test(topic) || topic.split('/').some((l) => l.length === 0)) {
    throw new TypeError(`refusing to publish to ${JSON.stringify(topic)}`);
  }
  return topic;
}

/**
 * Topics of the gateway's own local broker, for on-site devices. Devices publish under `site/{kind}/{deviceId}/…`;
 * the gateway answers under the same device's branch.
 */
export const site = {
  parking: (dev: string) => `site/parking/${assertValidId(dev, 'device id')}`,
  scan: (dev: string) => `site/scanner/${assertValidId(dev, 'device id')}/scan`,
  scanAnswer: (dev: string) => `site/scanner/${assertValidId(dev, 'device id')}/answer`,
  pass: (dev: string) => `site/reader/${assertValidId(dev, 'device id')}/code`,
  passAnswer: (dev: string) => `site/reader/${assertValidId(dev, 'device id')}/decision`,
  relay: (gate: string) => `site/gate/${assertValidId(gate, 'gate id')}/relay`,
  alarm: (zone: string) => `site/alarm/${assertValidId(zone, 'alarm zone')}`,
  PARKING_FILTER: 'site/parking/+',
  SCAN_FILTER: 'site/scanner/+/scan',
  PASS_FILTER: 'site/reader/+/code',
  ALARM_FILTER: 'site/alarm/+',
} as const;

export type SiteTopic =
  | { kind: 'parking'; device: string }
  | { kind: 'scan'; device: string }
  | { kind: 'pass'; device: string }
  | { kind: 'alarm'; zone: string };

export function parseSiteTopic(topic: string): SiteTopic | null {
  const p = topic.split('/');
  if (p[0] !== 'site' || !isValidId(p[2])) return null;
  if (p.length === 3 && p[1] === 'parking') return { kind: 'parking', device: p[2] };
  if (p.length === 3 && p[1] === 'alarm') return { kind: 'alarm', zone: p[2] };
  if (p.length === 4 && p[1] === 'scanner' && p[3] === 'scan') return { kind: 'scan', device: p[2] };
  if (p.length === 4 && p[1] === 'reader' && p[3] === 'code') return { kind: 'pass', device: p[2] };
  return null;
}
