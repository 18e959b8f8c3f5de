/**
 * A small RTSP 1.0 server (RFC 2326) for one H.264 stream, RTP interleaved in the RTSP TCP connection
 * (§10.12). It answers OPTIONS, DESCRIBE (SDP with SPS/PPS), SETUP (TCP only), PLAY, GET_PARAMETER /
 * SET_PARAMETER (keep-alive) and TEARDOWN. Every reader gets its own RTP sequence and SSRC and starts at
 * the next keyframe; a reader that cannot keep up loses frames (counted) until it drains, then restarts
 * at a keyframe, so one slow reader never grows memory or delays the others.
 */
import { randomInt } from 'node:crypto';
import net from 'node:net';
import type { Logger } from 'pino';
import type { AvcConfig, AvcFrame } from './flv.js';
import { fragmentAccessUnit, interleaved, profileLevelId, rtpHeader } from './rtp.js';

export interface RtspServerOptions {
  host: string;
  port: number;
  /** Stream path, e.g. "cam1" for rtsp://host:port/cam1. */
  path: string;
  fps: number;
  logger: Logger;
  /** Resolves once the encoder has produced its parameter sets. */
  config: () => Promise<AvcConfig>;
  /** Bytes queued on a reader's socket beyond which its frames are dropped. */
  maxQueuedBytes?: number;
}

interface Reader {
  socket: net.Socket;
  session: string;
  channel: number;
  playing: boolean;
  /** Waiting for a keyframe: at the start and after dropping frames. */
  needKey: boolean;
  seq: number;
  ssrc: number;
  tsBase: number;
  dropped: number;
}

export interface RtspStats {
  readers: number;
  playing: number;
  framesSent: number;
  framesDropped: number;
  badRequests: number;
}

const MAX_REQUEST = 16 * 1024;

export class RtspServer {
  private server: net.Server | undefined;
  private readonly readers = new Set<Reader>();
  private readonly sockets = new Set<net.Socket>();
  private readonly stats: RtspStats = { readers: 0, playing: 0, framesSent: 0, framesDropped: 0, badRequests: 0 };
  private boundPort = 0;

