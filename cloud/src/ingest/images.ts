import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Content-addressed image store: `<dir>/ab/abcdef….jpg` named by the sha256 of the bytes. A crop that arrives
 * twice (a resend after a lost ack) lands on the same file. Written to a temporary name, fsynced, renamed and
 * the directory fsynced, so a file under its final name is always complete.
 */
export class ImageStore {
  constructor(private readonly dir: string) {}

  pathOf(sha256: string): string {
    return join(this.dir, sha256.slice(0, 2), `${sha256}.jpg`);
  }

  static sha256(body: Uint8Array): string {
    return createHash('sha256').update(body).digest('hex');
  }

  /** Stores `body` under its hash; returns false if it was already there. */
  async put(sha256: string, body: Uint8Array): Promise<boolean> {
    const final = this.pathOf(sha256);
    try {
      await stat(final);
      return false;
    } catch {
      // not stored yet
    }
    const sub = join(this.dir, sha256.slice(0, 2));
    await mkdir(sub, { recursive: true });
    const tmp = `${final}.${randomBytes(6).toString('hex')}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(body);
      await fh.sync();
    } catch (e) {
      await fh.close();
      await unlink(tmp).catch(() => {});
      throw e;
    }
    await fh.close();
    await rename(tmp, final);
    const dh = await open(sub, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
    return true;
  }
}
