import { type FileHandle, mkdir, open, readFile, readdir, unlink } from 'node:fs/promises';
import { readSync } from 'node:fs';
import { join } from 'node:path';
import { HutongError } from '@hutong/protocols';
import type { Logger } from 'pino';
import { OutboxBase, type OutboxLimits } from './base.js';
import type { NewItem, OutboxItem } from './contract.js';
import { HEADER, MAX_PAYLOAD, SEGMENT_MAGIC, decodeAcks, encodeAcks, frameCrc, scanSegment, writeFrame } from './format.js';
import { type Entry, FRAME_OVERHEAD, WAITING } from './queue.js';

export interface FileOutboxOptions extends OutboxLimits {
  dir: string;
  /** A new segment starts once the current one reaches this size. */
  segmentBytes: number;
  /** Extra wait before a sync so more appends share it; appends arriving during a sync always share the next. */
  groupCommitMs: number;
  /** 'data': fdatasync before append resolves (shipped); 'full': fsync; 'off': none (benchmark baseline only). */
  fsync: 'data' | 'full' | 'off';
  /** Releases are written at once (survive a process kill) and fsynced within this window (power loss). */
  ackFlushMs: number;
  /** Test hook for disk faults (ENOSPC, EIO): called before each segment write. */
  faults?: { beforeWrite?: (bytes: number) => void };
}

interface Segment {
  firstId: number;
  log: string;
  ack: string;
  fh: FileHandle;
  /** Opened on the first release in this segment (a promise, so concurrent releases share one handle). */
  ackFh?: Promise<FileHandle>;
  /** Bytes written and synced (where the next frame goes). */
  size: number;
  /** Unreleased items in this segment. */
  live: number;
  ackDirty: boolean;
  /** A write or sync failed here: never append to it again. */
  broken: boolean;
}

interface FileEntry extends Entry {
  seg: Segment;
  /** Frame start in the segment file. */
  off: number;
}

interface Pending {
  buf: Buffer;
  entries: FileEntry[];
  reserved: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

const SEG_RE = /^seg-(\d{16})\.(log|ack)$/;
const segName = (firstId: number, ext: 'log' | 'ack') => `seg-${String(firstId).padStart(16, '0')}.${ext}`;
/** Leased frames closer than this in one segment are read with one call. */
const READ_GAP = 64 * 1024;

/**
 * The durable outbox: append-only segment files, one CRC-checked frame per item, fsync before an append
 * resolves (group commit), releases in a per-segment ack file, whole segments deleted once every item in them
 * is released or dropped. The index lives in memory and is rebuilt by scanning the segments on open; a torn or
 * corrupt tail is truncated and reported, never a crash. Format and rules: format.ts and docs/outbox.md.
 */
export class FileOutbox extends OutboxBase<FileEntry> {
  private segments: Segment[] = [];
  private active: Segment | undefined;
  private nextId = 1;
  private pending: Pending[] = [];
  private flushScheduled = false;
  private flushing: Promise<void> | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private readonly forgetting = new Set<Promise<void>>();
  private opened = false;

  constructor(
    private readonly options: FileOutboxOptions,
    log: Logger,
  ) {
    super(options, log);
  }

  async open(): Promise<void> {
    const dir = this.options.dir;
    await mkdir(dir, { recursive: true });
    const names = await readdir(dir);
    const logs = new Set<number>();
    for (const n of names) {
      const m = SEG_RE.exec(n);
      if (m?.[2] === 'log') logs.add(Number(m[1]));
    }
    // An ack file whose segment is gone was left by a delete cut short: nothing refers to it.
    for (const n of names) {
      const m = SEG_RE.exec(n);
      if (m?.[2] === 'ack' && !logs.has(Number(m[1]))) await unlink(join(dir, n)).catch(() => {});
    }
    for (const firstId of [...logs].sort((a, b) => a - b)) await this.load1(firstId);
    const last = this.segments[this.segments.length - 1];
    if (last !== undefined) this.nextId = Math.max(this.nextId, last.firstId);
    for (const seg of [...this.segments]) if (seg.live === 0 && seg !== last) await this.drop(seg);
    if (last !== undefined && last.size < this.options.segmentBytes) this.active = last;
    else await this.roll(this.nextId);
    this.opened = true;
    if (this.options.ackFlushMs > 0) {
      this.ackTimer = setInterval(() => void this.syncAcks().catch((err: unknown) => this.ioError('ack sync', err)), this.options.ackFlushMs);
      this.ackTimer.unref();
    }
    this.log.info(
      { dir, segments: this.segments.length, items: this.index.entries.size, corrupt: this.counters.corrupt },
      'outbox opened',
    );
  }

