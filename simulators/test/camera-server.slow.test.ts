import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateScenario, type Scenario } from '../src/camera/scenario.js';
import { type CameraServer, startCameraServer } from '../src/camera/server.js';

const W = 1280;
const H = 720;
const FRAME = W * H * 3;

/** Reads `frames` decoded RGB frames from the camera with ffmpeg over RTSP/TCP. */
function readFrames(url: string, frames: number, timeoutMs = 20_000, extra: string[] = []): Promise<{ code: number | null; out: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(
      'ffmpeg',
      ['-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-analyzeduration', '0', '-probesize', '32', ...extra, '-i', url, '-frames:v', String(frames), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const chunks: Buffer[] = [];
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => chunks.push(c));
    p.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out: Buffer.concat(chunks), stderr });
    });
  });
}

/** A reader that reconnects on its own: retries until it gets its frames or gives up. */
async function readWithReconnect(url: string, frames: number, attempts: number): Promise<{ out: Buffer; tries: number }> {
  for (let tries = 1; tries <= attempts; tries++) {
    const r = await readFrames(url, frames);
    if (r.code === 0 && r.out.length >= frames * FRAME) return { out: r.out, tries };
    await new Promise((res) => setTimeout(res, 300));
  }
  throw new Error(`no frames from ${url} after ${attempts} attempts`);
}

function meanAbsDiff(a: Buffer, b: Buffer): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs((a[i] as number) - (b[i] as number));
  return d / a.length;
}

describe('RTSP camera simulator', () => {
  let cam: CameraServer;
  let scenario: Scenario;

  beforeAll(async () => {
    scenario = generateScenario({ seed: 5, durationMs: 5 * 60_000, items: 6 });
    // Every item on the ground from the start, so the stream shows litter at once.
    scenario.items = scenario.items.map((it) => ({ ...it, appearMs: 0, fadeInMs: 0, removeMs: null }));
    cam = await startCameraServer({ port: 0, fps: 2, scenario });
  });

  afterAll(async () => {
    await cam?.stop();
  });

  it('serves H.264 to two ffmpeg readers at once, frames of the right size showing the scene', async () => {
    expect(cam.url).toMatch(/^rtsp:\/\/127\.0\.0\.1:\d+\/cam1$/);
    const [a, b] = await Promise.all([readFrames(cam.url, 2), readFrames(cam.url, 2)]);
    for (const r of [a, b]) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.out.length).toBe(2 * FRAME);
    }
    // The decoded picture is the rendered scene (lossy H.264, so close, not equal) and not some other picture.
    const decoded = a.out.subarray(0, FRAME);
    const truthFrame = cam.timeline.frameAt(cam.now());
    expect(meanAbsDiff(decoded, truthFrame)).toBeLessThan(6);
    expect(meanAbsDiff(decoded, Buffer.alloc(FRAME, 128))).toBeGreaterThan(10);
    const truth = cam.groundTruthAt(cam.now());
    expect(truth.length).toBe(6);
    // Where an item is, the decoded stream differs from the bare background.
    const bg = cam.timeline.backgroundFrame();
    const big = [...truth].sort((x, y) => y.box.w * y.box.h - x.box.w * x.box.h)[0]!;
    const crop = (buf: Buffer) => {
      const parts: Buffer[] = [];
      for (let y = big.box.y; y < big.box.y + big.box.h; y++) parts.push(buf.subarray((y * W + big.box.x) * 3, (y * W + big.box.x + big.box.w) * 3));
      return Buffer.concat(parts);
    };
    expect(meanAbsDiff(crop(decoded), crop(bg))).toBeGreaterThan(meanAbsDiff(crop(decoded), crop(truthFrame)) + 3);
    expect(cam.stats().encoder.framesOut).toBeGreaterThan(0);
  });

  it('after a stop and restart on the same port, a reader that reconnects gets frames again', async () => {
    const port = cam.port;
    await cam.stop();
    const refused = await readFrames(cam.url, 1, 10_000);
    expect(refused.code).not.toBe(0);
    // A reader already retrying while the server is down gets through once it is back.
    const reconnecting = readWithReconnect(cam.url, 2, 40);
    await new Promise((res) => setTimeout(res, 1_000));
    await cam.restart();
    expect(cam.port).toBe(port);
    const r = await reconnecting;
    expect(r.tries).toBeGreaterThan(1);
    expect(r.out.length).toBeGreaterThanOrEqual(2 * FRAME);
    expect(cam.stats().running).toBe(true);
  });

  it('restarts a killed encoder, and a reader connected through it keeps getting frames', async () => {
    const before = cam.stats().encoder;
    expect(before.pid).toBeGreaterThan(0);
    const reader = readFrames(cam.url, 8, 40_000);
    await new Promise((res) => setTimeout(res, 1_500));
    process.kill(before.pid!, 'SIGKILL');
    const r = await reader;
    expect(r.out.length).toBe(8 * FRAME);
    const after = cam.stats().encoder;
    expect(after.restarts).toBe(before.restarts + 1);
    expect(after.pid).not.toBe(before.pid);
  });

  it('a stalled camera keeps the connection but sends nothing; after it resumes, frames flow again', async () => {
    cam.stall(true);
    // ffmpeg's RTSP socket timeout (µs): the reader gives up when no data arrives.
    const starved = await readFrames(cam.url, 1, 20_000, ['-timeout', '2000000']);
    expect(starved.out.length).toBe(0);
    expect(starved.code).not.toBe(0);
    expect(cam.stats().stalled).toBe(true);
    cam.stall(false);
    const fed = await readFrames(cam.url, 2, 20_000, ['-timeout', '5000000']);
    expect(fed.out.length).toBe(2 * FRAME);
  });

  it('refuses a UDP transport and an unknown path with RTSP status codes, and keeps serving', async () => {
    const net = await import('node:net');
    const ask = (req: string) =>
      new Promise<string>((resolve, reject) => {
        const s = net.connect(cam.port, '127.0.0.1');
        let got = '';
        s.on('data', (c) => {
          got += c.toString();
          if (got.includes('\r\n\r\n')) {
            s.destroy();
            resolve(got);
          }
        });
        s.on('error', reject);
        s.write(req);
      });
    const base = `rtsp://127.0.0.1:${cam.port}`;
    expect(await ask(`DESCRIBE ${base}/nope RTSP/1.0\r\nCSeq: 1\r\n\r\n`)).toMatch(/^RTSP\/1\.0 404/);
    expect(await ask(`SETUP ${base}/cam1/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n`)).toMatch(
      /^RTSP\/1\.0 461/,
    );
    expect(await ask(`FLY ${base}/cam1 RTSP/1.0\r\nCSeq: 3\r\n\r\n`)).toMatch(/^RTSP\/1\.0 405/);
    const badBefore = cam.stats().badRequests;
    expect(await ask('x'.repeat(20_000))).toMatch(/^RTSP\/1\.0 400/);
    expect(cam.stats().badRequests).toBe(badBefore + 1);
    const ok = await readFrames(cam.url, 1);
    expect(ok.out.length).toBe(FRAME);
  });
});
