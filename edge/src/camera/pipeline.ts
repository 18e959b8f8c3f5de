import { createHash, randomUUID } from 'node:crypto';
import { encodeImage, type HealthRecord, type HutongRecord, type ImageHeader } from '@hutong/protocols';
import type { Logger } from 'pino';
import type { RecordSink, Stamper } from '../records/sink.js';
import { FfmpegCapture, type Frame } from './capture.js';
import type { CameraConfig } from './config.js';
import type { Detection } from './detect/decode.js';
import { Detector } from './detect/detector.js';
import { CameraEvents } from './events.js';
import { pointInPolygon } from './geometry.js';
import type { ImageSink } from './index.js';
import { MotionGate } from './motion.js';
import { maskedFullFrame } from './snapshot.js';
import { Tracker, type TrackInput } from './track.js';

export interface PipelineDeps {
  gatewayId: string;
  ffmpegPath: string;
  backoffMinMs: number;
  backoffMaxMs: number;
  sink: RecordSink;
  images: ImageSink;
  stamper: Stamper;
  log: Logger;
  onState?: (online: boolean, reason: string) => void;
  /** called after every processed frame (tests and the benchmark observe the pipeline through it) */
  onFrame?: (f: Frame, ran: boolean, dets: readonly Detection[]) => void;
}

/** One camera: reads frames and runs them through gate → detector → tracker → events, one frame at a time. */
export class CameraPipeline {
  readonly capture: FfmpegCapture;
  readonly detector: Detector;
  readonly gate: MotionGate;
  readonly tracker: Tracker;
  readonly events: CameraEvents;
  private running = false;
  private loop: Promise<void> | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private readonly inferMs: number[] = [];
  private framesSinceHealth = 0;
  private revivedAt = 0;
  private healthAt = Date.now();
  readonly counts = { processed: 0, detector_runs: 0, detector_errors: 0, detections: 0, sink_errors: 0, forced_runs: 0, detector_restarts: 0 };

  constructor(
    readonly cfg: CameraConfig,
    private readonly d: PipelineDeps,
  ) {
    const log = d.log.child({ camera: cfg.id });
    this.capture = new FfmpegCapture(
      {
        url: cfg.url,
        fps: cfg.fps,
        queueSize: cfg.queueSize,
        stallMs: cfg.stallS * 1000,
        backoffMinMs: d.backoffMinMs,
        backoffMaxMs: d.backoffMaxMs,
        ffmpegPath: d.ffmpegPath,
        onState: (online, reason) => this.stateChanged(online, reason),
      },
      log,
    );
    const m = cfg.model;
    this.detector = new Detector(
      {
        path: m.path,
        format: m.format,
        conf: m.conf,
        iou: m.iou,
        ...(m.labels !== undefined ? { labels: m.labels } : {}),
        ...(m.inputSize !== undefined ? { inputSize: m.inputSize } : {}),
        ...(m.threads !== undefined ? { threads: m.threads } : {}),
      },
      log,
    );
    const mo = cfg.motion;
    this.gate = new MotionGate(
      { width: mo.width, height: mo.height, pixelDelta: mo.pixelDelta, threshold: mo.threshold, alpha: mo.alpha, fullCheckMs: mo.fullCheckS * 1000 },
      cfg.masks,
    );
    const ev = cfg.events;
    this.tracker = new Tracker({
      n: ev.nOfM[0],
      m: Math.max(ev.nOfM[0], ev.nOfM[1]),
      lostAfterMs: ev.lostAfterS * 1000,
      minMisses: ev.minMisses,
      iouMatch: ev.iouMatch,
      centreMatch: 0.5,
      smoothing: 0.2,
    });
    // No zones configured: the whole frame is one zone named after the camera.
    const zones = cfg.zones.length > 0 ? cfg.zones : [{ id: cfg.id, polygon: [[0, 0], [1e6, 0], [1e6, 1e6], [0, 1e6]] as [number, number][] }];
    this.events = new CameraEvents(
      { gatewayId: d.gatewayId, cameraId: cfg.id, zones, cleanAfterMs: ev.cleanAfterS * 1000, cropMargin: 0.25, cropMinSide: 64 },
      d.stamper,
    );
    this.log = log;
  }

  private readonly log: Logger;

