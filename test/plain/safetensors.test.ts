/**
 * The safetensors reader against a corpus of malformed files (one per rule of the format), exact
 * dtype decoding, Map-safe names, and a round trip through the writer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseSafetensors, writeSafetensors } from '../../src/weights/safetensors.ts';
import { readSafetensors } from '../../src/weights/load.ts';
import { ParagonError } from '../../src/errors.ts';

const FILE = 'corpus/model.safetensors';

/** Assemble a file from header text and data bytes, with an explicit (possibly wrong) length. */
function raw(header: string | Uint8Array, data: Uint8Array | number[] = [], headerLen?: bigint): Uint8Array {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLen ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);
const u16 = (...v: number[]) => new Uint8Array(new Uint16Array(v).buffer);
const T = (dtype: string, shape: unknown, offs: unknown) =>
  `{"dtype":${JSON.stringify(dtype)},"shape":${JSON.stringify(shape)},"data_offsets":${JSON.stringify(offs)}}`;

function rejects(bytes: Uint8Array, ...fragments: string[]): void {
  assert.throws(
    () => parseSafetensors(bytes, FILE),
    (e: unknown) => {
      assert.ok(e instanceof ParagonError, `not a ParagonError: ${e}`);
      assert.equal(e.code, 3);
      assert.ok(e.message.startsWith(`${FILE}: `), e.message);
      assert.ok(!e.message.includes('\n'), 'one line');
      for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
      return true;
    },
  );
}

