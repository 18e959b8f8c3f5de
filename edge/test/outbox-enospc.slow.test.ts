import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileOutbox } from '../src/outbox/file.js';
import { item, text } from './outbox-abstract.js';

/**
 * A real full disk: a 256 KiB tmpfs mounted for the test (needs root, as CI runs; skipped otherwise).
 * The outbox must refuse appends with E_OUTBOX_IO, keep serving, and lose nothing it accepted.
 */
const mnt = mkdtempSync(join(tmpdir(), 'outbox-enospc-'));
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], { stdio: 'ignore' });
  mounted = true;
} catch {
  mounted = false;
}

function outbox(): FileOutbox {
  return new FileOutbox(
    {
      dir: join(mnt, 'outbox'),
      maxBytes: 1 << 24,
      maxAgeMs: 7 * 24 * 3600_000,
      liveShare: 0.25,
      segmentBytes: 64 * 1024,
      groupCommitMs: 0,
      fsync: 'data',
      ackFlushMs: 0,
    },
    pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
  );
}

describe.skipIf(!mounted)('FileOutbox on a full disk (tmpfs)', () => {
  beforeAll(() => {
    expect(mounted).toBe(true);
  });
  afterAll(() => {
    if (mounted) execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  it('refuses appends with E_OUTBOX_IO when the disk is full, keeps serving, and recovers when space frees', async () => {
    const ob = outbox();
    await ob.open();
    const accepted: string[] = [];
    let refused = 0;
    const pad = 'x'.repeat(900);
    for (let i = 0; i < 1000 && refused < 5; i++) {
      const t = `${i} ${pad}`;
      try {
        await ob.append([item((i % 3) as 0 | 1 | 2, t)]);
        accepted.push(t);
      } catch (e) {
        expect(e).toMatchObject({ code: 'E_OUTBOX_IO' });
        refused++;
      }
    }
    expect(refused).toBe(5);
    expect(accepted.length).toBeGreaterThan(50);
    expect(ob.counts().rejectedIo).toBe(5);
    // Everything accepted is there and leasable.
    const all = [];
    for (;;) {
      const got = ob.lease(100, 1 << 20);
      if (got.length === 0) break;
      all.push(...got);
    }
    expect(all.map(text).sort()).toEqual([...accepted].sort());
    // Releasing the oldest half deletes whole segments and frees space: appends work again.
    const oldest = all.sort((a, b) => a.id - b.id).slice(0, Math.floor(all.length / 2));
    await ob.release(oldest.map((o) => o.id));
    ob.requeue(all.slice(oldest.length).map((o) => o.id));
    await ob.append([item(0, 'after the disk had room again')]);
    await ob.close();

    const again = outbox();
    await again.open();
    const left = [];
    for (;;) {
      const got = again.lease(100, 1 << 20);
      if (got.length === 0) break;
      left.push(...got.map(text));
    }
    const expected = [...all.slice(oldest.length).map(text), 'after the disk had room again'];
    expect(left.sort()).toEqual(expected.sort());
    expect(again.counts().corrupt).toBe(0);
    await again.close();
  });
});