  /** Loads the model (E_MODEL) and starts ffmpeg (E_BINARY_MISSING); an unreachable camera is not an error here. */
  async start(): Promise<void> {
    await this.detector.start();
    try {
      await this.capture.start();
    } catch (e) {
      await this.detector.stop();
      throw e;
    }
    this.running = true;
    this.loop = this.run();
    this.healthTimer = setInterval(() => this.health(), this.cfg.healthEveryS * 1000);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.healthTimer);
    await this.capture.stop();
    await this.loop;
    await this.detector.stop();
  }

  counters(): Record<string, number> {
    return { ...this.counts, ...this.capture.counters, ...prefix('gate_', this.gate.counts), ...prefix('ev_', this.events.counts) };
  }

  private async run(): Promise<void> {
    const litter = new Set(this.cfg.model.litterLabels);
    for (;;) {
      const f = await this.capture.next();
      if (!f || !this.running) return;
      try {
        await this.process(f, litter);
      } catch (e) {
        // One bad frame never stops the camera.
        this.log.error({ code: 'E_CAMERA', err: e }, 'frame processing failed');
      }
    }
  }

  private async process(f: Frame, litter: Set<string>): Promise<void> {
    this.counts.processed++;
    this.framesSinceHealth++;
    const g = this.cfg.motion.enabled ? this.gate.check(f.rgb, f.width, f.height, f.atMs) : { run: true };
    const forced = !g.run && (this.tracker.wantsFrames() || this.events.wantsRun(f.atMs));
    if (!g.run && !forced) {
      this.d.onFrame?.(f, false, []);
      return;
    }
    if (forced) this.counts.forced_runs++;
    let dets: Detection[];
    try {
      const r = await this.detector.detect(f.rgb, f.width, f.height);
      dets = r.dets;
      this.counts.detector_runs++;
      this.inferMs.push(r.preMs + r.runMs + r.postMs);
      if (this.inferMs.length > 64) this.inferMs.shift();
    } catch (e) {
      this.counts.detector_errors++;
      this.log.error({ code: 'E_MODEL', err: e }, 'detector run failed');
      await this.reviveDetector(f.atMs);
      return;
    }
    const inputs: TrackInput[] = [];
    for (const dt of dets) {
      if (!litter.has(dt.label)) continue;
      const cx = dt.x + dt.w / 2;
      const cy = dt.y + dt.h / 2;
      if (this.cfg.masks.some((m) => pointInPolygon(cx, cy, m))) continue;
      if (this.events.zoneOf(dt) === undefined) continue;
      inputs.push(dt);
    }
    this.counts.detections += inputs.length;
    const u = this.tracker.update(inputs, f.atMs, (dt) => this.events.zoneOf(dt));
    const out = await this.events.afterRun(u, this.tracker.live(), f, f.atMs);
    if (this.cfg.sendFullFrame) {
      for (const r of out.records) if (r.k === 'litter') out.images.push(await this.fullFrame(f, r.ev));
    }
    // Images first: the crop is durable before the record that names its hash.
    for (const im of out.images) {
      try {
        await this.d.images.append(im.frame, im.header);
      } catch (e) {
        this.counts.sink_errors++;
        this.log.error({ err: e, id: im.header.id }, 'image not stored');
      }
    }
    await this.append(out.records);
    this.d.onFrame?.(f, true, inputs as Detection[]);
  }

  /** A worker that died (out of memory, a native crash) is started again, at most every 5 s. */
  private async reviveDetector(nowMs: number): Promise<void> {
    if (this.detector.alive || nowMs - this.revivedAt < 5000) return;
    this.revivedAt = nowMs;
    this.counts.detector_restarts++;
    try {
      await this.detector.start();
    } catch (e) {
      this.log.error({ code: 'E_MODEL', err: e }, 'detector restart failed');
    }
  }

  private async fullFrame(f: Frame, ev: string): Promise<{ frame: Uint8Array; header: ImageHeader }> {
    const jpeg = await maskedFullFrame(f.rgb, f.width, f.height, this.cfg.masks, this.cfg.fullFrameWidth);
    const sha256 = createHash('sha256').update(jpeg).digest('hex');
    const header: ImageHeader = { v: 1, gw: this.d.gatewayId, id: randomUUID(), sha256, type: 'image/jpeg', camera: this.cfg.id, ev, full: true };
    return { frame: encodeImage(header, jpeg), header };
  }

  private async append(recs: HutongRecord[]): Promise<void> {
    if (recs.length === 0) return;
    try {
      await this.d.sink.append(recs);
    } catch (e) {
      this.counts.sink_errors++;
      this.log.error({ err: e, n: recs.length }, 'records not stored');
    }
  }

  private stateChanged(online: boolean, reason: string): void {
    this.d.onState?.(online, reason);
    this.append([this.healthRecord(online)]).catch(() => undefined);
  }

  private health(): void {
    this.append([this.healthRecord(this.capture.isOnline())]).catch(() => undefined);
  }

  private healthRecord(online: boolean): HealthRecord {
    const now = Date.now();
    const secs = (now - this.healthAt) / 1000;
    const rec: HealthRecord = { k: 'health', d: this.cfg.id, ts: this.d.stamper.stamp(this.cfg.id), kind: 'camera', online };
    if (secs > 0) rec.fps = Math.round((this.framesSinceHealth / secs) * 100) / 100;
    const sorted = [...this.inferMs].sort((a, b) => a - b);
    const med = sorted[Math.floor(sorted.length / 2)];
    if (med !== undefined) rec.inferMs = Math.round(med * 10) / 10;
    this.framesSinceHealth = 0;
    this.healthAt = now;
    return rec;
  }
}

function prefix(p: string, o: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) out[p + k] = v;
  return out;
}
