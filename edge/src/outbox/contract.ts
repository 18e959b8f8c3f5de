import type { Priority } from '@hutong/protocols';

/**
 * The outbox sits between acceptance and the uplink (DESIGN.md req. 2). A device's PUBACK or a reader's
 * answer is sent only after `append` resolved, i.e. the items are on disk (fsync, group commit allowed).
 * Items leave only when the cloud acknowledged them end to end (`release`), never on MQTT PUBACK.
 *
 * Payloads are opaque bytes: a record is its JSON text (the uplink concatenates them into a batch without
 * re-serialising), an image is a complete `up/image` frame whose header id is the item's ack id.
 */
export type ItemType = 'rec' | 'img';

export interface NewItem {
  cls: Priority;
  type: ItemType;
  data: Uint8Array;
}

export interface OutboxItem extends NewItem {
  /** Unique and increasing within one outbox, also across restarts. */
  id: number;
  /** Wall-clock ms when appended (for age bounds and the oldest-age stat). */
  at: number;
}

export interface OutboxStats {
  /** Items waiting or in flight, per priority class. */
  depth: [number, number, number];
  bytes: number;
  inFlight: number;
  oldestAgeMs: number;
  /** Items dropped because the outbox was full or too old, per class (only the lowest class is dropped when full). */
  dropped: [number, number, number];
  appended: number;
  released: number;
  /** Of `dropped`: items dropped for their age (maxAgeMs), per class. Optional: not every outbox reports it. */
  expired?: [number, number, number];
  /** Appends refused: `full` per class of the refused items (E_OUTBOX_FULL), `io` items (E_OUTBOX_IO, disk full). */
  refused?: { full: [number, number, number]; io: number };
  /** Torn or corrupt regions found on open and records that failed their CRC on read-back (E_OUTBOX_CORRUPT). */
  corrupt?: number;
}

export interface Outbox {
  open(): Promise<void>;
  /**
   * Resolves when every item is durable. Rejects with HutongError E_OUTBOX_FULL only if nothing could make room,
   * E_OUTBOX_IO if the disk write or sync failed (disk full), E_OVERSIZED for an item over 64 MiB; a refused
   * append stores none of its items (docs/outbox.md).
   */
  append(items: NewItem[]): Promise<void>;
  /**
   * Items to send next, highest priority (lowest class number) first, oldest first within a class; never items
   * already in flight. Marks them in flight. Stops at maxItems or before exceeding maxBytes (at least one item).
   * With a backlog, a share of each batch (`liveShare`) is the class's newest items, so live traffic is not
   * starved while a day of backlog drains (docs/outbox.md, "Lease order").
   */
  lease(maxItems: number, maxBytes: number, types?: ItemType): OutboxItem[];
  /** The cloud acknowledged these items end to end: they are gone for good (also after a restart). */
  release(ids: readonly number[]): Promise<void>;
  /** Give in-flight items back (ack timeout, uplink lost): they will be leased again. */
  requeue(ids: readonly number[]): void;
  /**
   * Read-only walk over every item of `type` still held (waiting or in flight), in id order, i.e. append order.
   * For state that must survive a restart along with the items (the parking service's last frame counters).
   * An item that fails its CRC on read-back is skipped (and dropped, as `lease` would). Returns the items visited.
   */
  forEachHeld(type: ItemType, fn: (item: OutboxItem) => void): number;
  /** Resolves the next time an item is appended or requeued (for an idle uplink loop). */
  whenReadable(): Promise<void>;
  stats(): OutboxStats;
  close(): Promise<void>;
}
