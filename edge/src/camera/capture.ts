import { type ChildProcess, spawn } from 'node:child_process';
import { HutongError } from '@hutong/protocols';
import type { Logger } from 'pino';

/**
 * Reads a camera with ffmpeg as a supervised child process: raw RGB24 frames at the source size on stdout, read
 * by exact byte count into a small queue that drops the oldest frame (and counts it) when the pipeline falls
 * behind. ffmpeg is restarted with capped exponential backoff when it exits or when no frame came for `stallMs`;
 * the camera's online/offline changes are reported to `onState`. A dead camera is logged (E_CAMERA) and retried,
 * never thrown.
 */
export interface CaptureOptions {
  /** rtsp://… (read over TCP with low-delay flags), lavfi:<graph> (ffmpeg's own test sources), or a file/URL */
  url: string;
  /** frames per second to keep (picked with `select`: `-vf fps` would add ≈ 1 s of delay) */
  fps: number;
  queueSize: number;
  /** restart ffmpeg when no frame arrived for this long */
  stallMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  ffmpegPath: string;
  onState?: (online: boolean, reason: string) => void;
}

export interface Frame {
  rgb: Uint8Array;
  width: number;
  height: number;
  /** wall-clock ms when the frame was read */
  atMs: number;
  seq: number;
}

export interface CaptureCounters {
  frames: number;
  dropped: number;
  restarts: number;
  stalls: number;
  bytes: number;
  online: number;
}

/** Checks that ffmpeg runs at all: E_BINARY_MISSING names the Debian package. */
export async function checkFfmpeg(path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let p: ChildProcess;
    try {
      p = spawn(path, ['-hide_banner', '-version'], { stdio: 'ignore' });
    } catch (e) {
      reject(missing(path, e));
      return;
    }
    p.once('error', (e) => reject(missing(path, e)));
    p.once('exit', (code) => (code === 0 ? resolve() : reject(missing(path, new Error(`exit code ${code}`)))));
  });
}

function missing(path: string, cause: unknown): HutongError {
  return new HutongError('E_BINARY_MISSING', `${path} cannot be run (${(cause as Error).message}): install the Debian package \`ffmpeg\``, { cause });
}

