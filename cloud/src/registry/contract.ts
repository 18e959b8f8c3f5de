import type { DeviceKind } from '@hutong/protocols';

/**
 * What ingest needs from the device registry: a synchronous lookup (ingest is a hot path), served from an
 * in-memory copy that the registry keeps fresh. The registry (relational store) is the source of truth.
 */
export interface DeviceDirectory {
  /** The kind of a device registered under gateway `gw`, or undefined if unknown. A gateway itself is kind 'gateway'. */
  kindOf(gw: string, device: string): DeviceKind | undefined;
}

/** What ingest reports about gateways it hears from, for the API's last-seen and online state. */
export interface PresenceSink {
  seen(gw: string, atMs: number): void;
  status(gw: string, state: 'online' | 'offline', atMs: number): void;
}
