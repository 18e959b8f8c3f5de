import type { Logger } from 'pino';
import { OutboxBase, type OutboxLimits } from './base.js';
import type { NewItem, OutboxItem } from './contract.js';
import type { Entry } from './queue.js';

export interface FileOutboxOptions extends OutboxLimits {
  dir: string;
  segmentBytes: number;
  groupCommitMs: number;
  fsync: 'data' | 'full' | 'off';
  ackFlushMs: number;
}

/** Durable outbox on segment files (in progress: open() refuses until the format lands). */
export class FileOutbox extends OutboxBase<Entry> {
  constructor(
    readonly options: FileOutboxOptions,
    log: Logger,
  ) {
    super(options, log);
  }
  async open(): Promise<void> {
    throw new Error('FileOutbox is not implemented yet: use outbox.kind "memory"');
  }
  async append(_items: NewItem[]): Promise<void> {}
  async close(): Promise<void> {}
  protected load(): OutboxItem[] {
    return [];
  }
  protected async forget(): Promise<void> {}
}
