/**
 * An ffmpeg child that turns raw RGB frames (stdin) into H.264 (libx264, zerolatency, no B-frames, a
 * keyframe every `keyframeEvery` frames) wrapped in FLV on stdout. One output frame per input frame, in order.
 * A frame is dropped (counted) rather than queued when ffmpeg is behind; if ffmpeg dies it is restarted,
 * at most `maxRestartsPerMinute` times.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { HutongError } from '@hutong/protocols';
import type { Logger } from 'pino';
import { type AvcConfig, type AvcFrame, FlvAvcReader } from './flv.js';

export interface EncoderOptions {
  width: number;
  height: number;
  fps: number;
  keyframeEvery: number;
  ffmpegPath: string;
  logger: Logger;
  onConfig: (c: AvcConfig) => void;
  /** `sceneMs` is the scene time the frame was rendered for. */
  onFrame: (f: AvcFrame, sceneMs: number) => void;
  maxRestartsPerMinute?: number;
}

/** Fails with E_BINARY_MISSING (naming the Debian package) when ffmpeg cannot be started. */
export async function checkFfmpeg(ffmpegPath: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const p = spawn(ffmpegPath, ['-hide_banner', '-version'], { stdio: ['ignore', 'ignore', 'ignore'] });
    p.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new HutongError(
          'E_BINARY_MISSING',
          e.code === 'ENOENT'
            ? `ffmpeg not found at "${ffmpegPath}": install the Debian package "ffmpeg" (apt-get install ffmpeg)`
            : `ffmpeg at "${ffmpegPath}" cannot be started (${e.code ?? e.message}); the Debian package is "ffmpeg"`,
          { cause: e },
        ),
      ),
    );
    p.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new HutongError('E_BINARY_MISSING', `"${ffmpegPath} -version" exited with ${code}; install the Debian package "ffmpeg"`)),
    );
  });
}

export class H264Encoder {
  private child: ChildProcessWithoutNullStreams | undefined;
  private stopping = false;
  private pending: number[] = [];
  private restarts: number[] = [];
  private restartTimer: NodeJS.Timeout | undefined;
  readonly stats = { framesIn: 0, framesOut: 0, framesDropped: 0, restarts: 0 };

  constructor(private readonly opts: EncoderOptions) {}

  /** The running ffmpeg's pid (for health reporting and fault injection). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.stopping = false;
    this.spawnChild();
  }

  private spawnChild(): void {
    const o = this.opts;
    const args = [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-video_size',
      `${o.width}x${o.height}`,
      '-framerate',
      String(o.fps),
      '-i',
      'pipe:0',
      '-an',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-tune',
      'zerolatency',
      '-profile:v',
      'baseline',
      '-pix_fmt',
      'yuv420p',
      '-g',
      String(o.keyframeEvery),
      '-keyint_min',
      String(o.keyframeEvery),
      '-sc_threshold',
      '0',
      '-bf',
      '0',
      '-flush_packets',
      '1',
      '-f',
      'flv',
      'pipe:1',
    ];
    const child = spawn(o.ffmpegPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.pending = [];
    const reader = new FlvAvcReader(o.onConfig, (f) => {
      const sceneMs = this.pending.shift() ?? 0;
      this.stats.framesOut++;
      o.onFrame(f, sceneMs);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (e) {
        o.logger.error({ code: 'E_CAMERA', err: e }, 'encoder output unreadable; restarting encoder');
        child.kill('SIGKILL');
      }
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-2000);
    });
    child.stdin.on('error', () => {}); // EPIPE when ffmpeg exits: the exit handler reports it
    child.once('error', (e) => o.logger.error({ code: 'E_BINARY_MISSING', err: e }, 'ffmpeg could not be started'));
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.stopping) return;
      o.logger.error({ code: 'E_CHILD_EXIT', exitCode: code, signal, stderr: stderr.trim() }, 'encoder ffmpeg exited');
      this.scheduleRestart();
    });
  }

  private scheduleRestart(): void {
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < 60_000);
    if (this.restarts.length >= (this.opts.maxRestartsPerMinute ?? 5)) {
      this.opts.logger.error({ code: 'E_CHILD_EXIT' }, 'encoder keeps exiting; retrying in 60 s');
    }
    const delay = this.restarts.length >= (this.opts.maxRestartsPerMinute ?? 5) ? 60_000 : 500;
    this.restarts.push(now);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.stats.restarts++;
      this.spawnChild();
    }, delay);
  }

  /** Queues one RGB24 frame; returns false (and counts a drop) when the encoder is behind or down. */
  write(rgb: Buffer, sceneMs: number): boolean {
    const child = this.child;
    if (!child || child.stdin.destroyed || child.stdin.writableLength > rgb.length * 2) {
      this.stats.framesDropped++;
      return false;
    }
    this.stats.framesIn++;
    this.pending.push(sceneMs);
    // The frame buffer is reused by the renderer: hand ffmpeg a copy.
    child.stdin.write(Buffer.from(rgb));
    return true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.stdin.end();
      child.kill('SIGTERM');
    });
  }
}
