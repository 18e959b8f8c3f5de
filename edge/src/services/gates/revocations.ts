import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RevocationMessage } from '@hutong/protocols';

/**
 * A set of pass ids with the version of the list it mirrors, kept in memory (a Set: 100 000 ids ≈ 10 MB) and
 * persisted to one JSON file in the gateway's data dir, so a restarted gateway denies revoked passes before
 * its uplink is back. Writes are atomic (temp file, fsync, rename) and coalesced: a burst of updates costs one
 * or two writes, and the in-memory set changes at once so the next verify already sees it.
 */
export type ApplyResult =
  | { applied: true; version: number }
  | { applied: false; version: number; reason: 'gap' | 'old' };

export class PersistedIdSet {
  private ids = new Set<string>();
  private ver = 0;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(private readonly file: string) {}

  get version(): number {
    return this.ver;
  }
  get size(): number {
    return this.ids.size;
  }
  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Loads the file if present; a missing file is an empty list at version 0; a corrupt one throws. */
  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    const data = JSON.parse(text) as { version?: unknown; ids?: unknown };
    if (!Number.isSafeInteger(data.version) || !Array.isArray(data.ids)) throw new Error(`${this.file}: not an id list`);
    this.ver = data.version as number;
    this.ids = new Set(data.ids.filter((x): x is string => typeof x === 'string'));
  }

  add(id: string): Promise<void> {
    this.ids.add(id);
    return this.persist();
  }

  /**
   * Applies a revocation message. A full list replaces the set. An incremental one applies only when its `from`
   * is our version (from === to adds to the same version: the later chunks of a full list split over several
   * messages); otherwise it is a gap and the caller waits for the next full list.
   */
  apply(msg: RevocationMessage): { result: ApplyResult; persisted: Promise<void> } {
    if (msg.full) {
      this.ids = new Set(msg.add);
      this.ver = msg.to;
    } else if (msg.from === this.ver && msg.to >= msg.from) {
      for (const id of msg.add) this.ids.add(id);
      for (const id of msg.remove) this.ids.delete(id);
      this.ver = msg.to;
    } else {
      const reason = msg.to <= this.ver ? 'old' : 'gap';
      return { result: { applied: false, version: this.ver, reason }, persisted: Promise.resolve() };
    }
    return { result: { applied: true, version: this.ver }, persisted: this.persist() };
  }

  /** Resolves when everything changed so far is on disk. */
  flush(): Promise<void> {
    return this.writing;
  }

  private persist(): Promise<void> {
    if (this.dirty) return this.writing;
    this.dirty = true;
    // A failed write rejects its callers but must not wedge the chain: the next change writes everything again.
    this.writing = this.writing.catch(() => undefined).then(() => {
      this.dirty = false;
      return this.write();
    });
    return this.writing;
  }

  private async write(): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify({ version: this.ver, ids: [...this.ids] }));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.file);
  }
}
