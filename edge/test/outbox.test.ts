import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { checkConfig } from '@hutong/protocols';
import { afterAll, describe, expect, it } from 'vitest';
import { FileOutbox } from '../src/outbox/file.js';
import { createOutbox, OutboxSection } from '../src/outbox/index.js';
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

describe('outbox config section and factory', () => {
  it('fills the documented defaults and reports every error at once', () => {
    const ok = checkConfig(OutboxSection, {});
    expect(ok.ok && ok.value).toMatchObject({ kind: 'file', maxBytes: 256 * 1024 * 1024, maxAgeMs: 7 * 24 * 3600_000, fsync: 'data', groupCommitMs: 0 });
    const bad = checkConfig(OutboxSection, { kind: 'disk', maxbytes: 5, liveShare: 2 });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues.map((i) => i.path).sort()).toEqual(expect.arrayContaining(['/kind', '/liveShare']));
    if (!bad.ok) expect(bad.issues.some((i) => i.path === '/maxbytes' || i.message.includes('maxbytes'))).toBe(true);
  });

  it('builds the configured kind', async () => {
    const mem = checkConfig(OutboxSection, { kind: 'memory' });
    expect(mem.ok).toBe(true);
    if (mem.ok) expect(createOutbox(mem.value, log)).toBeInstanceOf(MemoryOutbox);
    const file = checkConfig(OutboxSection, { dir: join(root, 'factory') });
    if (!file.ok) throw new Error('config');
    const ob = createOutbox(file.value, log);
    expect(ob).toBeInstanceOf(FileOutbox);
    await ob.open();
    await ob.append([{ cls: 0, type: 'rec', data: new TextEncoder().encode('{}') }]);
    expect(ob.stats().appended).toBe(1);
    await ob.close();
  });
});