test('malformed files: each violated rule is a model error naming the file and the field', () => {
  const ok = T('F32', [2], [0, 8]);
  rejects(new Uint8Array(5), 'too short', '8-byte header length');
  rejects(raw('{}', [], 100_000_001n), 'header length 100000001', 'limit');
  rejects(raw('{}', [], 2n ** 63n), 'header length', 'limit');
  rejects(raw('{}', [], 40n), 'header length 40 exceeds the file size');
  rejects(raw(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), 'not valid UTF-8');
  rejects(raw('{"x": '), 'not valid JSON');
  rejects(raw('{"x":1} trailing'), 'not valid JSON', 'unexpected');
  rejects(raw('[1,2]'), 'not a JSON object');
  rejects(raw(`{"a":${ok},"a":${ok}}`, f32(1, 2, 3, 4)), "duplicate key 'a'");
  rejects(raw(`{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32(1, 2)), "duplicate key 'dtype'");
  rejects(raw(`{"__metadata__":{"k":"v","k":"w"}}`), "duplicate key 'k'");
  rejects(raw(`{"__metadata__":[1]}`), '__metadata__ is not an object');
  rejects(raw(`{"__metadata__":{"scale":2}}`), "__metadata__ 'scale' is not a string");
  rejects(raw(`{"a":[0,8]}`, f32(1, 2)), "tensor 'a' is not an object");
  rejects(raw(`{"a":{"shape":[2],"data_offsets":[0,8]}}`, f32(1, 2)), "tensor 'a'", 'dtype');
  rejects(raw(`{"a":${T('F32', [2], [0, 8]).replace('}', ',"extra":1}')}}`, f32(1, 2)), "tensor 'a'", "unknown field 'extra'");
  rejects(raw(`{"x":${T('I64', [1], [0, 8])}}`, new Uint8Array(8)), "unsupported dtype I64 for tensor 'x'");
  rejects(raw(`{"a":${T('F32', 2, [0, 8])}}`, f32(1, 2)), "tensor 'a' shape");
  rejects(raw(`{"a":${T('F32', [-2], [0, 8])}}`, f32(1, 2)), "tensor 'a' shape");
  rejects(raw(`{"a":${T('F32', [1.5], [0, 8])}}`, f32(1, 2)), "tensor 'a' shape");
  rejects(raw(`{"a":{"dtype":"F32","shape":[9007199254740993],"data_offsets":[0,8]}}`, f32(1, 2)), "tensor 'a' shape");
  rejects(raw(`{"a":${T('F32', [2], [0])}}`, f32(1, 2)), "tensor 'a' data_offsets");
  rejects(raw(`{"a":${T('F32', [2], [0, '8'])}}`, f32(1, 2)), "tensor 'a' data_offsets");
  rejects(raw(`{"a":${T('F32', [0], [8, 4])}}`, f32(1, 2)), "tensor 'a' data_offsets [8, 4]", 'end before begin');
  rejects(raw(`{"a":${T('F32', [4], [0, 16])}}`, f32(1, 2)), "tensor 'a' data_offsets [0, 16]", 'beyond the 8 data bytes');
  rejects(raw(`{"a":${T('F32', [3], [0, 8])}}`, f32(1, 2)), "tensor 'a' data_offsets span 8 bytes", 'needs 12');
  rejects(raw(`{"a":${T('F16', [2], [0, 8])}}`, f32(1, 2)), "tensor 'a'", 'needs 4');
  rejects(raw(`{"a":${T('F32', [1], [4, 8])}}`, f32(1, 2)), "tensor 'a' data_offsets begin 4", 'gap');
  rejects(
    raw(`{"a":${T('F32', [2], [0, 8])},"b":${T('F32', [2], [4, 12])}}`, f32(1, 2, 3)),
    "tensor 'b' data_offsets begin 4",
    'overlap',
  );
  rejects(raw(`{"a":${T('F32', [1], [0, 4])}}`, f32(1, 2)), '4 trailing bytes');
});

test('missing file is a model error naming it', async () => {
  await assert.rejects(readSafetensors('/nonexistent/x.safetensors'), (e: unknown) => {
    assert.ok(e instanceof ParagonError && e.code === 3 && e.message.includes('/nonexistent/x.safetensors'));
    return true;
  });
});

test('F32, F16 and BF16 decode to exactly known float32 values, in any data order', () => {
  const half = u16(0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x3555, 0x0400);
  const bf = u16(0x3f80, 0xc040, 0x4049, 0x0001);
  const single = f32(0.1, -3.5e38, 1e-45);
  const data = new Uint8Array([...bf, ...half, ...single]); // stored out of header order
  const st = parseSafetensors(
    raw(
      `{"h":${T('F16', [2, 4], [8, 24])},"s":${T('F32', [3], [24, 36])},"b":${T('BF16', [4], [0, 8])},` +
        `"__metadata__":{"arch":"paragonsr2_realtime","scale":"2"}}`,
      data,
    ),
    FILE,
  );
  const h = st.tensors.get('h')!;
  assert.deepEqual(h.shape, [2, 4]);
  assert.equal(h.dtype, 'F16');
  assert.deepEqual([...h.data], [1, -2, 65504, 2 ** -24, -0, Infinity, 0.333251953125, 2 ** -14]);
  assert.ok(Object.is(h.data[4], -0));
  assert.deepEqual([...st.tensors.get('b')!.data], [1, -3, 3.140625, 2 ** -126 * 2 ** -7 * 1]);
  assert.deepEqual([...st.tensors.get('s')!.data], [...new Float32Array([0.1, -3.5e38, 1e-45])]);
  assert.deepEqual([...st.metadata], [['arch', 'paragonsr2_realtime'], ['scale', '2']]);
});

test('names such as __proto__ are ordinary names; empty and zero-size tensors are fine', () => {
  const st = parseSafetensors(
    raw(
      `{"__proto__":${T('F32', [1], [0, 4])},"constructor":${T('F32', [], [4, 8])},"e":${T('F32', [0, 3], [8, 8])},` +
        `"__metadata__":{"__proto__":"x"}}`,
      f32(7, 9),
    ),
    FILE,
  );
  assert.deepEqual([...st.tensors.keys()], ['__proto__', 'constructor', 'e']);
  assert.deepEqual([...st.tensors.get('__proto__')!.data], [7]);
  assert.deepEqual(st.tensors.get('constructor')!.shape, []);
  assert.equal(st.tensors.get('e')!.data.length, 0);
  assert.equal(st.metadata.get('__proto__'), 'x');
  assert.equal(parseSafetensors(raw('{}'), FILE).tensors.size, 0);
  assert.equal(parseSafetensors(raw('  { }  '), FILE).tensors.size, 0);
});

test('writer round trip: F32 exact, F16/BF16 round to nearest even, header 8-byte aligned', async () => {
  const a = new Float32Array([0.1, -2.5, 3e-8, 1e30]);
  const b = new Float32Array([1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000, -(2 ** -25) * 3, 0.1]);
  const bytes = writeSafetensors(
    [
      ['conv.weight', { shape: [2, 2], data: a }],
      ['__proto__', { shape: [6], data: b, dtype: 'F16' }],
      ['bf', { shape: [3], data: new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8, -3.140625]), dtype: 'BF16' }],
    ],
    { note: 'héllo "quoted"' },
  );
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLen % 8, 0);
  const dir = await mkdtemp(path.join(tmpdir(), 'paragon-st-'));
  try {
    const file = path.join(dir, 'rt.safetensors');
    await writeFile(file, bytes);
    const st = await readSafetensors(file);
    assert.deepEqual([...st.tensors.get('conv.weight')!.data], [...a]);
    assert.deepEqual(st.tensors.get('conv.weight')!.shape, [2, 2]);
    const h = st.tensors.get('__proto__')!;
    assert.equal(h.dtype, 'F16');
    // Hand-computed halves: ties go to the even mantissa; 70000 overflows to Inf; 0.1 → 0x2e66.
    assert.deepEqual([...h.data], [1, 1, 1 + 2 ** -9, Infinity, -(2 ** -23), 0.0999755859375]);
    // bfloat16 keeps 7 mantissa bits: the same ties-to-even rule one ulp (2^-7) coarser.
    assert.deepEqual([...st.tensors.get('bf')!.data], [1, 1 + 2 ** -6, -3.140625]);
    assert.equal(st.metadata.get('note'), 'héllo "quoted"');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
