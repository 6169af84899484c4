/**
 * GraphBuilder: a thin layer over the ONNX protobuf types that hands out unique tensor names and
 * writes opset-17 nodes. Values are tensor names (strings). In fp16 mode, weights and float
 * constants made with `weight`/`constF` are stored as float16 so the whole graph computes in half
 * precision; `constF32` is for the few places that must stay float32 (Resize scales, fp32 islands).
 */
import { f32ToF16 } from '../weights/safetensors.ts';
import type { Tensor } from '../weights/types.ts';
import {
  DataType,
  encodeModel,
  type AttributeProto,
  type AttributeValue,
  type Dim,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './onnx-proto.ts';

/** A tensor in the graph, by name. */
export type Val = string;

/** Attribute inputs: integers → INT, lists of integers → INTS, strings → STRING; floats spelled out. */
export type Attr = number | number[] | string | { f: number } | { floats: number[] } | { t: TensorProto };

/** int64 "to the end" for Slice. */
export const INT64_MAX = 2n ** 63n - 1n;

const OPSET = 17;

function toAttr(name: string, a: Attr): AttributeProto {
  let value: AttributeValue;
  if (typeof a === 'number') {
    if (!Number.isInteger(a)) throw new Error(`attribute ${name}: use { f } for floats`);
    value = { type: 'int', i: a };
  } else if (typeof a === 'string') value = { type: 'string', s: a };
  else if (Array.isArray(a)) value = { type: 'ints', ints: a };
  else if ('f' in a) value = { type: 'float', f: a.f };
  else if ('floats' in a) value = { type: 'floats', floats: a.floats };
  else value = { type: 'tensor', t: a.t };
  return { name, value };
}

/** float32 values → little-endian bytes of the given float type (fp16 with round-to-nearest-even). */
export function floatBytes(values: ArrayLike<number>, dataType: number): Uint8Array {
  if (dataType === DataType.FLOAT16) {
    const h = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) h[i] = f32ToF16(values[i]!);
    return new Uint8Array(h.buffer);
  }
  const f = Float32Array.from(values);
  return new Uint8Array(f.buffer);
}

/** IEEE half bits → float32 values (to read fp16 model outputs). */
export function halfToFloat(h: ArrayLike<number>): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const v = h[i]!;
    const e = (v >> 10) & 0x1f;
    const m = v & 0x3ff;
    const mag = e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
    out[i] = v & 0x8000 ? -mag : mag;
  }
  return out;
}

function int64Bytes(values: readonly (number | bigint)[]): Uint8Array {
  const b = new BigInt64Array(values.map((v) => BigInt(v)));
  return new Uint8Array(b.buffer);
}

export class GraphBuilder {
  /** Float type the graph computes in (FLOAT or FLOAT16). */
  readonly ft: number;
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private readonly consts = new Map<string, Val>();
  private readonly weights = new Map<string, Val>();

  constructor(readonly fp16 = false) {
    this.ft = fp16 ? DataType.FLOAT16 : DataType.FLOAT;
  }

