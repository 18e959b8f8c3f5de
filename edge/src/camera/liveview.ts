import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import websocket from '@fastify/websocket';
import { isValidId } from '@hutong/protocols';
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { redact } from './capture.js';

/**
 * Live view for installers: `GET /cameras/:id/live` (websocket) streams MPEG-TS/MPEG-1 from one ffmpeg per camera,
 * started when the first viewer connects and stopped when the last one leaves; `GET /cameras/:id/view` is a page
 * that plays it with JSMpeg. Uses node-rtsp-stream's Mpeg1Muxer only (its VideoStream opens an unauthenticated
 * websocket on all interfaces and crashes on ffmpeg errors). Authentication is the agent's preHandler.
 */
export interface LiveViewOptions {
  /** the stream URL of a camera id, undefined for an unknown camera */
  cameraUrl: (id: string) => string | undefined;
  ffmpegPath?: string;
  /** the installer login check; runs before the page, the player script and the websocket upgrade */
  preHandler?: preHandlerHookHandler;
  log: Logger;
  /** output width of the live stream (height follows the aspect) */
  width?: number;
  /** told the viewer count of a camera whenever it changes (for /metrics) */
  onViewers?: (cameraId: string, viewers: number) => void;
}

interface MuxerLike {
  stream: ChildProcess;
  on(ev: 'mpeg1data', fn: (d: Buffer) => void): void;
}

type MuxerCtor = new (o: { url: string; ffmpegPath: string; ffmpegOptions: Record<string, string> }) => MuxerLike;

interface Live {
  muxer: MuxerLike;
  viewers: Set<WebSocket>;
}

const require = createRequire(import.meta.url);

export async function liveViewPlugin(app: FastifyInstance, o: LiveViewOptions): Promise<void> {
  const Mpeg1Muxer = require('node-rtsp-stream/mpeg1muxer.js') as MuxerCtor;
  // The package exports only its module builds; the browser (UMD) build sits beside them.
  const playerPath = join(dirname(require.resolve('@cycjimmy/jsmpeg-player')), 'jsmpeg-player.umd.min.js');
  const lives = new Map<string, Live>();
  const log = o.log.child({ part: 'liveview' });
  if (!app.hasDecorator('websocketServer')) await app.register(websocket);
  const pre = o.preHandler ? { preHandler: o.preHandler } : {};

  const stopLive = (id: string, l: Live) => {
    if (lives.get(id) === l) lives.delete(id);
    if (l.muxer.stream.exitCode === null) l.muxer.stream.kill('SIGTERM');
  };

  app.addHook('onClose', async () => {
    for (const [id, l] of lives) {
      for (const s of l.viewers) s.close(1001, 'server closing');
      stopLive(id, l);
    }
  });

  app.get('/cameras/jsmpeg.min.js', pre, async (_req, reply) => {
    reply.type('application/javascript').header('cache-control', 'max-age=3600');
    return readFile(playerPath);
  });

  app.get<{ Params: { id: string } }>('/cameras/:id/view', pre, async (req, reply) => {
    const id = req.params.id;
    if (!isValidId(id) || !o.cameraUrl(id)) return reply.code(404).send({ error: 'unknown camera' });
    reply.type('text/html; charset=utf-8');
    return page(id);
  });

  app.get<{ Params: { id: string } }>('/cameras/:id/live', { websocket: true, ...pre }, (socket, req) => {
    const id = req.params.id;
    const url = isValidId(id) ? o.cameraUrl(id) : undefined;
    if (!url) {
      socket.close(4404, 'unknown camera');
      return;
    }
    let l = lives.get(id);
    if (!l) {
      const w = o.width ?? 640;
      const muxer = new Mpeg1Muxer({
        url,
        ffmpegPath: o.ffmpegPath ?? 'ffmpeg',
        // MPEG-1 allows only the standard rates (a 10 fps camera is refused): 25 fps out, frames repeated.
        ffmpegOptions: { '-vf': `scale=${w}:-2`, '-r': '25', '-b:v': '1000k', '-bf': '0', '-an': '' },
      });
      const live: Live = { muxer, viewers: new Set() };
      // At once: an ffmpeg that cannot start emits 'error' on the child, which would otherwise crash the process.
      muxer.stream.on('error', (e) => {
        log.error({ code: 'E_BINARY_MISSING', camera: id, err: e }, 'live view ffmpeg could not start (Debian package `ffmpeg`)');
        for (const s of live.viewers) s.close(1011, 'live stream failed');
        stopLive(id, live);
      });
      muxer.stream.on('exit', (code) => {
        if (lives.get(id) !== live) return;
        log.warn({ code: 'E_CAMERA', camera: id, exit: code, url: redact(url) }, 'live view stream ended');
        for (const s of live.viewers) s.close(1011, 'live stream ended');
        lives.delete(id);
      });
      muxer.stream.stderr?.on('data', (d: Buffer) => log.debug({ camera: id, ffmpeg: d.toString().trim() }, 'live view ffmpeg'));
      muxer.on('mpeg1data', (data) => {
        for (const s of live.viewers) if (s.readyState === s.OPEN && s.bufferedAmount < 4 * 1024 * 1024) s.send(data);
      });
      lives.set(id, live);
      l = live;
      log.info({ camera: id }, 'live view started');
    }
    const live = l;
    live.viewers.add(socket);
    o.onViewers?.(id, live.viewers.size);
    socket.on('close', () => {
      live.viewers.delete(socket);
      o.onViewers?.(id, live.viewers.size);
      if (live.viewers.size === 0) {
        stopLive(id, live);
        log.info({ camera: id }, 'live view stopped: no viewers');
      }
    });
    socket.on('error', () => socket.terminate());
  });
}

function page(id: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Camera ${id}</title>
<style>body{margin:0;background:#111;color:#ddd;font:14px sans-serif}canvas{width:100%;max-width:1280px;display:block;margin:auto}</style>
</head><body><p>Camera ${id} — live</p><canvas id="v"></canvas>
<script src="/cameras/jsmpeg.min.js"></script>
<script>
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  new JSMpeg.Player(proto + '//' + location.host + '/cameras/${id}/live', { canvas: document.getElementById('v'), audio: false });
</script></body></html>`;
}
