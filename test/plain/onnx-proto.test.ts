/**
 * Our ONNX protobuf encoder/decoder: round trips, agreement with an independent implementation
 * (the protobufjs-generated ONNX schema inside onnxruntime-web) in both directions, decoding of
 * our real models, signature classification, and malformed input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { ROOT, needShared, shared } from '../helpers/shared.ts';
import { buildOnnx, decodeModel, encodeModel, readOnnxInfo, GraphBuilder, DataType, type ModelProto } from '../../src/graph/index.ts';
import { loadCheckpoint } from '../../src/weights/index.ts';
import { META } from '../../src/weights/types.ts';
import { isParagonError } from '../../src/errors.ts';

const PBJS = path.join(ROOT, 'node_modules/onnxruntime-web/lib/onnxjs/ort-schema/protobuf/onnx.js');
const noPbjs = existsSync(PBJS) ? false : `needs ${PBJS} (protobufjs ONNX schema shipped with onnxruntime-web)`;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const pb = (): any => createRequire(import.meta.url)(PBJS).onnx;

const sample = (): ModelProto => ({
  irVersion: 8,
  producerName: 'test',
  producerVersion: '1.2.3',
  opsetImports: [{ domain: '', version: 17 }],
  metadata: [
    ['k', 'v'],
    ['unicode', 'α → β ✓'],
  ],
  graph: {
    name: 'g',
    inputs: [{ name: 'x', elemType: DataType.FLOAT, dims: ['N', 3, 'H', 'W'] }],
    outputs: [{ name: 'y', elemType: DataType.FLOAT16, dims: [1, 2] }],
    initializers: [
      { name: 'w', dataType: DataType.FLOAT, dims: [2, 3], raw: new Uint8Array(new Float32Array([1, -2, 3.5, 0, 1e-8, 7]).buffer) },
      { name: 'big', dataType: DataType.INT64, dims: [3_000_000_000], raw: new Uint8Array(0) },
    ],
    nodes: [
      {
        name: 'n0',
        opType: 'Slice',
        inputs: ['x', '', 'w'],
        outputs: ['y'],
        attributes: [
          { name: 'i', value: { type: 'int', i: -1 } },
          { name: 'f', value: { type: 'float', f: 0.25 } },
          { name: 's', value: { type: 'string', s: 'CRD' } },
          { name: 'is', value: { type: 'ints', ints: [0, -8, 9_007_199_254_740_991] } },
          { name: 'fs', value: { type: 'floats', floats: [1.5, -2] } },
          { name: 't', value: { type: 'tensor', t: { name: 'c', dataType: DataType.INT64, dims: [1], raw: new Uint8Array(8) } } },
        ],
      },
    ],
  },
});

test('encode → decode round trip keeps every field we write', () => {
  const m = sample();
  const back = decodeModel(encodeModel(m));
  assert.deepEqual(back, m);
});

test('our encoding decodes identically with protobufjs (independent implementation)', { skip: noPbjs }, () => {
  const m = pb().ModelProto.decode(encodeModel(sample()));
  assert.equal(Number(m.irVersion), 8);
  assert.equal(m.producerVersion, '1.2.3');
  assert.equal(Number(m.opsetImport[0].version), 17);
  assert.deepEqual(m.metadataProps.map((e: { key: string; value: string }) => [e.key, e.value]), sample().metadata);
  const dims = m.graph.input[0].type.tensorType.shape.dim.map((d: { dimParam?: string; dimValue?: unknown }) => d.dimParam || Number(d.dimValue));
  assert.deepEqual(dims, ['N', 3, 'H', 'W']);
  assert.deepEqual(m.graph.initializer[1].dims.map(Number), [3_000_000_000]);
  const attrs = m.graph.node[0].attribute;
  assert.equal(Number(attrs[0].i), -1);
  assert.equal(attrs[1].f, 0.25);
  assert.deepEqual(attrs[3].ints.map(Number), [0, -8, 9_007_199_254_740_991]);
  assert.equal(Buffer.from(attrs[2].s).toString(), 'CRD');
});

test('decoder reads a foreign (protobufjs-written) model with fields we never write', { skip: noPbjs }, () => {
  const onnx = pb();
  const vi = (name: string, dims: unknown[]) => ({
    name,
    docString: 'doc',
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  });
  const bytes = onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'pytorch',
    producerVersion: '2.5.0',
    docString: 'exported',
    opsetImport: [{ domain: 'ai.onnx.ml', version: 3 }, { domain: '', version: 18 }],
    graph: {
      name: 'main_graph',
      docString: 'graph doc',
      input: [vi('input', ['batch', 3, 'height', 'width']), vi('prev_feat', ['batch', 16, 'height', 'width'])],
      output: [vi('output', ['batch', 3, 'h2', 'w2']), vi('feature_map', ['batch', 16, 'height', 'width'])],
      valueInfo: [vi('/conv_in/Conv_output_0', ['batch', 16, 'height', 'width'])],
      initializer: [
        { name: 'conv.weight', dataType: 1, dims: [16, 3, 3, 3], floatData: Array.from({ length: 432 }, (_, i) => i / 432) },
        { name: 'ext', dataType: 1, dims: [4], dataLocation: 1, externalData: [{ key: 'location', value: 'm.onnx.data' }] },
        { name: 'shape', dataType: 7, dims: [2], int64Data: [1, -1] },
      ],
      node: [
        { name: '/If', opType: 'If', input: ['c'], output: ['o'], attribute: [{ name: 'then_branch', type: 5, g: { name: 'sub', node: [{ opType: 'Identity' }] } }] },
        { name: '/conv', opType: 'Conv', domain: '', input: ['input', 'conv.weight'], output: ['y'], docString: 'x' },
      ],
    },
    metadataProps: [{ key: 'arch', value: 'paragonsr2_realtime' }],
  }).finish();
  const info = readOnnxInfo(bytes, 'foreign.onnx');
  assert.equal(info.signature, 'python-video-baked');
  assert.equal(info.opset, 18);
  assert.equal(info.producer, 'pytorch 2.5.0');
  assert.deepEqual(info.inputs[0], { name: 'input', dtype: 'float32', dims: ['batch', 3, 'height', 'width'] });
  assert.deepEqual(info.outputs.map((o) => o.name), ['output', 'feature_map']);
  assert.equal(info.params, 432 + 4); // float initializers only, whatever their storage
  assert.equal(info.externalData, true);
  assert.equal(info.ops.get('If'), 1);
  assert.equal(info.metadata.get('arch'), 'paragonsr2_realtime');
  assert.match(info.explanation, /baked/);
});

test('decoding our real models: I/O, dims, metadata, params; ORT agrees on the I/O', { skip: needShared('golden') }, async () => {
  const ck = await loadCheckpoint(shared('golden', 'realtime_x2.weights.safetensors'));
  for (const video of [false, true]) {
    const bytes = buildOnnx(ck.arch, ck.stateDict, { video, upsamplerAlpha: 0.3, sha256: ck.sha256 });
    const info = readOnnxInfo(bytes, 'rt.onnx');
    assert.equal(info.signature, video ? 'paragon-video' : 'paragon-standard');
    assert.equal(info.opset, 17);
    assert.equal(info.variant, 'realtime');
    assert.equal(info.scale, 2);
    assert.equal(info.channels, 16);
    assert.equal(info.padMultiple, 1);
    assert.equal(info.upsamplerAlpha, 0.3);
    assert.equal(info.sha256, ck.sha256);
    assert.equal(info.metadata.get(META.mode), video ? 'video' : 'standard');
    assert.equal(info.params, ck.params, 'every parameter embedded once (alpha 0.3 uses the sharp filter too)');
    assert.deepEqual(info.inputs[0], { name: 'input', dtype: 'float32', dims: ['N', 3, 'H', 'W'] });
    assert.deepEqual(info.outputs[0], { name: 'output', dtype: 'float32', dims: ['N', 3, 'sH', 'sW'] });
    if (video) {
      assert.deepEqual(info.inputs.slice(1), [
        { name: 'prev_feat', dtype: 'float32', dims: ['N', 16, 'H', 'W'] },
        { name: 'alpha', dtype: 'float32', dims: ['alpha_N', 1, 'alpha_H', 'alpha_W'] },
      ]);
      assert.deepEqual(info.outputs[1], { name: 'feature_map', dtype: 'float32', dims: ['N', 16, 'H', 'W'] });
      assert.match(info.metadata.get(META.historyWeight)!, /\(1-alpha\)\*conv_in\(input\) \+ alpha\*prev_feat/);
    }
    const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2, logSeverityLevel: 3 });
    assert.deepEqual([...s.inputNames], info.inputs.map((i) => i.name));
    assert.deepEqual([...s.outputNames], info.outputs.map((o) => o.name));
    await s.release();
  }
  const half = readOnnxInfo(buildOnnx(ck.arch, ck.stateDict, { upsamplerAlpha: 0, fp16: true, static: [32, 48] }), 'h.onnx');
  assert.deepEqual(half.inputs[0], { name: 'input', dtype: 'float16', dims: [1, 3, 32, 48] });
  assert.deepEqual(half.outputs[0]!.dims, [1, 3, 64, 96]);
  assert.equal(half.precision, 'fp16');
});

test('Python export signatures are told apart and explained', () => {
  const tiny = (ins: string[], outs: string[]): Uint8Array => {
    const b = new GraphBuilder();
    for (const i of ins) b.input(i, DataType.FLOAT, ['N', 3, 'H', 'W']);
    for (const o of outs) b.output(o, ins[0]!, DataType.FLOAT, ['N', 3, 'H', 'W']);
    return b.encode([], 'x');
  };
  const std = readOnnxInfo(tiny(['input'], ['output']), 'a.onnx');
  assert.equal(std.signature, 'python-standard');
  const baked = readOnnxInfo(tiny(['input', 'prev_feat'], ['output', 'feature_map']), 'b.onnx');
  assert.equal(baked.signature, 'python-video-baked');
  assert.match(baked.explanation, /two runs/);
  const tap = readOnnxInfo(tiny(['input'], ['output', 'feature_map']), 'c.onnx');
  assert.equal(tap.signature, 'python-feature-tap');
  assert.match(tap.explanation, /can never change the image/);
  assert.equal(readOnnxInfo(tiny(['a', 'b', 'c'], ['d']), 'd.onnx').signature, 'unknown');
});

test('malformed bytes are a model error (exit 3) naming the file', () => {
  const good = encodeModel(sample());
  for (const bad of [good.subarray(0, good.length - 7), new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), new Uint8Array([0x08, 0x01]), new TextEncoder().encode('not onnx at all')]) {
    assert.throws(
      () => readOnnxInfo(bad, 'broken.onnx'),
      (e: unknown) => isParagonError(e, 'model') && /^broken\.onnx: /.test((e as Error).message) && !(e as Error).message.includes('\n'),
    );
  }
});
