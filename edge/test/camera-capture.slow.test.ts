import { createServer, type Server, type Socket } from 'node:net';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { checkFfmpeg, FfmpegCapture, type CaptureOptions } from '../src/camera/capture.js';
import { waitFor } from './wait.js';

const log = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const base: Omit<CaptureOptions, 'url'> = { fps: 4, queueSize: 2, stallMs: 3000, backoffMinMs: 100, backoffMaxMs: 400, ffmpegPath: 'ffmpeg' };

/** A TCP server that accepts and then says nothing: an RTSP camera that hangs. */
async function silentServer(): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return { server, port: addr.port, sockets };
}

const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const s of stops) await s();
});

describe('ffmpeg capture', () => {
  it('reads 1280×720 RGB frames from a test source, restarts after ffmpeg is killed', async () => {
    const states: boolean[] = [];
    const cap = new FfmpegCapture({ ...base, url: 'lavfi:testsrc2=size=1280x720:rate=10', onState: (on) => states.push(on) }, log);
    stops.push(() => cap.stop());
    await cap.start();
    const f1 = await cap.next();
    expect(f1).toMatchObject({ width: 1280, height: 720 });
    expect(f1?.rgb.length).toBe(1280 * 720 * 3);
    // testsrc2 is not a flat image: the bytes are really frame content
    expect(new Set(f1?.rgb.subarray(0, 30_000)).size).toBeGreaterThan(10);
    const pid = cap.pid();
    expect(pid).toBeTypeOf('number');
    process.kill(pid as number, 'SIGKILL');
    await waitFor(() => cap.counters.restarts >= 1 && cap.isOnline() && cap.pid() !== pid, 'restart');
    const f2 = await cap.next();
    expect(f2?.width).toBe(1280);
    expect(states).toEqual([true, false, true]);
    expect(cap.counters.online).toBe(2);
    await cap.stop();
    expect(await cap.next()).toBeUndefined();
  });

  it('drops the oldest frame when nobody reads, and counts it', async () => {
    const cap = new FfmpegCapture({ ...base, fps: 10, url: 'lavfi:testsrc2=size=320x240:rate=10' }, log);
    stops.push(() => cap.stop());
    await cap.start();
    await waitFor(() => cap.counters.frames >= 8, 'frames');
    expect(cap.counters.dropped).toBeGreaterThanOrEqual(cap.counters.frames - 3);
    const a = await cap.next();
    const b = await cap.next();
    expect((b?.seq ?? 0) - (a?.seq ?? 0)).toBe(1); // the queue keeps the newest, in order
    await cap.stop();
  });

  it('a missing ffmpeg is E_BINARY_MISSING naming the Debian package, and no crash', async () => {
    await expect(checkFfmpeg('/nonexistent/ffmpeg')).rejects.toMatchObject({ code: 'E_BINARY_MISSING', message: expect.stringContaining('`ffmpeg`') });
    const cap = new FfmpegCapture({ ...base, url: 'lavfi:testsrc2', ffmpegPath: '/nonexistent/ffmpeg' }, log);
    await expect(cap.start()).rejects.toMatchObject({ code: 'E_BINARY_MISSING' });
    await cap.stop();
  });

  it('a URL nobody serves: offline, retried with backoff, never thrown', async () => {
    const probe = await silentServer();
    const port = probe.port;
    await new Promise<void>((r) => probe.server.close(() => r())); // now nobody listens there
    const states: boolean[] = [];
    const cap = new FfmpegCapture({ ...base, url: `rtsp://user:secret@127.0.0.1:${port}/cam`, onState: (on) => states.push(on) }, log);
    stops.push(() => cap.stop());
    await cap.start();
    await waitFor(() => cap.counters.restarts >= 3, 'retries');
    expect(states).toEqual([false]);
    expect(cap.isOnline()).toBe(false);
    expect(cap.counters.frames).toBe(0);
    await cap.stop();
  });

  it('a camera that accepts but sends nothing is restarted by the stall watchdog', async () => {
    const s = await silentServer();
    stops.push(() => new Promise<void>((r) => { for (const k of s.sockets) k.destroy(); s.server.close(() => r()); }));
    const cap = new FfmpegCapture({ ...base, stallMs: 1000, url: `rtsp://127.0.0.1:${s.port}/cam` }, log);
    stops.push(() => cap.stop());
    await cap.start();
    // a stall is counted when the watchdog kills ffmpeg; the restart it causes comes after the backoff
    await waitFor(() => cap.counters.stalls >= 2 && cap.counters.restarts >= 2 && s.sockets.length >= 3, 'two stall restarts, each reconnecting');
    expect(cap.counters.frames).toBe(0);
    expect(cap.isOnline()).toBe(false);
    await cap.stop();
  });
});
