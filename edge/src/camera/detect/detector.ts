import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { HutongError } from '@hutong/protocols';
import type { Logger } from 'pino';
import type { Detection, OutputFormat } from './decode.js';
import type { FromWorker, ModelInfo, ToWorker, WorkerInit } from './worker.js';

export interface DetectorOptions {
  path: string;
  /** labels file, one per line; without it the model's `names` metadata is used */
  labels?: string;
  format: OutputFormat;
  /** [w, h], only needed when the model's input size is dynamic */
  inputSize?: [number, number];
  conf: number;
  iou: number;
  /** intra-op threads of the session; left to onnxruntime when not set */
  threads?: number;
}

/** tsx's ESM API by absolute URL: an eval'd worker resolves bare specifiers from the cwd, not from here. */
function tsxApi(): string {
  const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
  return pathToFileURL(join(dirname(pkg), 'dist/esm/api/index.mjs')).href;
}

export interface DetectResult {
  dets: Detection[];
  preMs: number;
  runMs: number;
  postMs: number;
}

/**
 * Runs the model in a worker thread (one session, created once in `start()`). `start()` rejects with
 * HutongError E_MODEL when the model cannot be loaded or does not fit its contract. Frames are copied to the
 * worker, so the caller keeps its frame for crops.
 */
export class Detector {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: FromWorker) => void; reject: (e: Error) => void }>();
  private model: ModelInfo | undefined;

  constructor(
    private readonly opts: DetectorOptions,
    private readonly log: Logger,
  ) {}

  /** False once the worker died (or before start): the owner may start it again. */
  get alive(): boolean {
    return this.worker !== undefined && this.model !== undefined;
  }

  get info(): ModelInfo {
    if (!this.model) throw new Error('detector not started');
    return this.model;
  }

  async start(): Promise<ModelInfo> {
    // Under tsx/vitest the worker is TypeScript: a tiny eval'd entry loads it through tsx's API, because Node 20
    // neither runs `--import` hooks for a worker's entry file nor lets one thread's loader hooks reach another.
    const ts = import.meta.url.endsWith('.ts');
    const url = new URL(ts ? './worker.ts' : './worker.js', import.meta.url);
    const worker = ts
      ? new Worker(
          `import(${JSON.stringify(tsxApi())})` +
            `.then((m) => m.tsImport(${JSON.stringify(url.href)}, ${JSON.stringify(import.meta.url)}));`,
          { eval: true },
        )
      : new Worker(url);
    this.worker = worker;
    worker.on('error', (e) => {
      this.log.error({ code: 'E_MODEL', err: e }, 'detector worker failed');
      this.failAll(e);
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) {
        this.worker = undefined;
        this.model = undefined;
      }
      this.failAll(new Error(`detector worker exited (${code})`));
    });
    const init: WorkerInit = { path: this.opts.path, format: this.opts.format, conf: this.opts.conf, iou: this.opts.iou };
    if (this.opts.labels !== undefined) init.labelsPath = this.opts.labels;
    if (this.opts.inputSize !== undefined) init.inputSize = this.opts.inputSize;
    if (typeof this.opts.threads === 'number') init.threads = this.opts.threads;
    const ready = new Promise<FromWorker>((resolve, reject) => {
      const onMsg = (m: FromWorker) => {
        if (m.t === 'ready' || (m.t === 'fail' && m.id === undefined)) {
          worker.off('message', onMsg);
          resolve(m);
        }
      };
      worker.on('message', onMsg);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`detector worker exited (${code}) during start`)));
    });
    worker.postMessage({ t: 'init', init } satisfies ToWorker);
    let m: FromWorker;
    try {
      m = await ready;
    } catch (e) {
      await this.stop();
      throw new HutongError('E_MODEL', `${this.opts.path}: ${(e as Error).message}`, { cause: e });
    }
    if (m.t !== 'ready') {
      await this.stop();
      throw new HutongError('E_MODEL', m.t === 'fail' ? m.message : 'unexpected answer from the detector worker');
    }
    this.model = m.info;
    worker.on('message', (r: FromWorker) => this.onMessage(r));
    this.log.info({ model: this.opts.path, ...m.info }, 'detector ready');
    return m.info;
  }

  async detect(frame: Uint8Array, width: number, height: number, conf?: number): Promise<DetectResult> {
    const id = this.nextId++;
    const msg: ToWorker = { t: 'detect', id, frame, width, height };
    if (conf !== undefined) msg.conf = conf;
    const r = await this.call(id, msg);
    if (r.t !== 'result') throw new Error('unexpected answer from the detector worker');
    return { dets: r.dets, preMs: r.preMs, runMs: r.runMs, postMs: r.postMs };
  }

  /** One bare session.run on the worker's current input tensor (benchmark baseline, same warmed session). */
  async bareRun(): Promise<number> {
    const id = this.nextId++;
    const r = await this.call(id, { t: 'bare', id });
    if (r.t !== 'bare') throw new Error('unexpected answer from the detector worker');
    return r.runMs;
  }

  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.model = undefined;
    if (w) await w.terminate();
    this.failAll(new Error('detector stopped'));
  }

  private call(id: number, msg: ToWorker): Promise<FromWorker> {
    const w = this.worker;
    if (!w || !this.model) return Promise.reject(new Error('detector not started'));
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage(msg);
    });
  }

  private onMessage(r: FromWorker): void {
    if (r.t === 'ready') return;
    const id = r.id;
    if (id === undefined) return;
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (r.t === 'fail') p.reject(new Error(r.message));
    else p.resolve(r);
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