/** ffmpeg arguments: input options go BEFORE -i (after it they would apply to the output). */
export function ffmpegArgs(url: string, fps: number): string[] {
  const input: string[] = [];
  if (url.startsWith('rtsp://') || url.startsWith('rtsps://')) {
    input.push('-rtsp_transport', 'tcp', '-analyzeduration', '0', '-probesize', '32', '-flags', 'low_delay', '-fflags', 'nobuffer', '-i', url);
  } else if (url.startsWith('lavfi:')) {
    input.push('-re', '-f', 'lavfi', '-i', url.slice('lavfi:'.length));
  } else {
    input.push('-re', '-i', url);
  }
  // Keep a frame when at least 1/fps s passed since the last kept one (5 % slack for timestamp jitter).
  const select = `select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,${(0.95 / fps).toFixed(4)})'`;
  // `-threads 1` on the output: the rawvideo encoder is frame-threaded, and with more than one thread it holds each
  // kept frame until the next one is encoded: one whole kept period (0.5 s at 2 fps) of delay (docs/camera.md).
  return ['-hide_banner', '-nostats', '-nostdin', '-loglevel', 'info', ...input, '-an', '-vf', select, '-fps_mode', 'passthrough', '-threads', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'];
}

export class FfmpegCapture {
  private proc: ChildProcess | undefined;
  private running = false;
  private attempt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastFrameAt = 0;
  private spawnedAt = 0;
  private online: boolean | undefined;
  private readonly queue: Frame[] = [];
  private waiters: ((f: Frame | undefined) => void)[] = [];
  private seq = 0;
  private stderrTail: string[] = [];
  readonly counters: CaptureCounters = { frames: 0, dropped: 0, restarts: 0, stalls: 0, bytes: 0, online: 0 };

  constructor(
    private readonly o: CaptureOptions,
    private readonly log: Logger,
  ) {}

  /** Rejects only with E_BINARY_MISSING; a camera that does not answer is retried in the background. */
  async start(): Promise<void> {
    await checkFfmpeg(this.o.ffmpegPath);
    this.running = true;
    this.spawn();
    this.watchdog = setInterval(() => this.checkStall(), Math.max(100, Math.min(1000, this.o.stallMs / 4)));
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.restartTimer);
    clearInterval(this.watchdog);
    const p = this.proc;
    this.proc = undefined;
    if (p && p.exitCode === null && p.signalCode === null) {
      const gone = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 2000);
      await gone;
      clearTimeout(t);
    }
    this.queue.length = 0;
    for (const w of this.waiters) w(undefined);
    this.waiters = [];
  }

  /** The next frame, oldest first; undefined once stopped. */
  next(): Promise<Frame | undefined> {
    const f = this.queue.shift();
    if (f) return Promise.resolve(f);
    if (!this.running) return Promise.resolve(undefined);
    return new Promise((r) => this.waiters.push(r));
  }

  isOnline(): boolean {
    return this.online === true;
  }

  pid(): number | undefined {
    return this.proc?.pid;
  }

  private spawn(): void {
    const args = ffmpegArgs(this.o.url, this.o.fps);
    let p: ChildProcess;
    try {
      p = spawn(this.o.ffmpegPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      this.failed(`spawn failed: ${(e as Error).message}`);
      return;
    }
    this.proc = p;
    this.spawnedAt = Date.now();
    this.stderrTail = [];
    let size: { w: number; h: number } | undefined;
    let pending: Buffer[] = [];
    let cur: Uint8Array | undefined;
    let filled = 0;
    let errBuf = '';
    let inOutput = false;
    const pump = (chunk: Buffer) => {
      if (!size) return;
      const frameBytes = size.w * size.h * 3;
      let off = 0;
      while (off < chunk.length) {
        if (!cur) {
          // Shared memory: the detector worker reads the frame without a 2.7 MB copy per message.
          cur = new Uint8Array(new SharedArrayBuffer(frameBytes));
          filled = 0;
        }
        const n = Math.min(frameBytes - filled, chunk.length - off);
        cur.set(chunk.subarray(off, off + n), filled);
        filled += n;
        off += n;
        if (filled === frameBytes) {
          this.push({ rgb: cur, width: size.w, height: size.h, atMs: Date.now(), seq: this.seq++ });
          cur = undefined;
        }
      }
    };
    p.stdout?.on('data', (chunk: Buffer) => {
      this.counters.bytes += chunk.length;
      if (size) pump(chunk);
      else pending.push(chunk); // held until stderr told the output size
    });
    p.stderr?.on('data', (chunk: Buffer) => {
      errBuf += chunk.toString('utf8');
      let nl = errBuf.indexOf('\n');
      while (nl >= 0) {
        const line = errBuf.slice(0, nl).trimEnd();
        errBuf = errBuf.slice(nl + 1);
        nl = errBuf.indexOf('\n');
        this.stderrTail.push(line);
        if (this.stderrTail.length > 8) this.stderrTail.shift();
        if (line.startsWith('Output #0')) inOutput = true;
        // "Stream #0:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24(pc, progressive), 1280x720, …"
        const m = inOutput && !size ? /Stream #0:0.*Video: rawvideo.*?, (\d{2,5})x(\d{2,5})/.exec(line) : null;
        if (m) {
          size = { w: Number(m[1]), h: Number(m[2]) };
          const held = pending;
          pending = [];
          for (const c of held) pump(c);
        }
      }
      if (errBuf.length > 8192) errBuf = errBuf.slice(-4096);
    });
    p.once('error', (e) => {
      if (this.proc !== p) return;
      this.proc = undefined;
      this.failed(`ffmpeg could not run: ${e.message}`);
    });
    p.once('exit', (code, signal) => {
      if (this.proc !== p) return;
      this.proc = undefined;
      this.failed(`ffmpeg exited (${signal ?? code}): ${this.stderrTail.slice(-3).join(' | ')}`);
    });
  }

  private push(f: Frame): void {
    this.counters.frames++;
    this.lastFrameAt = f.atMs;
    this.attempt = 0;
    if (this.online !== true) {
      this.online = true;
      this.counters.online++;
      this.log.info({ url: redact(this.o.url), width: f.width, height: f.height }, 'camera online');
      this.o.onState?.(true, 'frames');
    }
    const w = this.waiters.shift();
    if (w) {
      w(f);
      return;
    }
    this.queue.push(f);
    while (this.queue.length > this.o.queueSize) {
      this.queue.shift();
      this.counters.dropped++;
    }
  }

  private checkStall(): void {
    const p = this.proc;
    if (!p || !this.running) return;
    const since = Math.max(this.lastFrameAt, this.spawnedAt);
    if (Date.now() - since > this.o.stallMs) {
      this.counters.stalls++;
      this.log.warn({ code: 'E_CAMERA', url: redact(this.o.url), stallMs: this.o.stallMs }, 'camera stalled: restarting ffmpeg');
      p.kill('SIGKILL'); // its exit handler schedules the restart
      this.lastFrameAt = Date.now();
    }
  }

  private failed(reason: string): void {
    if (this.online !== false) {
      this.online = false;
      this.o.onState?.(false, reason);
    }
    if (!this.running) return;
    const delay = Math.min(this.o.backoffMaxMs, this.o.backoffMinMs * 2 ** this.attempt);
    this.attempt++;
    this.counters.restarts++;
    this.log.warn({ code: 'E_CAMERA', url: redact(this.o.url), reason, retryInMs: delay }, 'camera stream failed');
    this.restartTimer = setTimeout(() => {
      if (this.running) this.spawn();
    }, delay);
  }
}

/** Camera URLs often carry a password: never log it. */
export function redact(url: string): string {
  return url.replace(/\/\/([^/@:]+):([^/@]*)@/, '//$1:***@');
}
