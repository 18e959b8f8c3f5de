import type { Logger } from 'pino';
import type { RecordSink, Stamper } from '../records/sink.js';
import { checkFfmpeg } from './capture.js';
import type { CameraSection } from './config.js';
import type { ImageSink } from './index.js';
import { CameraPipeline, type PipelineDeps } from './pipeline.js';

export type CameraStateListener = (cameraId: string, online: boolean, reason: string) => void;

export interface CameraServiceOptions {
  config: CameraSection;
  gatewayId: string;
  sink: RecordSink;
  images: ImageSink;
  stamper: Stamper;
  log: Logger;
  /** camera online/offline changes (the health service turns them into device_silent/device_back) */
  onState?: CameraStateListener;
  onFrame?: (cameraId: string, ...rest: Parameters<NonNullable<PipelineDeps['onFrame']>>) => void;
}

/**
 * All cameras of the gateway. `start()` fails fast with E_BINARY_MISSING (no ffmpeg) or E_MODEL (a model that
 * cannot be loaded or does not fit its contract); a camera that does not answer is retried in the background.
 */
export class CameraService {
  private readonly pipelines = new Map<string, CameraPipeline>();

  constructor(private readonly o: CameraServiceOptions) {}

  async start(ids?: readonly string[]): Promise<void> {
    const cams = this.o.config.cameras.filter((c) => !ids || ids.includes(c.id));
    if (cams.length === 0) return;
    await checkFfmpeg(this.o.config.ffmpegPath);
    for (const cfg of cams) {
      if (this.pipelines.has(cfg.id)) continue;
      const p = new CameraPipeline(cfg, {
        gatewayId: this.o.gatewayId,
        ffmpegPath: this.o.config.ffmpegPath,
        backoffMinMs: this.o.config.backoffMinS * 1000,
        backoffMaxMs: this.o.config.backoffMaxS * 1000,
        sink: this.o.sink,
        images: this.o.images,
        stamper: this.o.stamper,
        log: this.o.log,
        onState: (online, reason) => this.o.onState?.(cfg.id, online, reason),
        ...(this.o.onFrame ? { onFrame: (...a: Parameters<NonNullable<PipelineDeps['onFrame']>>) => this.o.onFrame?.(cfg.id, ...a) } : {}),
      });
      await p.start();
      this.pipelines.set(cfg.id, p);
    }
  }

  async stop(ids?: readonly string[]): Promise<void> {
    for (const [id, p] of this.pipelines) {
      if (ids && !ids.includes(id)) continue;
      this.pipelines.delete(id);
      await p.stop();
    }
  }

  /** Counters of one camera, or of all as `<camera>.<name>`. */
  counters(id?: string): Record<string, number> {
    if (id !== undefined) return this.pipelines.get(id)?.counters() ?? {};
    const out: Record<string, number> = {};
    for (const [cid, p] of this.pipelines) for (const [k, v] of Object.entries(p.counters())) out[`${cid}.${k}`] = v;
    return out;
  }

  pipeline(id: string): CameraPipeline | undefined {
    return this.pipelines.get(id);
  }

  cameraIds(): string[] {
    return this.o.config.cameras.map((c) => c.id);
  }

  urlOf(id: string): string | undefined {
    return this.o.config.cameras.find((c) => c.id === id)?.url;
  }
}
