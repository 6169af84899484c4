/**
 * A strict safetensors reader and a small writer. The format is an 8-byte little-endian header
 * length, a JSON header `{name: {dtype, shape, data_offsets}, __metadata__?}`, then the tensor bytes.
 * Every promise of the format is checked, because a checkpoint is untrusted input: a malformed file
 * must fail with one line naming the file and the offending field, never decode garbage.
 */
import { modelError } from '../errors.ts';
import type { Tensor } from './types.ts';

/** A decoded safetensors file: tensors (float32) and string metadata, both Maps. */
export interface Safetensors {
  readonly tensors: Map<string, Tensor>;
  readonly metadata: Map<string, string>;
}

/** Same cap as the reference implementation: bigger headers are a DoS vector, not a model. */
export const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_SIZE = { F32: 4, F16: 2, BF16: 2 } as const;
export type Dtype = keyof typeof DTYPE_SIZE;

// ---------------------------------------------------------------------------------------------
// A minimal JSON parser: JSON.parse silently keeps the last of duplicate keys, and a plain object
// treats `__proto__` specially. Objects become Maps and a duplicate key anywhere is an error.

type Json = null | boolean | number | string | Json[] | Map<string, Json>;

const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const SPACE = /[ \t\n\r]*/y;

function parseJson(text: string, fail: (msg: string) => never): Json {
  let i = 0;
  const ws = () => {
    SPACE.lastIndex = i;
    SPACE.exec(text);
    i = SPACE.lastIndex;
  };
  const token = (re: RegExp, what: string): string => {
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) fail(`header is not valid JSON: expected ${what} at offset ${i}`);
    i = re.lastIndex;
    return m[0];
  };
  const value = (depth: number): Json => {
    if (depth > 64) fail('header is not valid JSON: nested too deeply');
    ws();
    const c = text[i];
    if (c === '"') return JSON.parse(token(STRING, 'a string')) as string;
    if (c === '{' || c === '[') {
      const obj = c === '{';
      const out: Map<string, Json> | Json[] = obj ? new Map() : [];
      i++;
      ws();
      if (text[i] === (obj ? '}' : ']')) return i++, out;
      for (;;) {
        ws();
        if (obj) {
          const key = JSON.parse(token(STRING, 'a key string')) as string;
          if ((out as Map<string, Json>).has(key)) fail(`header has duplicate key '${key}'`);
          ws();
          token(/:/y, "':'");
          (out as Map<string, Json>).set(key, value(depth + 1));
        } else (out as Json[]).push(value(depth + 1));
        ws();
        const sep = token(obj ? /[,}]/y : /[,\]]/y, obj ? "',' or '}'" : "',' or ']'");
        if (sep !== ',') return out;
      }
    }
    for (const [lit, v] of [['true', true], ['false', false], ['null', null]] as const)
      if (text.startsWith(lit, i)) return (i += lit.length), v;
    return Number(token(NUMBER, 'a value'));
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail(`header is not valid JSON: unexpected '${text[i]}' at offset ${i}`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Half-precision conversion (exact: every f16/bf16 value is representable in f32).

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** float32 → IEEE half bits, round to nearest even (as numpy/PyTorch `.half()`). */
export function f32ToF16(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: shift the mantissa (with its implicit 1) right, rounding to nearest even.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let r = mant >>> shift;
    if (rest > half || (rest === half && r & 1)) r++;
    return sign | r;
  }
  let r = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && r & 1)) r++;
  if (r === 0x400) (r = 0), e++;
  return e >= 31 ? sign | 0x7c00 : sign | (e << 10) | r;
}

function decode(dtype: Dtype, bytes: Uint8Array): Float32Array {
  const copy = new Uint8Array(bytes); // aligned, owned copy (little-endian hosts only, as Node's are)
  if (dtype === 'F32') return new Float32Array(copy.buffer, 0, copy.length / 4);
  const halves = new Uint16Array(copy.buffer, 0, copy.length / 2);
  const out = new Float32Array(halves.length);
  if (dtype === 'BF16') {
    const bits = new Uint32Array(out.buffer);
    for (let k = 0; k < halves.length; k++) bits[k] = halves[k]! << 16;
  } else for (let k = 0; k < halves.length; k++) out[k] = f16ToF32(halves[k]!);
  return out;
}

// ---------------------------------------------------------------------------------------------

