/**
 * The synthetic RTSP camera: renders the scripted scene at `fps`, encodes it with ffmpeg/libx264 and serves
 * it at rtsp://127.0.0.1:PORT/PATH to any number of readers. `stop()`/`restart()` take the server down and up
 * on the same port (readers must reconnect, as they would to a real camera after a reboot); the scene clock
 * keeps running through a restart, so ground truth stays a function of wall time.
 */
import pino, { type Logger } from 'pino';
import type { AvcConfig, AvcFrame } from './flv.js';
import { checkCameraSimConfig, checkScenario } from './config.js';
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
  /** Per-frame pixel noise amplitude, like a real sensor's (0 = frames exactly as rendered). */
  sensorNoise?: number;
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
  stats(): RtspStats & { encoder: H264Encoder['stats'] & { pid?: number }; framesRendered: number; running: boolean; stalled: boolean };
  stop(): Promise<void>;
  /** Stops (if running) and serves again on the same port. */
  restart(): Promise<void>;
  /**
   * Fault injection: a frozen camera. While stalled, connections stay open and RTSP requests are answered,
   * but no frames are sent; `stall(false)` resumes (readers continue from the next keyframe).
   */
  stall(on?: boolean): void;
}

export async function startCameraServer(opts: CameraServerOptions = {}): Promise<CameraServer> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const { scenario: given, logger: _logger, ...rest } = opts;
  // Options first, then the script, then the binary: every mistake is reported before anything starts.
  const cfg = checkCameraSimConfig(Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)));
  const scenario = given
    ? checkScenario(given)
    : generateScenario({ seed: cfg.seed, width: cfg.width, height: cfg.height });
  const ffmpegPath = cfg.ffmpegPath;
  await checkFfmpeg(ffmpegPath);
  const fps = cfg.fps;
  const timeline = await SceneTimeline.load(scenario);
  const host = cfg.host;
  const path = cfg.path;
  const keyframeEvery = Math.max(1, Math.round(fps * cfg.keyframeSeconds));
  const noise = cfg.sensorNoise > 0 ? sensorNoise(cfg.sensorNoise, scenario.seed) : undefined;
  const clockStart = Date.now();
  const sceneNow = () => Date.now() - clockStart;

  let port = cfg.port;
  let running = false;
  let stalled = false;
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
      if (!stalled) {
        const frame = timeline.frameAt(t, true);
        noise?.(frame);
        enc.write(frame, t);
        framesRendered++;
      }
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
      stalled,
    }),
    stall: (on = true) => {
      stalled = on;
      logger.info({ stalled }, 'camera simulator stall');
    },
    stop: down,
    restart: async () => {
      await down();
      await up();
      logger.info({ port }, 'camera simulator restarted');
    },
  };
}

/** Adds fresh noise to a frame in place, so consecutive frames of a still scene are not identical. */
function sensorNoise(amplitude: number, seed: number): (frame: Buffer) => void {
  let x = (seed ^ 0x6a09e667) >>> 0 || 1;
  return (frame) => {
    for (let i = 0; i < frame.length; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      const v = (frame[i] as number) + ((x & 0xff) / 255 - 0.5) * amplitude;
      frame[i] = Math.max(0, Math.min(255, v));
    }
  };
}
