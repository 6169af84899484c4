/**
 * A minimal protobuf wire-format encoder/decoder for the parts of ONNX we write and inspect
 * (field numbers from onnx/onnx.proto). We write models ourselves rather than depend on protobufjs:
 * the subset is small, and the decoder only needs to be tolerant (unknown fields are skipped), not
 * complete — it must read files from torch.onnx.export as well as our own.
 */

/** ONNX TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11, BFLOAT16: 16 } as const;

/** Element size in bytes of a data type (0 when unknown / variable). */
export function dataTypeSize(t: number): number {
  return ({ 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 } as Record<number, number>)[t] ?? 0;
}

/** Short name of a data type, as `info` prints it. */
export function dataTypeName(t: number): string {
  return ({ 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64', 16: 'bfloat16' } as Record<number, string>)[t] ?? `dtype${t}`;
}

export interface TensorProto {
  name: string;
  dataType: number;
  dims: number[];
  /** Little-endian element bytes. */
  raw?: Uint8Array | undefined;
  /** Element count from float_data/int32_data/int64_data when the file used those instead of raw_data. */
  typedCount?: number;
  /** True when the data lives in an external file (data_location = EXTERNAL). */
  external?: boolean;
}

export type AttributeValue =
  | { type: 'float'; f: number }
  | { type: 'int'; i: number }
  | { type: 'string'; s: string }
  | { type: 'tensor'; t: TensorProto }
  | { type: 'floats'; floats: number[] }
  | { type: 'ints'; ints: number[] }
  | { type: 'other' };

export interface AttributeProto {
  name: string;
  value: AttributeValue;
}

export interface NodeProto {
  name: string;
  opType: string;
  domain?: string;
  inputs: string[];
  outputs: string[];
  attributes: AttributeProto[];
}

/** A dimension: a fixed size, a symbolic name, or unknown (null). */
export type Dim = number | string | null;

export interface ValueInfoProto {
  name: string;
  elemType: number;
  /** Undefined when the type has no shape at all. */
  dims: Dim[] | undefined;
}

export interface GraphProto {
  name: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
}

export interface ModelProto {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsetImports: { domain: string; version: number }[];
  graph: GraphProto;
  metadata: [string, string][];
  docString?: string;
}

// ------------------------------------------------------------------ encoder

const utf8 = new TextEncoder();

/** Appends protobuf fields; nested messages are encoded separately and added as bytes. */
class Writer {
  private chunks: Uint8Array[] = [];
  private buf = new Uint8Array(256);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = new Uint8Array(Math.max(n, 256));
  }
  private flush(): void {
    if (this.pos === 0) return;
    this.chunks.push(this.buf.slice(0, this.pos));
    this.pos = 0;
  }
  private varintRaw(v: bigint | number): void {
    // Negative int64 values are written as their 64-bit two's complement (10 bytes), as protobuf does.
    let x = BigInt.asUintN(64, BigInt(v));
    this.ensure(10);
    while (x >= 0x80n) {
      this.buf[this.pos++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.pos++] = Number(x);
  }
  private tag(field: number, wire: number): void {
    this.varintRaw((field << 3) | wire);
  }
  varint(field: number, v: number | bigint): this {
    this.tag(field, 0);
    this.varintRaw(v);
    return this;
  }
  float(field: number, v: number): this {
    this.tag(field, 5);
    this.ensure(4);
    new DataView(this.buf.buffer).setFloat32(this.pos, v, true);
    this.pos += 4;
    return this;
  }
  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2);
    this.varintRaw(b.length);
    if (b.length > 4096) {
      this.flush();
      this.chunks.push(b);
    } else {
      this.ensure(b.length);
      this.buf.set(b, this.pos);
      this.pos += b.length;
    }
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, utf8.encode(s));
  }
  finish(): Uint8Array {
    this.flush();
    const size = this.chunks.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(size);
    let o = 0;
    for (const c of this.chunks) out.set(c, o), (o += c.length);
    this.chunks = [out];
    return out;
  }
}

function encTensor(t: TensorProto): Uint8Array {
  const w = new Writer();
  for (const d of t.dims) w.varint(1, d);
  w.varint(2, t.dataType);
  w.string(8, t.name);
  if (t.raw) w.bytes(9, t.raw);
  return w.finish();
}

function encAttribute(a: AttributeProto): Uint8Array {
  const w = new Writer().string(1, a.name);
  const v = a.value;
  // AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7.
  if (v.type === 'float') w.float(2, v.f).varint(20, 1);
  else if (v.type === 'int') w.varint(3, v.i).varint(20, 2);
  else if (v.type === 'string') w.string(4, v.s).varint(20, 3);
  else if (v.type === 'tensor') w.bytes(5, encTensor(v.t)).varint(20, 4);
  else if (v.type === 'floats') {
    for (const f of v.floats) w.float(7, f);
    w.varint(20, 6);
  } else if (v.type === 'ints') {
    for (const i of v.ints) w.varint(8, i);
    w.varint(20, 7);
  } else throw new Error(`cannot encode attribute ${a.name}`);
  return w.finish();
}

