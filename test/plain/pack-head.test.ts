/**
 * The graph's packing head (src/graph/pack-head.ts) against the JavaScript packer it stands in
 * for: the same bytes for every value that matters (out of range, NaN, ±Inf, the rounding
 * boundaries k/max ± an ulp), 8 and 16 bits, float32 and float16 outputs, and a finiteness flag
 * that is not finite exactly when some value was not; a head of one depth has only that output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { DataType, encodeModel, type ModelProto } from '../../src/graph/onnx-proto.ts';
import { FINITE, PACKED_16, PACKED_8, withPackedOutput } from '../../src/graph/pack-head.ts';
import { fromFloat16, toFloat16 } from '../../src/runtime/tensor.ts';
import { cropRows, packedFromPlanar } from '../../src/temporal/planes.ts';

/** input → Identity → output, [1, 3, H, W] of `elemType`, opset 17, plus a feature output. */
function identityModel(elemType: number): Uint8Array {
  const dims = [1, 3, 'h', 'w'];
  const m: ModelProto = {
    irVersion: 8,
    producerName: 'test',
    producerVersion: '0',
    opsetImports: [{ domain: '', version: 17 }],
    graph: {
      name: 'id',
      nodes: [
        { name: 'id', opType: 'Identity', inputs: ['input'], outputs: ['output'], attributes: [] },
        { name: 'id2', opType: 'Identity', inputs: ['input'], outputs: ['feature_map'], attributes: [] },
      ],
      initializers: [],
      inputs: [{ name: 'input', elemType, dims }],
      outputs: [
        { name: 'feature_map', elemType, dims },
        { name: 'output', elemType, dims },
      ],
    },
    metadata: [],
  };
  return encodeModel(m);
}

/** Values around every rounding boundary of both depths, out-of-range ones, and specials. */
function values(n: number, specials: boolean): Float32Array {
  const v = new Float32Array(n);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let i = 0; i < n; i++) {
    const max = i % 2 ? 255 : 65535;
    f32[0] = (((i * 7919) % (max + 1)) + 0.5) / max; // a half step, then an ulp either side
    u32[0] = u32[0]! + ((i % 3) - 1);
    v[i] = f32[0]!;
  }
  v.set([-0.25, 0, -0, 1, 1.5, 1 - 2 ** -24, 0.5 / 255, 0.5 / 65535], 0);
  if (specials) v.set([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], 8);
  return v;
}

for (const half of [false, true]) {
  test(`packing head (${half ? 'float16' : 'float32'} model): the same bytes as packedFromPlanar at 8 and 16 bits; NaN flagged`, async () => {
    const bytes = withPackedOutput(identityModel(half ? DataType.FLOAT16 : DataType.FLOAT));
    assert.ok(bytes, 'the head fits');
    const s = await ort.InferenceSession.create(bytes);
    try {
      assert.deepEqual(s.outputNames.slice().sort(), ['feature_map', 'output', FINITE, PACKED_16, PACKED_8].sort());
      const [H, W] = [24, 40];
      for (const specials of [false, true]) {
        const x = values(3 * H * W, specials);
        const input = half ? new ort.Tensor('float16', toFloat16(x), [1, 3, H, W]) : new ort.Tensor('float32', x, [1, 3, H, W]);
        const o = await s.run({ input });
        // What the model's own output holds, as float32 (fp16 rounds the values first).
        const planar = half ? fromFloat16(o.output!.data as Uint16Array) : (o.output!.data as Float32Array);
        assert.deepEqual(o[PACKED_8]!.dims, [1, H, W, 3]);
        assert.deepEqual(o[PACKED_8]!.data, packedFromPlanar(planar, W, H, 8));
        assert.deepEqual(o[PACKED_16]!.data, packedFromPlanar(planar, W, H, 16));
        const flag = (o[FINITE]!.data as Float32Array)[0]!;
        assert.equal(Number.isFinite(flag), !specials, `finiteness flag ${flag}`);
      }
    } finally {
      await s.release();
    }
  });
}

test('packing head of one depth: only that output, the same bytes; a lone +Inf is flagged too', async () => {
  for (const [depth, name, other] of [
    [8, PACKED_8, PACKED_16],
    [16, PACKED_16, PACKED_8],
  ] as const) {
    const s = await ort.InferenceSession.create(withPackedOutput(identityModel(DataType.FLOAT), [depth])!);
    try {
      assert.ok(s.outputNames.includes(name) && !s.outputNames.includes(other), `${depth}-bit head: ${s.outputNames.join(', ')}`);
      const [H, W] = [8, 12];
      const x = values(3 * H * W, false);
      const o = await s.run({ input: new ort.Tensor('float32', x, [1, 3, H, W]) });
      assert.deepEqual(o[name]!.data, packedFromPlanar(o.output!.data as Float32Array, W, H, depth));
      assert.ok(Number.isFinite((o[FINITE]!.data as Float32Array)[0]!));
      x[17] = Number.POSITIVE_INFINITY;
      const inf = await s.run({ input: new ort.Tensor('float32', x, [1, 3, H, W]) });
      assert.equal(Number.isFinite((inf[FINITE]!.data as Float32Array)[0]!), false);
    } finally {
      await s.release();
    }
  }
});

test('packing head: not for a model without a float image output or before opset 13', () => {
  const m = identityModel(DataType.FLOAT);
  assert.ok(withPackedOutput(m));
  const old = encodeModel({ irVersion: 6, producerName: 't', producerVersion: '0', opsetImports: [{ domain: '', version: 11 }], graph: { name: 'g', nodes: [], initializers: [], inputs: [], outputs: [{ name: 'output', elemType: DataType.FLOAT, dims: [1, 3, 2, 2] }] }, metadata: [] });
  assert.equal(withPackedOutput(old), undefined);
});

test('cropRows: the top-left part of packed rows', () => {
  const d = Uint8Array.from({ length: 3 * 4 * 5 }, (_, i) => i);
  assert.equal(cropRows(d, 4, 5, 4, 5), d);
  assert.deepEqual([...cropRows(d, 4, 5, 2, 5)], [...d.subarray(0, 30)]);
  assert.deepEqual([...cropRows(d, 4, 5, 2, 2)], [0, 1, 2, 3, 4, 5, 15, 16, 17, 18, 19, 20]);
});
