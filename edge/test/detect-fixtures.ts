/**
 * Tiny ONNX models built at test time with onnx-proto, so decoding, NMS and the letterbox mapping can be checked
 * against exactly known outputs, and a negative control (random weights) can be built without training.
 */
import onnxProto from 'onnx-proto';
import type { onnx as P } from 'onnx-proto';

const { onnx } = onnxProto;

type Dim = number | string;

function valueInfo(name: string, dims: Dim[]): P.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function floatTensor(name: string, dims: number[], data: ArrayLike<number>): P.ITensorProto {
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: Array.from(data) };
}

function int64Tensor(name: string, data: number[]): P.ITensorProto {
  return { name, dims: [data.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: data };
}

function model(nodes: P.INodeProto[], inits: P.ITensorProto[], input: P.IValueInfoProto, output: P.IValueInfoProto, meta: Record<string, string>): Uint8Array {
  const m: P.IModelProto = {
    irVersion: 8,
    producerName: 'hutong-test',
    opsetImport: [{ domain: '', version: 13 }],
    metadataProps: Object.entries(meta).map(([key, value]) => ({ key, value })),
    graph: { name: 'g', node: nodes, initializer: inits, input: [input], output: [output] },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(m)).finish();
}

export interface ConstModelOptions {
  /** input dims, e.g. [1, 3, 384, 640]; strings make a dimension dynamic */
  input?: Dim[];
  inputName?: string;
  outDims: number[];
  out: ArrayLike<number>;
  names?: string;
}

/** A model whose output is always `out` (the image is read, multiplied by 0, so the input is a real dependency). */
export function constModel(o: ConstModelOptions): Uint8Array {
  const inputName = o.inputName ?? 'images';
  const nodes: P.INodeProto[] = [
    { opType: 'ReduceMax', input: [inputName], output: ['mx'], attribute: [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] },
    { opType: 'Mul', input: ['mx', 'zero'], output: ['z'] },
    { opType: 'Add', input: ['c', 'z'], output: ['output0'] },
  ];
  const inits = [floatTensor('zero', [], [0]), floatTensor('c', o.outDims, o.out)];
  const meta: Record<string, string> = o.names !== undefined ? { names: o.names } : {};
  return model(nodes, inits, valueInfo(inputName, o.input ?? [1, 3, 384, 640]), valueInfo('output0', o.outDims), meta);
}

/** A deterministic PRNG (mulberry32), so a "random" model is the same in every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An untrained detector with the shipped model's contract ([1,3,384,640] → [1,4+nc,3840], stride 8): average pool
 * 8×8, two convolutions with random weights, sigmoid, box rows scaled to input pixels. Its outputs depend on the
 * image but carry no knowledge of litter: the negative control of the quality test.
 */
export function randomDetector(nc: number, seed: number, names: string): Uint8Array {
  const r = rng(seed);
  const hid = 16;
  const rand = (n: number, s: number) => Array.from({ length: n }, () => (r() * 2 - 1) * s);
  const ch = 4 + nc;
  const scale = [640, 384, 160, 160, ...Array.from({ length: nc }, () => 1)];
  const nodes: P.INodeProto[] = [
    {
      opType: 'AveragePool',
      input: ['images'],
      output: ['p'],
      attribute: [
        { name: 'kernel_shape', type: onnx.AttributeProto.AttributeType.INTS, ints: [8, 8] },
        { name: 'strides', type: onnx.AttributeProto.AttributeType.INTS, ints: [8, 8] },
      ],
    },
    { opType: 'Conv', input: ['p', 'w1', 'b1'], output: ['c1'] },
    { opType: 'Relu', input: ['c1'], output: ['r1'] },
    { opType: 'Conv', input: ['r1', 'w2', 'b2'], output: ['c2'] },
    { opType: 'Sigmoid', input: ['c2'], output: ['s'] },
    { opType: 'Reshape', input: ['s', 'shape'], output: ['flat'] },
    { opType: 'Mul', input: ['flat', 'scale'], output: ['output0'] },
  ];
  const inits = [
    floatTensor('w1', [hid, 3, 1, 1], rand(hid * 3, 2)),
    floatTensor('b1', [hid], rand(hid, 0.5)),
    floatTensor('w2', [ch, hid, 1, 1], rand(ch * hid, 1)),
    floatTensor('b2', [ch], rand(ch, 0.5)),
    int64Tensor('shape', [1, ch, 48 * 80]),
    floatTensor('scale', [1, ch, 1], scale),
  ];
  return model(nodes, inits, valueInfo('images', [1, 3, 384, 640]), valueInfo('output0', [1, ch, 48 * 80]), { names });
}
