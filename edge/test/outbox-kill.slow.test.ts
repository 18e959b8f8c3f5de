import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { FileOutbox } from '../src/outbox/file.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'outbox-kill-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * Runs the appending child until it reported `until` accepted items, then SIGKILLs it; returns what it reported
 * as accepted and (with `drain`) as released.
 */
function burstAndKill(dir: string, start: number, until: number, drain = false): Promise<{ accepted: Set<number>; released: Set<number>; requested: Set<number> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'outbox-child.ts'), dir, String(start), '8', drain ? '1' : '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const accepted = new Set<number>();
    const released = new Set<number>();
    const requested = new Set<number>();
    let rest = '';
    let killed = false;
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) {
        if (l === 'ready') continue;
        if (l.startsWith('r')) released.add(Number(l.slice(1)));
        else if (l.startsWith('q')) requested.add(Number(l.slice(1)));
        else accepted.add(Number(l));
      }
      if (!killed && accepted.size >= until) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited without being killed (${String(signal)})`));
      else resolve({ accepted, released, requested });
    });
  });
}

describe('FileOutbox and kill -9', () => {
  it('every append the process reported as resolved is there after SIGKILL mid-burst, over repeated kills', async () => {
    const dir = join(root, 'kill');
    const all = new Set<number>();
    for (let round = 0; round < 3; round++) {
      const { accepted: reported } = await burstAndKill(dir, round * 1_000_000, 1500);
      for (const k of reported) all.add(k);
      const ob = new FileOutbox(
        {
          dir,
          maxBytes: 1 << 28,
          maxAgeMs: 7 * 24 * 3600_000,
          liveShare: 0.25,
          segmentBytes: 256 * 1024,
          groupCommitMs: 0,
          fsync: 'data',
          ackFlushMs: 0,
        },
        pino({ level: 'silent' }),
      );
      await ob.open();
      const present = new Set<number>();
      const ids = new Set<number>();
      for (;;) {
        const got = ob.lease(5000, 1 << 30);
        if (got.length === 0) break;
        for (const g of got) {
          expect(ids.has(g.id)).toBe(false);
          ids.add(g.id);
          present.add((JSON.parse(g.data.toString()) as { k: number }).k);
        }
      }
      const missing = [...all].filter((k) => !present.has(k));
      expect(missing).toEqual([]);
      // Nothing is released here, so the next round adds to the same backlog.
      await ob.close();
    }
  });

  it('killed while draining: nothing accepted and unreleased is lost, nothing whose release resolved comes back', async () => {
    const dir = join(root, 'drain');
    const { accepted, released, requested } = await burstAndKill(dir, 0, 3000, true);
    expect(released.size).toBeGreaterThan(0);
    const ob = new FileOutbox(
      {
        dir,
        maxBytes: 1 << 28,
        maxAgeMs: 7 * 24 * 3600_000,
        liveShare: 0.25,
        segmentBytes: 256 * 1024,
        groupCommitMs: 0,
        fsync: 'data',
        ackFlushMs: 0,
      },
      pino({ level: 'silent' }),
    );
    await ob.open();
    const present = new Set<number>();
    for (;;) {
      const got = ob.lease(5000, 1 << 30);
      if (got.length === 0) break;
      for (const g of got) present.add((JSON.parse(g.data.toString()) as { k: number }).k);
    }
    await ob.close();
    // A release asked for when the kill came may or may not have reached the disk: either outcome is correct.
    const lost = [...accepted].filter((k) => !requested.has(k) && !present.has(k));
    expect(lost).toEqual([]);
    const back = [...released].filter((k) => present.has(k));
    expect(back).toEqual([]);
  });
});