  append(items: NewItem[]): Promise<void> {
    if (!this.opened) return Promise.reject(new Error('outbox is not open'));
    if (items.length === 0) return Promise.resolve();
    for (const it of items) {
      // The scan on open treats a longer frame as garbage: refuse it here rather than lose it there.
      if (it.data.byteLength > MAX_PAYLOAD) {
        return Promise.reject(new HutongError('E_OVERSIZED', `outbox item of ${it.data.byteLength} B (limit ${MAX_PAYLOAD})`));
      }
    }
    let reserved: number;
    try {
      reserved = this.admit(items);
    } catch (e) {
      return Promise.reject(e);
    }
    let total = 0;
    for (const it of items) total += FRAME_OVERHEAD + it.data.byteLength;
    const buf = Buffer.allocUnsafe(total);
    const at = this.now();
    const entries: FileEntry[] = [];
    let off = 0;
    for (const it of items) {
      const id = this.nextId++;
      writeFrame(buf, off, id, at, it.cls, it.type, it.data);
      // seg and off are set when the flush places the frame.
      entries.push({ id, cls: it.cls, type: it.type, at, size: it.data.byteLength, state: WAITING, seg: undefined as never, off });
      off += FRAME_OVERHEAD + it.data.byteLength;
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ buf, entries, reserved, resolve, reject });
      this.scheduleFlush();
    });
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    if (this.ackTimer !== undefined) clearInterval(this.ackTimer);
    while (this.flushing !== undefined || this.pending.length > 0) {
      if (this.flushing === undefined) this.flushing = this.flush();
      await this.flushing;
    }
    await Promise.allSettled([...this.forgetting]);
    await this.syncAcks().catch((err: unknown) => this.ioError('ack sync', err));
    for (const seg of this.segments) {
      await this.closeAck(seg);
      await seg.fh.close().catch(() => {});
    }
    this.segments = [];
    this.active = undefined;
    this.wake();
  }

  /** Segment files on disk and their bytes (disk use can exceed `bytes` by partly released segments). */
  disk(): { segments: number; bytes: number } {
    let bytes = 0;
    for (const s of this.segments) bytes += s.size;
    return { segments: this.segments.length, bytes };
  }

  protected load(entries: FileEntry[]): OutboxItem[] {
    // Read runs of nearby frames with one call per run; verify every CRC again (the disk may have rotted).
    const bySeg = new Map<Segment, FileEntry[]>();
    for (const e of entries) {
      const l = bySeg.get(e.seg);
      if (l === undefined) bySeg.set(e.seg, [e]);
      else l.push(e);
    }
    const data = new Map<number, Buffer>();
    const bad: FileEntry[] = [];
    for (const [seg, list] of bySeg) {
      list.sort((a, b) => a.off - b.off);
      let i = 0;
      while (i < list.length) {
        let j = i;
        const start = list[i]!.off;
        let end = start + FRAME_OVERHEAD + list[i]!.size;
        while (j + 1 < list.length && list[j + 1]!.off - end < READ_GAP) {
          j++;
          end = Math.max(end, list[j]!.off + FRAME_OVERHEAD + list[j]!.size);
        }
        const buf = Buffer.allocUnsafe(end - start);
        let got = 0;
        try {
          while (got < buf.length) {
            const n = readSync(seg.fh.fd, buf, got, buf.length - got, start + got);
            if (n === 0) break;
            got += n;
          }
        } catch (err) {
          this.log.error({ err, segment: seg.log }, 'outbox: segment read failed');
        }
        for (let k = i; k <= j; k++) {
          const e = list[k]!;
          const o = e.off - start;
          if (o + FRAME_OVERHEAD + e.size <= got && frameCrc(buf, o, e.size) === buf.readUInt32LE(o)) {
            data.set(e.id, buf.subarray(o + FRAME_OVERHEAD, o + FRAME_OVERHEAD + e.size));
          } else bad.push(e);
        }
        i = j + 1;
      }
    }
    if (bad.length > 0) {
      for (const e of bad) {
        this.index.remove(e.id);
        this.dropped[e.cls]++;
      }
      this.counters.corrupt += bad.length;
      this.log.warn({ code: 'E_OUTBOX_CORRUPT', items: bad.map((e) => e.id) }, 'outbox: items failed their CRC on read-back: dropped');
      void this.forget(bad).catch((err: unknown) => this.ioError('forget', err));
    }
    const out: OutboxItem[] = [];
    for (const e of entries) {
      const d = data.get(e.id);
      if (d !== undefined) out.push({ id: e.id, cls: e.cls, type: e.type, at: e.at, data: d });
    }
    return out;
  }

  protected forget(entries: FileEntry[]): Promise<void> {
    // close() waits for these, so no ack write lands on a closed file.
    const p = this.forget1(entries).finally(() => this.forgetting.delete(p));
    this.forgetting.add(p);
    return p;
  }

  private async forget1(entries: FileEntry[]): Promise<void> {
    const bySeg = new Map<Segment, number[]>();
    for (const e of entries) {
      const seg = e.seg;
      seg.live--;
      const l = bySeg.get(seg);
      if (l === undefined) bySeg.set(seg, [e.id - seg.firstId]);
      else l.push(e.id - seg.firstId);
    }
    for (const [seg, offsets] of bySeg) {
      if (seg.live === 0 && seg !== this.active) {
        await this.drop(seg);
        continue;
      }
      if (!this.segments.includes(seg)) continue;
      seg.ackFh ??= open(seg.ack, 'a');
      const afh = await seg.ackFh;
      if (!this.segments.includes(seg)) continue;
      // Written now (survives a killed process), synced by the ack timer (a re-send after power loss is harmless).
      await afh.write(encodeAcks(offsets));
      seg.ackDirty = true;
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing !== undefined) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushScheduled = false;
      if (this.flushing === undefined) this.flushing = this.flush();
    };
    if (this.options.groupCommitMs > 0) setTimeout(run, this.options.groupCommitMs);
    else setImmediate(run);
  }

  /** One group commit: everything pending goes out with one write and one sync. */
  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    let n = 0;
    let reserved = 0;
    for (const p of batch) {
      n += p.entries.length;
      reserved += p.reserved;
    }
    try {
      let seg = this.active;
      const total = batch.reduce((s, p) => s + p.buf.length, 0);
      if (seg === undefined || seg.broken || (seg.size > HEADER && seg.size + total > this.options.segmentBytes)) {
        seg = await this.roll(batch[0]!.entries[0]!.id);
      }
      this.options.faults?.beforeWrite?.(total);
      const base = seg.size;
      const { bytesWritten } = await seg.fh.writev(
        batch.map((p) => p.buf),
        base,
      );
      // libuv retries short writes until one fails; a short count left is the disk filling up mid-write.
      if (bytesWritten !== total) {
        throw Object.assign(new Error(`short write: ${bytesWritten} of ${total} B`), { code: 'ENOSPC' });
      }
      if (this.options.fsync === 'data') await seg.fh.datasync();
      else if (this.options.fsync === 'full') await seg.fh.sync();
      seg.size += total;
      let off = base;
      for (const p of batch) {
        for (const e of p.entries) {
          e.seg = seg;
          e.off += off;
          this.index.add(e);
        }
        off += p.buf.length;
      }
      seg.live += n;
      this.appended += n;
      this.reservedBytes -= reserved;
      this.wake();
      for (const p of batch) p.resolve();
    } catch (err) {
      this.reservedBytes -= reserved;
      this.counters.rejectedIo += n;
      const seg = this.active;
      // The tail may hold part of this write: cut it off, and never append to this segment again (after a failed
      // fsync the page cache is no guide to what is on disk).
      if (seg !== undefined) {
        seg.broken = true;
        await seg.fh.truncate(seg.size).catch(() => {});
      }
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      this.log.error({ code: 'E_OUTBOX_IO', errno: code, items: n, err }, 'outbox: append refused, disk write failed');
      const e = new HutongError('E_OUTBOX_IO', `${n} item(s) not stored: ${code}`, { cause: err });
      for (const p of batch) p.reject(e);
    } finally {
      this.flushing = undefined;
      if (this.pending.length > 0) this.scheduleFlush();
    }
  }

  /** Starts a new segment whose first id is `firstId`; the file and its directory entry are synced first. */
  private async roll(firstId: number): Promise<Segment> {
    const dir = this.options.dir;
    const log = join(dir, segName(firstId, 'log'));
    const fh = await open(log, 'w+');
    try {
      await fh.write(SEGMENT_MAGIC, 0, HEADER, 0);
      await fh.sync();
      await this.syncDir();
    } catch (err) {
      await fh.close().catch(() => {});
      await unlink(log).catch(() => {});
      throw err;
    }
    const seg: Segment = {
      firstId,
      log,
      ack: join(dir, segName(firstId, 'ack')),
      fh,
      size: HEADER,
      live: 0,
      ackDirty: false,
      broken: false,
    };
    const prev = this.active;
    this.segments.push(seg);
    this.active = seg;
    if (prev !== undefined && prev.live === 0) await this.drop(prev);
    return seg;
  }

  /** Scans one segment into the index: truncates a torn tail, skips corrupt regions, applies its acks. */
  private async load1(firstId: number): Promise<void> {
    const dir = this.options.dir;
    const log = join(dir, segName(firstId, 'log'));
    const ack = join(dir, segName(firstId, 'ack'));
    // Acks first: the frames are indexed as the scan meets them.
    let released: Uint8Array | undefined;
    const ackBuf = await readFile(ack).catch(() => undefined);
    if (ackBuf !== undefined) {
      const { offsets, goodEnd } = decodeAcks(ackBuf);
      let max = -1;
      for (const o of offsets) if (o > max) max = o;
      released = new Uint8Array(max + 1);
      for (const o of offsets) released[o] = 1;
      // A torn ack entry only means those items are sent again (the cloud's write is idempotent).
      if (goodEnd < ackBuf.length) {
        const afh = await open(ack, 'r+');
        await afh.truncate(goodEnd);
        await afh.close();
      }
    }
    const fh = await open(log, 'r+');
    const seg: Segment = { firstId, log, ack, fh, size: HEADER, live: 0, ackDirty: false, broken: false };
    this.segments.push(seg);
    let misplaced = 0;
    const buf = await readFile(log);
    const scan = scanSegment(buf, (b, off, size) => {
      const id = b.readDoubleLE(off + 8);
      // Ids grow across segments; one that does not (a file copied in by hand) is skipped, not trusted.
      if (id < this.nextId || id < firstId) {
        misplaced++;
        return;
      }
      this.nextId = id + 1;
      const o = id - firstId;
      if (released !== undefined && o < released.length && released[o] === 1) return;
      const cls = b[off + 24] as 0 | 1 | 2;
      const type = b[off + 25] === 0 ? 'rec' : 'img';
      this.index.add({ id, cls, type, at: b.readDoubleLE(off + 16), size, state: WAITING, seg, off });
      seg.live++;
    });
    seg.size = Math.max(scan.goodEnd, HEADER);
    if (!scan.headerOk) {
      this.counters.corrupt++;
      this.log.warn({ code: 'E_OUTBOX_CORRUPT', segment: log }, 'outbox: segment header damaged; frames scanned anyway');
    }
    for (const [from, to] of scan.skipped) {
      this.counters.corrupt++;
      this.log.warn({ code: 'E_OUTBOX_CORRUPT', segment: log, offset: from, bytes: to - from }, 'outbox: corrupt region skipped');
    }
    if (scan.goodEnd < buf.length) {
      this.counters.corrupt++;
      this.log.warn(
        { code: 'E_OUTBOX_CORRUPT', segment: log, offset: scan.goodEnd, bytes: buf.length - scan.goodEnd },
        'outbox: torn or corrupt tail truncated to the last good record',
      );
      await fh.truncate(scan.goodEnd);
      await fh.sync();
    }
    if (scan.goodEnd < HEADER) {
      await fh.write(SEGMENT_MAGIC, 0, HEADER, 0);
      await fh.sync();
    }
    if (misplaced > 0) {
      this.counters.corrupt++;
      this.log.warn({ code: 'E_OUTBOX_CORRUPT', segment: log, records: misplaced }, 'outbox: records with out-of-order ids skipped');
    }
  }

  /** Deletes a segment whose items are all gone: the log first, so a cut-short delete leaves only an orphan ack. */
  private async drop(seg: Segment): Promise<void> {
    const i = this.segments.indexOf(seg);
    if (i === -1) return;
    this.segments.splice(i, 1);
    await seg.fh.close().catch(() => {});
    await this.closeAck(seg);
    await unlink(seg.log).catch((err: unknown) => this.ioError('unlink', err));
    await unlink(seg.ack).catch(() => {});
  }

  private async syncAcks(): Promise<void> {
    for (const seg of this.segments) {
      if (!seg.ackDirty || seg.ackFh === undefined) continue;
      seg.ackDirty = false;
      await (await seg.ackFh).datasync();
    }
  }

  private async closeAck(seg: Segment): Promise<void> {
    const p = seg.ackFh;
    seg.ackFh = undefined;
    if (p !== undefined) await p.then((fh) => fh.close()).catch(() => {});
  }

  private async syncDir(): Promise<void> {
    const d = await open(this.options.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  private ioError(what: string, err: unknown): void {
    this.log.error({ code: 'E_OUTBOX_IO', err }, `outbox: ${what} failed`);
  }
}
