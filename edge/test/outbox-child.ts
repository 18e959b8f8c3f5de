/**
 * Child process for the kill -9 test (outbox-kill.test.ts): appends to a FileOutbox from several concurrent
 * appenders as fast as it can and prints `<n>` on stdout the moment the append of item n resolved (i.e. the
 * moment a device would have been answered). With DRAIN=1 it also leases and releases as an uplink would,
 * printing `q<n>` before it asks to release item n and `r<n>` once that release resolved. The parent SIGKILLs it mid-burst.
 * Usage: tsx outbox-child.ts DIR START APPENDERS [DRAIN]
 */
import { pino } from 'pino';
import { FileOutbox } from '../src/outbox/file.js';

const [dir, startArg, appendersArg, drainArg] = process.argv.slice(2);
const start = Number(startArg ?? 0);
const appenders = Number(appendersArg ?? 8);
const ob = new FileOutbox(
  {
    dir: dir!,
    maxBytes: 1 << 28,
    maxAgeMs: 7 * 24 * 3600_000,
    liveShare: 0.25,
    segmentBytes: 256 * 1024,
    groupCommitMs: 0,
    fsync: 'data',
    ackFlushMs: 1000,
  },
  pino({ level: 'silent' }),
);
await ob.open();
process.stdout.write('ready\n');
let n = start;
async function appender(): Promise<void> {
  for (;;) {
    const k = n++;
    const cls = (k % 3) as 0 | 1 | 2;
    await ob.append([{ cls, type: 'rec', data: Buffer.from(JSON.stringify({ k, pad: 'x'.repeat(k % 50) })) }]);
    process.stdout.write(`${k}\n`);
  }
}
async function drainer(): Promise<void> {
  for (;;) {
    const got = ob.lease(50, 1 << 20);
    if (got.length === 0) {
      await ob.whenReadable();
      continue;
    }
    const ks = got.map((g) => (JSON.parse(Buffer.from(g.data).toString()) as { k: number }).k);
    // `q` before the release: a kill after the release is durable but before `r` is printed must not look like a loss.
    process.stdout.write(ks.map((k) => `q${k}\n`).join(''));
    await ob.release(got.map((g) => g.id));
    process.stdout.write(ks.map((k) => `r${k}\n`).join(''));
  }
}
const loops = Array.from({ length: appenders }, () => appender());
if (drainArg === '1') loops.push(drainer());
await Promise.all(loops);