  /** A name not used yet, derived from `hint`. */
  unique(hint: string): string {
    let name = hint;
    for (let k = 1; this.used.has(name); k++) name = `${hint}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Declare a graph input. */
  input(name: string, elemType: number, dims: Dim[]): Val {
    const v = this.unique(name);
    this.inputs.push({ name: v, elemType, dims });
    return v;
  }

  /** Declare a graph output named `name` carrying `value`. */
  output(name: string, value: Val, elemType: number, dims: Dim[]): void {
    this.node('Identity', [value], {}, name);
    this.outputs.push({ name, elemType, dims });
  }

  /** A weight from the state dict as an initializer (stored in the compute float type), once per name. */
  weight(name: string, t: Pick<Tensor, 'data' | 'shape'>, dims: readonly number[] = t.shape, data: ArrayLike<number> = t.data): Val {
    const known = this.weights.get(name);
    if (known) return known;
    const v = this.unique(name);
    this.initializers.push({ name: v, dataType: this.ft, dims: [...dims], raw: floatBytes(data, this.ft) });
    this.weights.set(name, v);
    return v;
  }

  private constant(key: string, t: Omit<TensorProto, 'name'>): Val {
    const known = this.consts.get(key);
    if (known) return known;
    const out = this.unique('const');
    this.nodes.push({ name: this.unique('Constant'), opType: 'Constant', inputs: [], outputs: [out], attributes: [toAttr('value', { t: { name: out, ...t } })] });
    this.consts.set(key, out);
    return out;
  }

  /** Float constant in the compute type (a scalar when dims is empty). */
  constF(values: number | number[], dims: number[] = []): Val {
    const v = typeof values === 'number' ? [values] : values;
    return this.constant(`f${this.ft}:${dims}:${v}`, { dataType: this.ft, dims, raw: floatBytes(v, this.ft) });
  }

  /** Float32 constant whatever the compute type. */
  constF32(values: number | number[], dims: number[] = []): Val {
    const v = typeof values === 'number' ? [values] : values;
    return this.constant(`f1:${dims}:${v}`, { dataType: DataType.FLOAT, dims, raw: floatBytes(v, DataType.FLOAT) });
  }

  /** 1-D int64 constant. */
  constI64(values: (number | bigint)[]): Val {
    return this.constant(`i:${values}`, { dataType: DataType.INT64, dims: [values.length], raw: int64Bytes(values) });
  }

  /** Add a node; returns its outputs. */
  nodeN(op: string, inputs: Val[], attrs: Record<string, Attr> = {}, nOut = 1): Val[] {
    const outputs = Array.from({ length: nOut }, () => this.unique(op.toLowerCase()));
    this.nodes.push({
      name: this.unique(op),
      opType: op,
      inputs,
      outputs,
      attributes: Object.entries(attrs).map(([k, a]) => toAttr(k, a)),
    });
    return outputs;
  }

  /** Add a single-output node (optionally naming its output). */
  node(op: string, inputs: Val[], attrs: Record<string, Attr> = {}, outName?: string): Val {
    if (outName === undefined) return this.nodeN(op, inputs, attrs)[0]!;
    this.used.add(outName);
    this.nodes.push({ name: this.unique(op), opType: op, inputs, outputs: [outName], attributes: Object.entries(attrs).map(([k, a]) => toAttr(k, a)) });
    return outName;
  }

  // ---------------------------------------------------------------- op helpers

  add = (a: Val, b: Val): Val => this.node('Add', [a, b]);
  sub = (a: Val, b: Val): Val => this.node('Sub', [a, b]);
  mul = (a: Val, b: Val): Val => this.node('Mul', [a, b]);
  div = (a: Val, b: Val): Val => this.node('Div', [a, b]);
  mod = (a: Val, b: Val): Val => this.node('Mod', [a, b]);
  sqrt = (x: Val): Val => this.node('Sqrt', [x]);
  erf = (x: Val): Val => this.node('Erf', [x]);
  sigmoid = (x: Val): Val => this.node('Sigmoid', [x]);
  matmul = (a: Val, b: Val): Val => this.node('MatMul', [a, b]);
  shape = (x: Val): Val => this.node('Shape', [x]);
  softmax = (x: Val, axis = -1): Val => this.node('Softmax', [x], { axis });
  transpose = (x: Val, perm: number[]): Val => this.node('Transpose', [x], { perm });
  reshape = (x: Val, shape: Val | number[]): Val => this.node('Reshape', [x, typeof shape === 'string' ? shape : this.constI64(shape)]);
  concat = (xs: Val[], axis: number): Val => this.node('Concat', xs, { axis });
  cast = (x: Val, to: number): Val => this.node('Cast', [x], { to });
  depthToSpace = (x: Val, blocksize: number): Val => this.node('DepthToSpace', [x], { blocksize, mode: 'CRD' });
  /** ReduceMean (opset 17: axes is an attribute). */
  reduceMean = (x: Val, axes: number[], keepdims = 1): Val => this.node('ReduceMean', [x], { axes, keepdims });

  /** Split into `n` equal parts along `axis`. */
  split(x: Val, axis: number, n: number): Val[] {
    return this.nodeN('Split', [x], { axis }, n);
  }

  /** Slice with constant or computed starts/ends. */
  slice(x: Val, starts: Val | (number | bigint)[], ends: Val | (number | bigint)[], axes: number[]): Val {
    const s = typeof starts === 'string' ? starts : this.constI64(starts);
    const e = typeof ends === 'string' ? ends : this.constI64(ends);
    return this.node('Slice', [x, s, e, this.constI64(axes)]);
  }

  /** Constant-mode (zero) Pad with a computed or constant int64 pads vector. */
  pad(x: Val, pads: Val | number[], mode: 'constant' | 'reflect' | 'edge' = 'constant'): Val {
    return this.node('Pad', [x, typeof pads === 'string' ? pads : this.constI64(pads)], { mode });
  }

  /** Clip to [lo, hi] in the compute type of `x` (`f32` for fp32 islands). */
  clip(x: Val, lo: number, hi: number, f32 = false): Val {
    const c = f32 ? this.constF32.bind(this) : this.constF.bind(this);
    return this.node('Clip', [x, c(lo), c(hi)]);
  }

  /** Nearest-neighbour upsampling by an integer factor, as torch `interpolate(mode="nearest")`. */
  resizeNearest(x: Val, scale: number): Val {
    return this.node('Resize', [x, '', this.constF32([1, 1, scale, scale], [4])], {
      mode: 'nearest',
      coordinate_transformation_mode: 'asymmetric',
      nearest_mode: 'floor',
    });
  }

  /** Conv2d (NCHW). `kernel` is [kh, kw]; pads are symmetric. */
  conv(x: Val, w: Val, bias: Val | undefined, kernel: [number, number], opts: { pad?: [number, number]; group?: number; dilation?: number } = {}): Val {
    const [ph, pw] = opts.pad ?? [0, 0];
    const d = opts.dilation ?? 1;
    return this.node('Conv', bias === undefined ? [x, w] : [x, w, bias], {
      kernel_shape: kernel,
      pads: [ph, pw, ph, pw],
      dilations: [d, d],
      group: opts.group ?? 1,
      strides: [1, 1],
    });
  }

  /**
   * Exact GELU, `x·(1 + erf(x/√2))·0.5`, spelled as torch.onnx.export spells it for opset < 20
   * (opset 17 has no Gelu op): Div by √2, Erf, Add 1, Mul x, Mul 0.5. onnxruntime's GeluFusion
   * recognises exactly this pattern (a Mul by 1/√2 instead of the Div is NOT fused) and runs one
   * Gelu kernel instead of five element-wise passes.
   */
  gelu(x: Val): Val {
    const e = this.erf(this.div(x, this.constF(Math.SQRT2)));
    return this.mul(this.mul(x, this.add(e, this.constF(1))), this.constF(0.5));
  }

  /** Assemble the ModelProto. */
  model(metadata: [string, string][], producerVersion: string): ModelProto {
    return {
      irVersion: 8,
      producerName: 'paragon',
      producerVersion,
      opsetImports: [{ domain: '', version: OPSET }],
      graph: { name: 'paragonsr2', nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs },
      metadata,
    };
  }

  /** Serialise to ONNX bytes. */
  encode(metadata: [string, string][], producerVersion: string): Uint8Array {
    return encodeModel(this.model(metadata, producerVersion));
  }
}