function encNode(n: NodeProto): Uint8Array {
  const w = new Writer();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name).string(4, n.opType);
  for (const a of n.attributes) w.bytes(5, encAttribute(a));
  if (n.domain) w.string(7, n.domain);
  return w.finish();
}

function encValueInfo(v: ValueInfoProto): Uint8Array {
  const tensorType = new Writer().varint(1, v.elemType);
  if (v.dims) {
    const shape = new Writer();
    for (const d of v.dims) {
      const dw = new Writer();
      if (typeof d === 'number') dw.varint(1, d);
      else if (typeof d === 'string') dw.string(2, d);
      shape.bytes(1, dw.finish());
    }
    tensorType.bytes(2, shape.finish());
  }
  const type = new Writer().bytes(1, tensorType.finish());
  return new Writer().string(1, v.name).bytes(2, type.finish()).finish();
}

function encGraph(g: GraphProto): Uint8Array {
  const w = new Writer();
  for (const n of g.nodes) w.bytes(1, encNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.bytes(5, encTensor(t));
  for (const i of g.inputs) w.bytes(11, encValueInfo(i));
  for (const o of g.outputs) w.bytes(12, encValueInfo(o));
  return w.finish();
}

/** Serialise a model to ONNX protobuf bytes. */
export function encodeModel(m: ModelProto): Uint8Array {
  const w = new Writer().varint(1, m.irVersion).string(2, m.producerName).string(3, m.producerVersion);
  if (m.docString) w.string(6, m.docString);
  w.bytes(7, encGraph(m.graph));
  for (const o of m.opsetImports) w.bytes(8, new Writer().string(1, o.domain).varint(2, o.version).finish());
  for (const [k, v] of m.metadata) w.bytes(14, new Writer().string(1, k).string(2, v).finish());
  return w.finish();
}

// ------------------------------------------------------------------ decoder

const utf8d = new TextDecoder();

/** A field value as read: varints as bigint, length-delimited as bytes, fixed widths as bytes. */
type Raw = bigint | Uint8Array;

/** Parse one message into its fields (repeated fields keep their order). Throws on truncation. */
function fields(b: Uint8Array): Map<number, Raw[]> {
  const out = new Map<number, Raw[]>();
  let p = 0;
  const varint = (): bigint => {
    let x = 0n;
    let shift = 0n;
    for (;;) {
      if (p >= b.length) throw new Error('truncated varint');
      const byte = b[p++]!;
      x |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return x;
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
  };
  const take = (n: number): Uint8Array => {
    if (n < 0 || p + n > b.length) throw new Error('truncated field');
    const s = b.subarray(p, p + n);
    p += n;
    return s;
  };
  while (p < b.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    let v: Raw;
    if (wire === 0) v = varint();
    else if (wire === 1) v = take(8);
    else if (wire === 2) v = take(Number(varint()));
    else if (wire === 5) v = take(4);
    else throw new Error(`unsupported wire type ${wire}`);
    const list = out.get(field);
    if (list) list.push(v);
    else out.set(field, [v]);
  }
  return out;
}

const all = (f: Map<number, Raw[]>, n: number): Raw[] => f.get(n) ?? [];
const bytesOf = (f: Map<number, Raw[]>, n: number): Uint8Array[] => all(f, n).filter((v): v is Uint8Array => v instanceof Uint8Array);
const str = (f: Map<number, Raw[]>, n: number): string => {
  const b = bytesOf(f, n).at(-1);
  return b ? utf8d.decode(b) : '';
};
const int = (f: Map<number, Raw[]>, n: number): number => {
  const v = all(f, n).at(-1);
  return typeof v === 'bigint' ? Number(BigInt.asIntN(64, v)) : 0;
};

/** Repeated int64: accepts both packed (bytes) and unpacked (varint) encodings. */
function ints(f: Map<number, Raw[]>, n: number): number[] {
  const out: number[] = [];
  for (const v of all(f, n)) {
    if (typeof v === 'bigint') out.push(Number(BigInt.asIntN(64, v)));
    else {
      let p = 0;
      while (p < v.length) {
        let x = 0n;
        let shift = 0n;
        for (;;) {
          const byte = v[p++]!;
          x |= BigInt(byte & 0x7f) << shift;
          shift += 7n;
          if (byte < 0x80 || p >= v.length) break;
        }
        out.push(Number(BigInt.asIntN(64, x)));
      }
    }
  }
  return out;
}

/** Repeated float: packed bytes or single fixed32 values. */
function floats(f: Map<number, Raw[]>, n: number): number[] {
  const out: number[] = [];
  for (const v of bytesOf(f, n)) {
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    for (let o = 0; o + 4 <= v.length; o += 4) out.push(dv.getFloat32(o, true));
  }
  return out;
}

function decTensor(b: Uint8Array): TensorProto {
  const f = fields(b);
  const t: TensorProto = { name: str(f, 8), dataType: int(f, 2), dims: ints(f, 1) };
  const raw = bytesOf(f, 9).at(-1);
  if (raw) t.raw = raw;
  // float_data (4) / int32_data (5) / int64_data (7) / double_data (10): count elements.
  const typed = floats(f, 4).length + ints(f, 5).length + ints(f, 7).length + bytesOf(f, 10).reduce((n, v) => n + v.length / 8, 0);
  if (typed) t.typedCount = typed;
  if (int(f, 14) === 1) t.external = true;
  return t;
}

function decAttribute(b: Uint8Array): AttributeProto {
  const f = fields(b);
  const name = str(f, 1);
  const type = int(f, 20);
  let value: AttributeValue = { type: 'other' };
  if (type === 1) value = { type: 'float', f: floats(f, 2)[0] ?? 0 };
  else if (type === 2) value = { type: 'int', i: int(f, 3) };
  else if (type === 3) value = { type: 'string', s: str(f, 4) };
  else if (type === 4) {
    const t = bytesOf(f, 5).at(-1);
    if (t) value = { type: 'tensor', t: decTensor(t) };
  } else if (type === 6) value = { type: 'floats', floats: floats(f, 7) };
  else if (type === 7) value = { type: 'ints', ints: ints(f, 8) };
  return { name, value };
}

function decNode(b: Uint8Array): NodeProto {
  const f = fields(b);
  const n: NodeProto = {
    name: str(f, 3),
    opType: str(f, 4),
    inputs: bytesOf(f, 1).map((v) => utf8d.decode(v)),
    outputs: bytesOf(f, 2).map((v) => utf8d.decode(v)),
    attributes: bytesOf(f, 5).map(decAttribute),
  };
  const domain = str(f, 7);
  if (domain) n.domain = domain;
  return n;
}

function decValueInfo(b: Uint8Array): ValueInfoProto {
  const f = fields(b);
  const v: ValueInfoProto = { name: str(f, 1), elemType: 0, dims: undefined };
  const type = bytesOf(f, 2).at(-1);
  const tensor = type && bytesOf(fields(type), 1).at(-1);
  if (tensor) {
    const tf = fields(tensor);
    v.elemType = int(tf, 1);
    const shape = bytesOf(tf, 2).at(-1);
    if (shape)
      v.dims = bytesOf(fields(shape), 1).map((d) => {
        const df = fields(d);
        if (df.has(1)) return int(df, 1);
        if (df.has(2)) return str(df, 2);
        return null;
      });
  }
  return v;
}

function decGraph(b: Uint8Array): GraphProto {
  const f = fields(b);
  return {
    name: str(f, 2),
    nodes: bytesOf(f, 1).map(decNode),
    initializers: bytesOf(f, 5).map(decTensor),
    inputs: bytesOf(f, 11).map(decValueInfo),
    outputs: bytesOf(f, 12).map(decValueInfo),
  };
}

/** Parse ONNX protobuf bytes. Throws a plain Error on malformed input (callers add the file name). */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const f = fields(bytes);
  const graph = bytesOf(f, 7).at(-1);
  if (!graph) throw new Error('no graph in the model (not an ONNX file?)');
  const m: ModelProto = {
    irVersion: int(f, 1),
    producerName: str(f, 2),
    producerVersion: str(f, 3),
    opsetImports: bytesOf(f, 8).map((o) => {
      const of = fields(o);
      return { domain: str(of, 1), version: int(of, 2) };
    }),
    graph: decGraph(graph),
    metadata: bytesOf(f, 14).map((e) => {
      const ef = fields(e);
      return [str(ef, 1), str(ef, 2)] as [string, string];
    }),
  };
  const doc = str(f, 6);
  if (doc) m.docString = doc;
  return m;
}

/** The model's opset of the default (ai.onnx) domain; 0 when it states none. */
export const defaultOpset = (m: ModelProto): number => m.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;

/** The graph's inputs that are fed at run time (not initializers, which old exporters list as inputs too). */
export function fedInputs(g: GraphProto): ValueInfoProto[] {
  const inits = new Set(g.initializers.map((t) => t.name));
  return g.inputs.filter((v) => !inits.has(v.name));
}

/** Number of elements of a tensor from its dims (1 for a scalar). */
export const elementCount = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);
