import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll } from 'vitest';
import { FileOutbox } from '../src/outbox/file.js';
import { MemoryOutbox } from '../src/outbox/memory.js';
import { type OutboxTestLimits, outboxContract } from './outbox-abstract.js';

const log = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

function limits(l: OutboxTestLimits) {
  return { maxBytes: 1 << 24, maxAgeMs: 7 * 24 * 3600_000, liveShare: 0.25, ...l };
}

outboxContract('MemoryOutbox', async (l) => {
  const ob = new MemoryOutbox(limits(l), log);
  await ob.open();
  return ob;
});

const root = mkdtempSync(join(tmpdir(), 'outbox-contract-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

outboxContract('FileOutbox', async (l) => {
  const ob = new FileOutbox(
    { ...limits(l), dir: join(root, String(n++)), segmentBytes: 4096, groupCommitMs: 0, fsync: 'data', ackFlushMs: 0 },
    log,
  );
  await ob.open();
  return ob;
});
