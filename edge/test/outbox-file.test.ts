import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { OutboxItem } from '../src/outbox/contract.js';
import { FileOutbox, type FileOutboxOptions } from '../src/outbox/file.js';
import { scanSegment } from '../src/outbox/format.js';
import { item, text } from './outbox-abstract.js';

const root = mkdtempSync(join(tmpdir(), 'outbox-file-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `d${dirs++}`);

/** A logger whose lines the test can read. */
function capture(): { log: pino.Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const log = pino({ level: 'warn' }, stream);
  return {
    log,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const silent = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

function outbox(dir: string, extra: Partial<FileOutboxOptions> = {}, log = silent): FileOutbox {
  return new FileOutbox(
    {
      dir,
      maxBytes: 1 << 24,
      maxAgeMs: 7 * 24 * 3600_000,
      liveShare: 0.25,
      segmentBytes: 1 << 20,
      groupCommitMs: 0,
      fsync: 'data',
      ackFlushMs: 0,
      ...extra,
    },
    log,
  );
}

function leaseAll(ob: FileOutbox): OutboxItem[] {
  const out: OutboxItem[] = [];
  for (;;) {
    const got = ob.lease(1000, 1 << 30);
    if (got.length === 0) return out.sort((a, b) => a.id - b.id);
    out.push(...got);
  }
}

/** Deterministic PRNG (mulberry32) so a failing flip case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function segmentLogs(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.log'))
    .sort();
}

describe('FileOutbox on disk', () => {
  it('keeps unreleased items across close and reopen, forgets released ones, and keeps ids increasing', async () => {
    const dir = freshDir();
    const a = outbox(dir);
    await a.open();
    await a.append([item(0, 'gate1'), item(2, 'bulk1'), item(1, 'scan1'), item(2, 'bulk2')]);
    const leased = a.lease(2, 1 << 20);
    expect(leased.map(text)).toEqual(['gate1', 'scan1']);
    await a.release([leased[0]!.id]);
    const maxId = Math.max(...leased.map((l) => l.id));
    await a.close();

    const b = outbox(dir);
    await b.open();
    // The in-flight scan item was never released: it is waiting again.
    expect(b.stats().depth).toEqual([0, 1, 2]);
    expect(b.stats().inFlight).toBe(0);
    expect(leaseAll(b).map(text)).toEqual(['bulk1', 'scan1', 'bulk2']);
    await b.append([item(0, 'gate2')]);
    const [g2] = b.lease(1, 1 << 20);
    // ids 1..4 were used before the restart.
    expect(g2!.id).toBeGreaterThan(Math.max(maxId, 4));
    await b.close();
  });

  it('forEachHeld after a reopen sees every unreleased item, in append order, with its bytes', async () => {
    const dir = freshDir();
    const a = outbox(dir);
    await a.open();
    await a.append([item(2, 'one'), item(2, 'two'), item(0, 'three')]);
    await a.append([item(2, 'four')]);
    const two = a.lease(10, 1 << 20).find((i) => text(i) === 'two')!;
    await a.release([two.id]);
    await a.close();
    const b = outbox(dir);
    await b.open();
    const seen: string[] = [];
    b.forEachHeld('rec', (i) => seen.push(text(i)));
    expect(seen).toEqual(['one', 'three', 'four']);
    await b.close();
  });

  it('releases are on disk as soon as release resolved, even if the process never closes', async () => {
    const dir = freshDir();
    const a = outbox(dir, { ackFlushMs: 60_000 });
    await a.open();
    await a.append([item(2, 'x'), item(2, 'y'), item(2, 'z')]);
    const got = a.lease(2, 1 << 20);
    await a.release(got.map((g) => g.id));
    // No close: a second reader sees what a restart after a killed process would see.
    const b = outbox(dir);
    await b.open();
    expect(leaseAll(b).map(text)).toEqual(['z']);
    await b.close();
    await a.close();
  });

  it('deletes segments once all their items are gone and never reuses an id, even when empty', async () => {
    const dir = freshDir();
    const a = outbox(dir, { segmentBytes: 64 * 1024 });
    await a.open();
    const payload = 'p'.repeat(1000);
    for (let i = 0; i < 300; i++) await a.append([item(2, `${i} ${payload}`)]);
    expect(a.disk().segments).toBeGreaterThanOrEqual(4);
    let last = 0;
    for (;;) {
      const got = a.lease(50, 1 << 20);
      if (got.length === 0) break;
      last = got[got.length - 1]!.id;
      await a.release(got.map((g) => g.id));
    }
    // Only the active segment remains.
    expect(a.disk().segments).toBe(1);
    expect(segmentLogs(dir)).toHaveLength(1);
    await a.close();
    const b = outbox(dir, { segmentBytes: 64 * 1024 });
    await b.open();
    expect(b.stats().depth).toEqual([0, 0, 0]);
    await b.append([item(1, 'after')]);
    expect(b.lease(1, 1 << 20)[0]!.id).toBeGreaterThan(last);
    await b.close();
  });

  it('a torn last record, cut at every byte offset, is truncated and reported; earlier records stay intact', async () => {
    const src = freshDir();
    const a = outbox(src);
    await a.open();
    const texts = ['first record', 'second, a bit longer record', 'third {"k":"gate","v":1}', 'last one: ' + 'L'.repeat(40)];
    for (const t of texts) await a.append([item(1, t)]);
    await a.close();
    const [segName] = segmentLogs(src);
    const full = readFileSync(join(src, segName!));
    const frames = scanSegment(full).frames;
    expect(frames).toHaveLength(4);
    const lastStart = frames[3]!.off;
    for (let cut = lastStart; cut < full.length; cut++) {
      const dir = freshDir();
      mkdirSync(dir);
      writeFileSync(join(dir, segName!), full.subarray(0, cut));
      const cap = capture();
      const b = outbox(dir, {}, cap.log);
      await b.open();
      expect(leaseAll(b).map(text)).toEqual(texts.slice(0, 3));
      const torn = cut > lastStart;
      expect(b.counts().corrupt).toBe(torn ? 1 : 0);
      if (torn) expect(cap.lines().some((l) => l.code === 'E_OUTBOX_CORRUPT')).toBe(true);
      // The tail was cut off: new appends land after the good records and a second reopen is clean.
      await b.append([item(0, 'after')]);
      await b.close();
      const c = outbox(dir);
      await c.open();
      expect(leaseAll(c).map(text)).toEqual([...texts.slice(0, 3), 'after']);
      expect(c.counts().corrupt).toBe(0);
      await c.close();
    }
  });

  it('random byte flips never throw and never yield a record whose bytes changed; untouched records survive', async () => {
    const src = freshDir();
    const a = outbox(src);
    await a.open();
    const originals = new Map<number, string>();
    for (let i = 0; i < 60; i++) {
      await a.append([item((i % 3) as 0 | 1 | 2, JSON.stringify({ k: 'park', i, pad: 'x'.repeat(i % 17) }))]);
    }
    for (const it of leaseAll(a)) originals.set(it.id, text(it));
    await a.close();
    const [segName] = segmentLogs(src);
    const full = readFileSync(join(src, segName!));
    const frames = scanSegment(full).frames;
    const rand = prng(20261122);
    for (let trial = 0; trial < 150; trial++) {
      const copy = Buffer.from(full);
      const flips = 1 + Math.floor(rand() * 6);
      const hit = new Set<number>();
      for (let f = 0; f < flips; f++) {
        const pos = Math.floor(rand() * copy.length);
        copy[pos] = copy[pos]! ^ (1 + Math.floor(rand() * 255));
        hit.add(pos);
      }
      const dir = freshDir();
      mkdirSync(dir);
      writeFileSync(join(dir, segName!), copy);
      const b = outbox(dir);
      await b.open();
      const got = leaseAll(b);
      for (const g of got) expect(text(g)).toBe(originals.get(g.id));
      const ids = new Set(got.map((g) => g.id));
      for (const fr of frames) {
        let touched = false;
        for (const p of hit) if (p >= fr.off && p < fr.off + 28 + fr.size) touched = true;
        if (!touched) expect(ids.has(fr.id), `trial ${trial}: untouched record ${fr.id} lost`).toBe(true);
      }
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a corrupt ack entry only brings released items back, never releases others', async () => {
    const dir = freshDir();
    const a = outbox(dir);
    await a.open();
    await a.append([item(2, 'a'), item(2, 'b'), item(2, 'c')]);
    const [x, y] = a.lease(2, 1 << 20);
    await a.release([x!.id]);
    await a.release([y!.id]);
    await a.close();
    const ack = readdirSync(dir).find((n) => n.endsWith('.ack'))!;
    const buf = readFileSync(join(dir, ack));
    buf[buf.length - 1] = buf[buf.length - 1]! ^ 0xff; // breaks the second entry
    writeFileSync(join(dir, ack), buf);
    const b = outbox(dir);
    await b.open();
    expect(leaseAll(b).map(text)).toEqual(['b', 'c']);
    await b.close();
  });

  it('a disk-full write refuses that append with E_OUTBOX_IO, counts it, and keeps serving', async () => {
    const dir = freshDir();
    let failNext = false;
    const cap = capture();
    const a = outbox(
      dir,
      {
        faults: {
          beforeWrite: () => {
            if (!failNext) return;
            failNext = false;
            throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
          },
        },
      },
      cap.log,
    );
    await a.open();
    await a.append([item(0, 'before')]);
    failNext = true;
    await expect(a.append([item(0, 'lost-1'), item(2, 'lost-2')])).rejects.toMatchObject({ code: 'E_OUTBOX_IO' });
    expect(a.counts().rejectedIo).toBe(2);
    expect(cap.lines().some((l) => l.code === 'E_OUTBOX_IO' && l.errno === 'ENOSPC')).toBe(true);
    await a.append([item(0, 'after')]);
    expect(a.stats()).toMatchObject({ appended: 2, depth: [2, 0, 0] });
    await a.close();
    const b = outbox(dir);
    await b.open();
    expect(leaseAll(b).map(text)).toEqual(['before', 'after']);
    expect(b.counts().corrupt).toBe(0);
    await b.close();
  });

  it('refuses an item longer than a frame may be (it would read as garbage on open)', async () => {
    const a = outbox(freshDir(), { maxBytes: 1 << 28 });
    await a.open();
    await expect(a.append([{ cls: 1, type: 'img', data: new Uint8Array(64 * 1024 * 1024 + 1) }])).rejects.toMatchObject({
      code: 'E_OVERSIZED',
    });
    expect(a.stats().appended).toBe(0);
    await a.close();
  });

  it('concurrent appends share syncs and all land, in id order', async () => {
    const dir = freshDir();
    const a = outbox(dir, { groupCommitMs: 1 });
    await a.open();
    const all: Promise<void>[] = [];
    for (let i = 0; i < 500; i++) all.push(a.append([item(2, `c${i}`)]));
    await Promise.all(all);
    const got = leaseAll(a);
    expect(got.map(text)).toEqual(Array.from({ length: 500 }, (_, i) => `c${i}`));
    await a.close();
  });

  it('a copied segment from a crashed gateway with an ack file but no log is cleaned up', async () => {
    const dir = freshDir();
    const a = outbox(dir);
    await a.open();
    await a.append([item(1, 'keep')]);
    await a.close();
    writeFileSync(join(dir, 'seg-0000000000000001.ack'), Buffer.alloc(0));
    copyFileSync(join(dir, segmentLogs(dir)[0]!), join(dir, 'not-a-segment.txt'));
    const b = outbox(dir);
    await b.open();
    expect(leaseAll(b).map(text)).toEqual(['keep']);
    await b.close();
  });
});
