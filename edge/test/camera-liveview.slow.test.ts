import { execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { liveViewPlugin } from '../src/camera/liveview.js';
import { waitFor } from './wait.js';

const log = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'hutong-live-'));
let source: Server;
let sourceUrl = '';
const open = new Set<ServerResponse>();
const viewers = new Map<string, number>();
let app: FastifyInstance;
let base = '';

/** A camera that never ends: an HTTP server that streams a short MPEG-TS clip in a loop, chunk by chunk. */
beforeAll(async () => {
  const clip = join(dir, 'clip.ts');
  execFileSync('ffmpeg', ['-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10', '-t', '4', '-c:v', 'mpeg2video', '-f', 'mpegts', clip]);
  const bytes = readFileSync(clip);
  source = createServer((_req, res) => {
    open.add(res);
    res.writeHead(200, { 'content-type': 'video/mp2t' });
    let off = 0;
    const t = setInterval(() => {
      const n = Math.min(32 * 1024, bytes.length - off);
      res.write(bytes.subarray(off, off + n));
      off = (off + n) % bytes.length;
    }, 50);
    res.on('close', () => {
      clearInterval(t);
      open.delete(res);
    });
  });
  await new Promise<void>((r) => source.listen(0, '127.0.0.1', r));
  const a = source.address();
  if (!a || typeof a === 'string') throw new Error('no port');
  sourceUrl = `http://127.0.0.1:${a.port}/cam.ts`;
  app = Fastify({ logger: false });
  await app.register(liveViewPlugin, {
    log,
    onViewers: (id, n) => viewers.set(id, n),
    cameraUrl: (id) => (id === 'cam1' ? sourceUrl : id === 'broken' ? 'http://127.0.0.1:1/nothing' : undefined),
    preHandler: async (req, reply) => {
      if (req.headers.authorization !== 'Bearer installer') await reply.code(401).send({ error: 'login required' });
    },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  base = `127.0.0.1:${addr.port}`;
});

afterAll(async () => {
  await app?.close();
  for (const r of open) r.destroy();
  await new Promise<void>((r) => source?.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

const auth = { headers: { authorization: 'Bearer installer' } };

function connect(path: string, opts = auth): WebSocket {
  return new WebSocket(`ws://${base}${path}`, opts);
}

describe('camera live view', () => {
  it('refuses viewers without the installer login', async () => {
    const ws = connect('/cameras/cam1/live', { headers: { authorization: 'nope' } });
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(status).toBe(401);
    const page = await fetch(`http://${base}/cameras/cam1/view`);
    expect(page.status).toBe(401);
  });

  it('serves the page and the JSMpeg player; unknown cameras are 404', async () => {
    const page = await fetch(`http://${base}/cameras/cam1/view`, auth);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('JSMpeg.Player');
    expect(html).toContain('/cameras/cam1/live');
    const js = await fetch(`http://${base}/cameras/jsmpeg.min.js`, auth);
    expect(js.status).toBe(200);
    expect(await js.text()).toContain('JSMpeg');
    expect((await fetch(`http://${base}/cameras/zzz/view`, auth)).status).toBe(404);
  });

  it('streams MPEG-TS to viewers; ffmpeg starts with the first and stops after the last leaves', async () => {
    expect(open.size).toBe(0);
    const a = connect('/cameras/cam1/live');
    const got: Buffer[] = [];
    a.on('message', (d: Buffer) => got.push(d));
    await waitFor(() => got.length > 3, 'video data');
    expect(open.size).toBe(1); // one ffmpeg reading the camera
    const first = Buffer.concat(got);
    expect(first[0]).toBe(0x47); // MPEG-TS sync byte
    const b = connect('/cameras/cam1/live');
    const gotB: Buffer[] = [];
    b.on('message', (d: Buffer) => gotB.push(d));
    await waitFor(() => gotB.length > 2, 'data for the second viewer');
    expect(open.size).toBe(1); // still one ffmpeg for both
    expect(viewers.get('cam1')).toBe(2);
    a.close();
    await waitFor(() => viewers.get('cam1') === 1, 'one viewer left');
    expect(open.size).toBe(1);
    b.close();
    await waitFor(() => open.size === 0, 'ffmpeg to stop reading the camera');
  });

  it('a camera that fails closes the viewer, the server keeps serving', async () => {
    const ws = connect('/cameras/broken/live');
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    expect(code).toBe(1011);
    const again = await fetch(`http://${base}/cameras/cam1/view`, auth);
    expect(again.status).toBe(200);
  });
});
