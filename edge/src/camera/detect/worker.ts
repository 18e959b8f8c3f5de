/**
 * The detector's worker thread: owns the ONNX session (created once), letterboxes each raw frame into the
 * input tensor, runs the model and decodes the output, so the agent's event loop never waits on inference.
 * Messages: init → ready | fail; detect → result | fail; bare → bare (one session.run on the last tensor, for
 * the benchmark's baseline on the same warmed session).
 */
import { readFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { checkOutputShape, decodeOutput, type OutputFormat } from './decode.js';
import { letterboxRgb } from './letterbox.js';
import { parseNames, readLabelsFile, readOnnxMetadata } from './labels.js';

export interface WorkerInit {
  path: string;
  labelsPath?: string;
  format: OutputFormat;
  inputSize?: [number, number];
  conf: number;
  iou: number;
  threads?: number;
}

export interface ModelInfo {
  inputName: string;
  outputName: string;
  inputW: number;
  inputH: number;
  outputDims: number[];
  labels: string[];
}

export type ToWorker =
  | { t: 'init'; init: WorkerInit }
  | { t: 'detect'; id: number; frame: Uint8Array; width: number; height: number; conf?: number }
  | { t: 'bare'; id: number };

export type FromWorker =
  | { t: 'ready'; info: ModelInfo }
  | { t: 'fail'; id?: number; message: string; model?: boolean }
  | {
      t: 'result';
      id: number;
      dets: import('./decode.js').Detection[];
      preMs: number;
      runMs: number;
      postMs: number;
    }
  | { t: 'bare'; id: number; runMs: number };

class ModelError extends Error {}

let session: ort.InferenceSession | undefined;
let info: ModelInfo | undefined;
let cfg: WorkerInit | undefined;
let tensor: Float32Array | undefined;

async function init(c: WorkerInit): Promise<ModelInfo> {
  cfg = c;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(c.path);
  } catch (e) {
    throw new ModelError(`cannot read model ${c.path}: ${(e as Error).message}`);
  }
  const opts: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all' };
  // FACTS.md: intraOpNumThreads: undefined throws, so the key is set only for a number.
  if (typeof c.threads === 'number') opts.intraOpNumThreads = c.threads;
  try {
    session = await ort.InferenceSession.create(bytes, opts);
  } catch (e) {
    throw new ModelError(`${c.path} is not a loadable ONNX model: ${(e as Error).message}`);
  }
  const input = session.inputMetadata[0];
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  if (!input || !inputName || !outputName) throw new ModelError(`${c.path} has no input or no output`);
  if (session.inputNames.length !== 1) throw new ModelError(`${c.path} has ${session.inputNames.length} inputs, expected 1 image input`);
  let inputW = c.inputSize?.[0];
  let inputH = c.inputSize?.[1];
  if (input.isTensor) {
    if (input.type !== 'float32') throw new ModelError(`input ${inputName} is ${input.type}, expected float32`);
    const s = input.shape;
    if (s.length !== 4 || (typeof s[1] === 'number' && s[1] !== 3)) {
      throw new ModelError(`input ${inputName} has shape [${s.join(', ')}], expected [1, 3, H, W]`);
    }
    // A fixed input size in the model wins: a configured size that disagrees would only fail at run time.
    if (typeof s[2] === 'number' && typeof s[3] === 'number') {
      if (c.inputSize && (c.inputSize[0] !== s[3] || c.inputSize[1] !== s[2])) {
        throw new ModelError(`configured inputSize ${c.inputSize.join('x')} differs from the model's fixed ${s[3]}x${s[2]}`);
      }
      inputW = s[3];
      inputH = s[2];
    }
  }
  if (!inputW || !inputH) throw new ModelError(`input ${inputName} has a dynamic size: set model.inputSize [w, h]`);
  let labels: string[] | undefined;
  if (c.labelsPath) {
    try {
      labels = await readLabelsFile(c.labelsPath);
    } catch (e) {
      throw new ModelError(`cannot read labels ${c.labelsPath}: ${(e as Error).message}`);
    }
  } else {
    let meta: Record<string, string> = {};
    try {
      meta = readOnnxMetadata(bytes);
    } catch {
      // unreadable metadata is the same as none: reported below
    }
    if (meta.names !== undefined) labels = parseNames(meta.names);
    if (!labels) throw new ModelError(`${c.path} has no usable 'names' metadata (${JSON.stringify(meta.names ?? null)}): set model.labels`);
  }
  if (labels.length === 0) throw new ModelError('label list is empty');
  // One warm-up run on a grey frame checks the output layout against the format and the label count.
  tensor = new Float32Array(3 * inputW * inputH).fill(114 / 255);
  let out: ort.Tensor | undefined;
  try {
    const res = await session.run({ [inputName]: new ort.Tensor('float32', tensor, [1, 3, inputH, inputW]) });
    out = res[outputName];
  } catch (e) {
    throw new ModelError(`test inference failed: ${(e as Error).message}`);
  }
  if (out?.type !== 'float32') throw new ModelError(`output ${outputName} is not a float32 tensor`);
  const dims = out.dims.map(Number);
  const bad = checkOutputShape(c.format, dims, labels.length);
  if (bad) throw new ModelError(`${bad} (${labels.length} labels)`);
  info = { inputName, outputName, inputW, inputH, outputDims: dims, labels };
  return info;
}

async function detect(m: Extract<ToWorker, { t: 'detect' }>): Promise<FromWorker> {
  if (!session || !info || !cfg || !tensor) throw new Error('detector not initialised');
  const t0 = performance.now();
  const { box } = letterboxRgb(m.frame, m.width, m.height, info.inputW, info.inputH, tensor);
  const t1 = performance.now();
  const res = await session.run({ [info.inputName]: new ort.Tensor('float32', tensor, [1, 3, info.inputH, info.inputW]) });
  const t2 = performance.now();
  const out = res[info.outputName] as ort.Tensor;
  const dets = decodeOutput(out.data as Float32Array, out.dims.map(Number), {
    format: cfg.format,
    conf: m.conf ?? cfg.conf,
    iou: cfg.iou,
    labels: info.labels,
    frameW: m.width,
    frameH: m.height,
    box,
  });
  const t3 = performance.now();
  return { t: 'result', id: m.id, dets, preMs: t1 - t0, runMs: t2 - t1, postMs: t3 - t2 };
}

async function bare(id: number): Promise<FromWorker> {
  if (!session || !info || !tensor) throw new Error('detector not initialised');
  const t0 = performance.now();
  await session.run({ [info.inputName]: new ort.Tensor('float32', tensor, [1, 3, info.inputH, info.inputW]) });
  return { t: 'bare', id, runMs: performance.now() - t0 };
}

const port = parentPort;
if (port) {
  port.on('message', (m: ToWorker) => {
    const reply = (r: FromWorker) => port.postMessage(r);
    if (m.t === 'init') {
      init(m.init).then(
        (i) => reply({ t: 'ready', info: i }),
        (e: Error) => reply({ t: 'fail', message: e.message, model: e instanceof ModelError }),
      );
    } else {
      (m.t === 'detect' ? detect(m) : bare(m.id)).then(reply, (e: Error) => reply({ t: 'fail', id: m.id, message: e.message }));
    }
  });
}