  constructor(private readonly opts: RtspServerOptions) {}

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const server = net.createServer((s) => this.accept(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.opts.logger.error({ code: 'E_CAMERA', err: e }, 'rtsp server error'));
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : this.opts.port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.readers.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  getStats(): RtspStats {
    let playing = 0;
    for (const r of this.readers) if (r.playing) playing++;
    return { ...this.stats, readers: this.readers.size, playing };
  }

  /** Sends one encoded frame to every playing reader. `ms` is the frame's scene time. */
  broadcast(frame: AvcFrame, config: AvcConfig, ms: number): void {
    let payloads: ReturnType<typeof fragmentAccessUnit> | undefined;
    const limit = this.opts.maxQueuedBytes ?? 8 * 1024 * 1024;
    for (const r of this.readers) {
      if (!r.playing || r.socket.destroyed) continue;
      if (r.socket.writableLength > limit) {
        r.dropped++;
        this.stats.framesDropped++;
        r.needKey = true;
        continue;
      }
      if (r.needKey && !frame.key) continue;
      r.needKey = false;
      // In-band SPS/PPS before every keyframe, for decoders that ignore the SDP's sprop-parameter-sets.
      payloads ??= fragmentAccessUnit(frame.key ? [config.sps, config.pps, ...frame.nals] : frame.nals);
      const ts = (r.tsBase + Math.round(ms * 90)) >>> 0;
      const parts: Buffer[] = [];
      for (const p of payloads) {
        parts.push(interleaved(r.channel, rtpHeader(r.seq, ts, r.ssrc, p.marker), p.payload));
        r.seq = (r.seq + 1) & 0xffff;
      }
      r.socket.write(Buffer.concat(parts));
      this.stats.framesSent++;
    }
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    let reader: Reader | undefined;
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (reader) this.readers.delete(reader);
    });
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        if (buf.length === 0) return;
        if (buf[0] === 0x24) {
          // Interleaved RTCP from the reader (receiver reports): skip it.
          if (buf.length < 4) return;
          const len = buf.readUInt16BE(2);
          if (buf.length < 4 + len) return;
          buf = buf.subarray(4 + len);
          continue;
        }
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buf.length > MAX_REQUEST) this.refuse(socket, 'request header too large');
          return;
        }
        const head = buf.subarray(0, end).toString('latin1');
        const headers = parseHeaders(head);
        const bodyLen = Number(headers.get('content-length') ?? 0);
        if (!Number.isFinite(bodyLen) || bodyLen < 0 || bodyLen > MAX_REQUEST) {
          this.refuse(socket, 'bad Content-Length');
          return;
        }
        if (buf.length < end + 4 + bodyLen) return;
        buf = buf.subarray(end + 4 + bodyLen);
        const line = head.split('\r\n', 1)[0] ?? '';
        reader = this.handle(socket, line, headers, reader);
      }
    });
  }

  private refuse(socket: net.Socket, why: string): void {
    this.stats.badRequests++;
    this.opts.logger.warn({ code: 'E_MALFORMED', why }, 'rtsp request refused');
    socket.end('RTSP/1.0 400 Bad Request\r\n\r\n');
    socket.destroy();
  }

  private handle(socket: net.Socket, line: string, headers: Map<string, string>, reader: Reader | undefined): Reader | undefined {
    const [method, url] = line.split(' ');
    const cseq = headers.get('cseq') ?? '0';
    const reply = (status: string, extra: Record<string, string> = {}, body = ''): void => {
      let out = `RTSP/1.0 ${status}\r\nCSeq: ${cseq}\r\nServer: hutong-camera-sim\r\n`;
      for (const [k, v] of Object.entries(extra)) out += `${k}: ${v}\r\n`;
      if (body) out += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
      socket.write(`${out}\r\n${body}`);
    };
    if (!method || !url) {
      this.stats.badRequests++;
      reply('400 Bad Request');
      return reader;
    }
    if (method !== 'OPTIONS' && !this.pathMatches(url)) {
      reply('404 Not Found');
      return reader;
    }
    switch (method) {
      case 'OPTIONS':
        reply('200 OK', { Public: 'OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER' });
        return reader;
      case 'DESCRIBE':
        this.opts.config().then(
          (c) => {
            if (socket.destroyed) return;
            const base = url.endsWith('/') ? url : `${url}/`;
            reply('200 OK', { 'Content-Type': 'application/sdp', 'Content-Base': base }, this.sdp(c));
          },
          () => reply('503 Service Unavailable'),
        );
        return reader;
      case 'SETUP': {
        const transport = headers.get('transport') ?? '';
        const m = /interleaved=(\d+)(?:-(\d+))?/.exec(transport);
        if (!transport.includes('RTP/AVP/TCP') || !m) {
          // Only RTP over the RTSP connection: no UDP ports to allocate, and it passes any firewall.
          reply('461 Unsupported Transport');
          return reader;
        }
        const channel = Number(m[1]);
        const r: Reader = reader ?? {
          socket,
          session: randomInt(1, 2 ** 47).toString(16),
          channel,
          playing: false,
          needKey: true,
          seq: randomInt(0, 0xffff),
          ssrc: randomInt(1, 2 ** 32 - 1),
          tsBase: randomInt(0, 2 ** 31),
          dropped: 0,
        };
        r.channel = channel;
        this.readers.add(r);
        reply('200 OK', {
          Transport: `RTP/AVP/TCP;unicast;interleaved=${channel}-${channel + 1};ssrc=${r.ssrc.toString(16).padStart(8, '0')}`,
          Session: `${r.session};timeout=60`,
        });
        return r;
      }
      case 'PLAY':
        if (!reader) {
          reply('455 Method Not Valid in This State');
          return reader;
        }
        reader.playing = true;
        reader.needKey = true;
        reply('200 OK', {
          Session: reader.session,
          Range: 'npt=0.000-',
          'RTP-Info': `url=${stripSlash(url)}/trackID=0;seq=${reader.seq};rtptime=${reader.tsBase}`,
        });
        return reader;
      case 'PAUSE':
        if (reader) reader.playing = false;
        reply('200 OK', reader ? { Session: reader.session } : {});
        return reader;
      case 'GET_PARAMETER':
      case 'SET_PARAMETER':
        reply('200 OK', reader ? { Session: reader.session } : {});
        return reader;
      case 'TEARDOWN':
        reply('200 OK', reader ? { Session: reader.session } : {});
        if (reader) this.readers.delete(reader);
        socket.end();
        return undefined;
      default:
        reply('405 Method Not Allowed', { Allow: 'OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER' });
        return reader;
    }
  }

  private pathMatches(url: string): boolean {
    let path = url;
    const m = /^rtsps?:\/\/[^/]*(\/.*)?$/i.exec(url);
    if (m) path = m[1] ?? '/';
    const parts = path.split('/').filter(Boolean);
    return parts[0] === this.opts.path && (parts.length === 1 || (parts.length === 2 && parts[1] === 'trackID=0'));
  }

  private sdp(c: AvcConfig): string {
    const sprop = `${c.sps.toString('base64')},${c.pps.toString('base64')}`;
    return [
      'v=0',
      `o=- ${Date.now()} 1 IN IP4 ${this.opts.host}`,
      's=Hutong camera simulator',
      'c=IN IP4 0.0.0.0',
      't=0 0',
      'a=control:*',
      'a=range:npt=0-',
      'm=video 0 RTP/AVP 96',
      'a=rtpmap:96 H264/90000',
      `a=fmtp:96 packetization-mode=1;profile-level-id=${profileLevelId(c.sps)};sprop-parameter-sets=${sprop}`,
      `a=framerate:${this.opts.fps}`,
      'a=control:trackID=0',
      '',
    ].join('\r\n');
  }
}

function stripSlash(u: string): string {
  return u.replace(/\/trackID=0$/, '').replace(/\/$/, '');
}

function parseHeaders(head: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const l of head.split('\r\n').slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) map.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
  }
  return map;
}
