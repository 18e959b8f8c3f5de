/**
 * The synthetic RTSP camera: renders the scripted scene at `fps`, encodes it with ffmpeg/libx264 and serves
 * it at rtsp://127.0.0.1:PORT/PATH to any number of readers. `stop()`/`restart()` take the server down and up
 * on the same port (readers must reconnect, as they would to a real camera after a reboot); the scene clock
 * keeps running through a restart, so ground truth stays a function of wall time.
 */
import pino, { type Logger } from 'pino';
import type { AvcConfig, AvcFrame } from './flv.js';
import { checkFfmpeg, H264Encoder } from './encoder.js';
import { RtspServer, type RtspStats } from './rtsp.js';
import { generateScenario, type Scenario } from './scenario.js';
import { type GroundTruthItem, SceneTimeline } from './scene.js';

export interface CameraServerOptions {
  /** 0 or absent: a free port. */
  port?: number;
  host?: string;
  path?: string;
  fps?: number;
  width?: number;
  height?: number;
  /** A script to play; otherwise one is generated from `seed`. */
  scenario?: Scenario;
  seed?: number;
  /** Keyframe interval in seconds (a new reader waits at most this long for its first frame). */
  keyframeSeconds?: number;
  ffmpegPath?: string;
  logger?: Logger;
}

export interface CameraServer {
  readonly url: string;
  readonly port: number;
  /** Wall-clock ms (epoch) at scene time 0. */
  readonly clockStart: number;
  readonly scenario: Scenario;
  readonly timeline: SceneTimeline;
  /** Ground truth at scene time `tMs` (ms since clockStart). */
  groundTruthAt(tMs: number): GroundTruthItem[];
  /** Scene time now. */
  now(): number;
  stats(): RtspStats & { encoder: H264Encoder['stats'] & { pid?: number }; framesRendered: number; running: boolean };
  stop(): Promise<void>;
  /** Stops (if running) and serves again on the same port. */
  restart(): Promise<void>;
}

export async function startCameraServer(opts: CameraServerOptions = {}): Promise<CameraServer> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const ffmpegPath = opts.ffmpegPath ?? 'ffmpeg';
  await checkFfmpeg(ffmpegPath);
  const fps = opts.fps ?? 2;
  if (!(fps > 0 && fps <= 30)) throw new RangeError(`fps must be in (0, 30], got ${fps}`);
  const scenario =
    opts.scenario ?? generateScenario({ seed: opts.seed ?? 1, width: opts.width ?? 1280, height: opts.height ?? 720 });
  const timeline = await SceneTimeline.load(scenario);
  const host = opts.host ?? '127.0.0.1';
  const path = opts.path ?? 'cam1';
  const keyframeEvery = Math.max(1, Math.round(fps * (opts.keyframeSeconds ?? 1)));
  const clockStart = Date.now();
  const sceneNow = () => Date.now() - clockStart;

  let port = opts.port ?? 0;
  let running = false;
  let framesRendered = 0;
  let encoder: H264Encoder | undefined;
  let rtsp: RtspServer | undefined;
  let timer: NodeJS.Timeout | undefined;
  let config: AvcConfig | undefined;
  let configWaiters: ((c: AvcConfig) => void)[] = [];

  const up = async (): Promise<void> => {
    config = undefined;
    const server = new RtspServer({
      host,
      port,
      path,
      fps,
      logger,
      config: () =>
        config
          ? Promise.resolve(config)
          : new Promise<AvcConfig>((resolve, reject) => {
              const t = setTimeout(() => reject(new Error('encoder produced no parameter sets')), 10_000);
              configWaiters.push((c) => {
                clearTimeout(t);
                resolve(c);
              });
            }),
    });
    await server.start();
    port = server.port;
    rtsp = server;
    const enc = new H264Encoder({
      width: scenario.width,
      height: scenario.height,
      fps,
      keyframeEvery,
      ffmpegPath,
      logger,
      onConfig: (c) => {
        config = c;
        const ws = configWaiters;
        configWaiters = [];
        for (const w of ws) w(c);
      },
      onFrame: (f: AvcFrame, sceneMs: number) => {
        if (config) server.broadcast(f, config, sceneMs);
      },
    });
    encoder = enc;
    enc.start();
    running = true;
    // Frames on a fixed grid of scene time (k / fps), so drift in timer callbacks never accumulates.
    const period = 1000 / fps;
    let next = Math.ceil(sceneNow() / period);
    const tick = () => {
      if (!running) return;
      const t = Math.round(next * period);
      enc.write(timeline.frameAt(t, true), t);
      framesRendered++;
      next = Math.max(next + 1, Math.floor(sceneNow() / period));
      timer = setTimeout(tick, Math.max(0, Math.round(next * period) - sceneNow()));
    };
    timer = setTimeout(tick, Math.max(0, Math.round(next * period) - sceneNow()));
  };

  const down = async (): Promise<void> => {
    running = false;
    if (timer) clearTimeout(timer);
    timer = undefined;
    await Promise.all([rtsp?.stop(), encoder?.stop()]);
    rtsp = undefined;
  };

  await up();
  logger.info({ url: `rtsp://${host}:${port}/${path}`, fps, seed: scenario.seed }, 'camera simulator serving');

  return {
    get url() {
      return `rtsp://${host}:${port}/${path}`;
    },
    get port() {
      return port;
    },
    clockStart,
    scenario,
    timeline,
    groundTruthAt: (tMs) => timeline.groundTruthAt(tMs),
    now: sceneNow,
    stats: () => ({
      ...(rtsp?.getStats() ?? { readers: 0, playing: 0, framesSent: 0, framesDropped: 0, badRequests: 0 }),
      encoder: { ...(encoder?.stats ?? { framesIn: 0, framesOut: 0, framesDropped: 0, restarts: 0 }), ...(encoder?.pid ? { pid: encoder.pid } : {}) },
      framesRendered,
      running,
    }),
    stop: down,
    restart: async () => {
      await down();
      await up();
      logger.info({ port }, 'camera simulator restarted');
    },
  };
}