const isUint = (v: Json | undefined): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Validate and decode safetensors bytes; `file` only names the source in errors. */
export function parseSafetensors(bytes: Uint8Array, file: string): Safetensors {
  const fail = (msg: string): never => {
    throw modelError(file, `invalid safetensors: ${msg}`);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLen = Number(n);
  if (8 + headerLen > bytes.length) fail(`header length ${headerLen} exceeds the file size ${bytes.length}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    return fail('header is not valid UTF-8');
  }
  const header = parseJson(text, fail);
  if (!(header instanceof Map)) return fail('header is not a JSON object');

  const metadata = new Map<string, string>();
  const meta = header.get('__metadata__');
  if (meta !== undefined) {
    if (!(meta instanceof Map)) fail('__metadata__ is not an object');
    for (const [k, v] of meta as Map<string, Json>) {
      if (typeof v !== 'string') fail(`__metadata__ '${k}' is not a string`);
      metadata.set(k, v as string);
    }
  }

  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const entries: { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of header) {
    if (name === '__metadata__') continue;
    const where = `tensor '${name}'`;
    if (!(info instanceof Map)) return fail(`${where} is not an object`);
    for (const k of info.keys())
      if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') fail(`${where} has unknown field '${k}'`);
    const dtype = info.get('dtype');
    if (typeof dtype !== 'string') return fail(`${where} dtype is missing or not a string`);
    if (!(dtype in DTYPE_SIZE)) fail(`unsupported dtype ${dtype} for ${where} (F32, F16, BF16 only)`);
    const shape = info.get('shape');
    if (!Array.isArray(shape) || !shape.every(isUint))
      return fail(`${where} shape is not an array of non-negative integers`);
    const offs = info.get('data_offsets');
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isUint))
      return fail(`${where} data_offsets is not two non-negative integers`);
    const [begin, end] = offs as [number, number];
    if (end < begin) fail(`${where} data_offsets [${begin}, ${end}] end before begin`);
    if (end > dataLen) fail(`${where} data_offsets [${begin}, ${end}] beyond the ${dataLen} data bytes`);
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const size = DTYPE_SIZE[dtype as Dtype];
    if (!Number.isSafeInteger(count * size) || count * size !== end - begin)
      fail(`${where} data_offsets span ${end - begin} bytes but shape [${shape}] × ${dtype} needs ${count * size}`);
    entries.push({ name, dtype: dtype as Dtype, shape: shape as number[], begin, end });
  }

  // Offsets must tile the data exactly: sorted by begin, each starts where the previous ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin !== pos)
      fail(`tensor '${e.name}' data_offsets begin ${e.begin} leaves a ${e.begin > pos ? 'gap' : 'overlap'} (expected ${pos})`);
    pos = e.end;
  }
  if (pos !== dataLen) fail(`${dataLen - pos} trailing bytes after the last tensor's data_offsets`);

  const tensors = new Map<string, Tensor>();
  for (const e of entries) {
    const data = decode(e.dtype, bytes.subarray(dataStart + e.begin, dataStart + e.end));
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

/** A tensor to write: float32 data, stored as F32 (default), F16 or BF16 (a {@link Tensor} fits). */
export interface TensorToWrite {
  readonly shape: readonly number[];
  readonly data: Float32Array;
  readonly dtype?: Dtype;
}

/** float32 → bfloat16 bits, round to nearest even (NaN stays NaN). */
function f32ToBf16(v: number): number {
  const x = new Uint32Array(new Float32Array([v]).buffer)[0]!;
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * Serialise tensors (in iteration order) and string metadata to safetensors bytes. The header is
 * space-padded to a multiple of 8 bytes, as the reference writer does, so the data stays aligned.
 */
export function writeSafetensors(
  tensors: Iterable<[string, TensorToWrite]>,
  metadata?: Iterable<[string, string]> | Record<string, string>,
): Uint8Array {
  const list = [...tensors];
  const parts: string[] = [];
  const meta = metadata === undefined ? [] : Symbol.iterator in metadata ? [...(metadata as Iterable<[string, string]>)] : Object.entries(metadata);
  if (meta.length) parts.push(`"__metadata__":{${meta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  let offset = 0;
  const blobs: Uint8Array[] = [];
  for (const [name, t] of list) {
    const dtype = t.dtype ?? 'F32';
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`writeSafetensors: '${name}' has ${t.data.length} values for shape [${t.shape}]`);
    let blob: Uint8Array;
    if (dtype !== 'F32') {
      const h = new Uint16Array(count);
      const enc = dtype === 'F16' ? f32ToF16 : f32ToBf16;
      for (let k = 0; k < count; k++) h[k] = enc(t.data[k]!);
      blob = new Uint8Array(h.buffer);
    } else blob = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    parts.push(`${JSON.stringify(name)}:{"dtype":"${dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + blob.length}]}`);
    offset += blob.length;
    blobs.push(blob);
  }
  let header = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(header.length / 8) * 8;
  if (padded !== header.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(header);
    header = p;
  }
  const out = new Uint8Array(8 + header.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  let at = 8 + header.length;
  for (const b of blobs) out.set(b, at), (at += b.length);
  return out;
}
