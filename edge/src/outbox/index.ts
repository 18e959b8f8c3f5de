import { type Static, Type } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { Outbox } from './contract.js';
import { FileOutbox } from './file.js';
import { MemoryOutbox } from './memory.js';

export type { ItemType, NewItem, Outbox, OutboxItem, OutboxStats } from './contract.js';
export type { OutboxCounters, OutboxLimits } from './base.js';
export { FileOutbox, type FileOutboxOptions } from './file.js';
export { MemoryOutbox } from './memory.js';

const MiB = 1024 * 1024;

/** The `outbox` section of the edge config (docs/outbox.md explains every rule). */
export const OutboxSection = Type.Object(
  {
    kind: Type.Union([Type.Literal('file'), Type.Literal('memory')], {
      default: 'file',
      description: '"file": durable segments on disk (required for acceptance, DESIGN.md req. 2); "memory": tests only, lost on restart',
    }),
    dir: Type.String({ default: 'var/outbox', minLength: 1, description: 'Directory of the segment files (file kind)' }),
    maxBytes: Type.Integer({
      default: 256 * MiB,
      minimum: 64 * 1024,
      maximum: 1024 * 1024 * MiB,
      description: 'Bound on unreleased payload + frame bytes; when full the oldest bulk (class 2) items are dropped',
    }),
    maxAgeMs: Type.Integer({
      default: 7 * 24 * 3600 * 1000,
      minimum: 60_000,
      description: 'Waiting items older than this are dropped and counted',
    }),
    segmentBytes: Type.Integer({
      default: 16 * MiB,
      minimum: 64 * 1024,
      maximum: 1024 * MiB,
      description: 'A new segment file starts when the current one is this large; whole segments are deleted once released',
    }),
    groupCommitMs: Type.Number({
      default: 0,
      minimum: 0,
      maximum: 100,
      description: 'Extra wait before an fsync so that more appends share it (0: appends arriving during an fsync share the next one)',
    }),
    fsync: Type.Union([Type.Literal('data'), Type.Literal('full'), Type.Literal('off')], {
      default: 'data',
      description: '"data": fdatasync before append resolves; "full": fsync; "off": no sync (benchmarks only: breaks acceptance)',
    }),
    ackFlushMs: Type.Integer({
      default: 1000,
      minimum: 0,
      maximum: 60_000,
      description: 'Releases are written at once and fsynced lazily within this window (a re-send after power loss is harmless)',
    }),
    liveShare: Type.Number({
      default: 0.25,
      minimum: 0,
      maximum: 1,
      description: 'Share of every lease batch taken from the newest waiting items of the class; the oldest fill the rest (a backlog drains from both ends, live traffic is not starved)',
    }),
  },
  { additionalProperties: false, description: 'Durable edge outbox between acceptance and the uplink' },
);
export type OutboxConfig = Static<typeof OutboxSection>;

/** Builds the configured outbox (not opened: call `open()`). */
export function createOutbox(config: OutboxConfig, logger: Logger): Outbox {
  const log = logger.child({ part: 'outbox' });
  const limits = {
    maxBytes: config.maxBytes,
    maxAgeMs: config.maxAgeMs,
    liveShare: config.liveShare,
  };
  if (config.kind === 'memory') return new MemoryOutbox(limits, log);
  return new FileOutbox(
    {
      ...limits,
      dir: config.dir,
      segmentBytes: config.segmentBytes,
      groupCommitMs: config.groupCommitMs,
      fsync: config.fsync,
      ackFlushMs: config.ackFlushMs,
    },
    log,
  );
}
