/**
 * The temporal orchestrator on the golden reference fixtures: state carried between frames,
 * exact resets on cuts and size changes, the exact reset of a baked-alpha (Python-style) export,
 * fp32 reruns of frames an fp16 model overflows on, and photo padding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadCheckpoint } from '../../src/weights/load.ts';
import { readSafetensors } from '../../src/weights/load.ts';
import { buildOnnx, decodeModel, encodeModel } from '../../src/graph/index.ts';
import { ModelSession } from '../../src/runtime/session.ts';
import { openUpscaler } from '../../src/temporal/open.ts';
import { needShared, shared } from '../helpers/shared.ts';

const skip = needShared('golden');
const golden = (name: string) => shared('golden', `${name}.weights.safetensors`);
const maxDiff = (a: Float32Array, b: Float32Array): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

async function fixture(name: string) {
  const io = (await readSafetensors(shared('golden', `${name}.io.safetensors`))).tensors;
  const t = (k: string) => io.get(k)!;
  const [, , h, w] = t('input').shape as number[];
  return { h: h!, w: w!, t: (k: string) => t(k).data };
}

/** A session on the checkpoint's own video graph, driven by hand (no orchestrator). */
async function directVideo(name: string) {
  const ck = await loadCheckpoint(golden(name));
  const s = await ModelSession.create(buildOnnx(ck.arch, ck.stateDict, { video: true, upsamplerAlpha: ck.upsamplerAlpha }), { device: 'cpu' });
  const C = ck.arch.channels;
  const run = async (x: Float32Array, h: number, w: number, alpha: number, prev?: Float32Array) => {
    const r = await s.run({
      input: { type: 'float32', data: x.slice(), dims: [1, 3, h, w] },
      prev_feat: { type: 'float32', data: prev ? prev.slice() : new Float32Array(C * h * w), dims: [1, C, h, w] },
      alpha: { type: 'float32', data: Float32Array.of(alpha), dims: [1, 1, 1, 1] },
    });
    return { out: r.output!.data as Float32Array, feat: r.feature_map!.data as Float32Array };
  };
  return { s, run, ck };
}

/** The top-left h × w crop of a 3-plane frame. */
function cropFrame(rgb: Float32Array, H: number, W: number, h: number, w: number): Float32Array {
  const out = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) out.set(rgb.subarray(c * H * W + y * W, c * H * W + y * W + w), c * h * w + y * w);
  return out;
}

test('feature state carries: frame 2 equals the reference and a direct 2-frame run with alpha W', { skip }, async () => {
  const { h, w, t } = await fixture('realtime_x2');
  const d = await directVideo('realtime_x2');
  await using up = await openUpscaler(golden('realtime_x2'), { mode: 'video', historyWeight: 0.2, device: 'cpu' });
  const o1 = await up.process({ width: w, height: h, rgb: t('video.frame1.input') });
  const o2 = await up.process({ width: w, height: h, rgb: t('video.frame2.input') });
  assert.equal(o2.width, 2 * w);
  assert.ok(maxDiff(o1.rgb, t('video.frame1.output')) < 1e-4);
  assert.ok(maxDiff(o2.rgb, t('video.frame2.output')) < 1e-4, 'frame 2 = PyTorch reference with prev_feat and alpha 0.2');
  const r1 = await d.run(t('video.frame1.input'), h, w, 0);
  const r2 = await d.run(t('video.frame2.input'), h, w, 0.2, r1.feat);
  assert.ok(maxDiff(o2.rgb, r2.out) < 1e-6);
  const solo = await d.run(t('video.frame2.input'), h, w, 0);
  assert.ok(maxDiff(o2.rgb, solo.out) > 1e-3, 'the history changed frame 2');
  assert.equal(up.stats.resets, 0);
  await d.s.close();
});

test('a cut and a size change reset exactly to the no-history output; state resumes after', { skip }, async () => {
  const { h, w, t } = await fixture('realtime_x2');
  const d = await directVideo('realtime_x2');
  await using up = await openUpscaler(golden('realtime_x2'), { mode: 'video', historyWeight: 0.2, device: 'cpu' });
  const f1 = t('video.frame1.input');
  const f2 = t('video.frame2.input');
  await up.process({ width: w, height: h, rgb: f1 });
  const cut = await up.process({ width: w, height: h, rgb: f2 }, { cut: true });
  const fresh2 = await d.run(f2, h, w, 0);
  assert.ok(maxDiff(cut.rgb, fresh2.out) < 1e-6, 'cut frame = alpha 0 run');
  // Size change (16×32 crop): no blending with the old-size state.
  const [sh, sw] = [16, 32];
  const small = cropFrame(f1, h, w, sh, sw);
  const o3 = await up.process({ width: sw, height: sh, rgb: small });
  const fresh3 = await d.run(small, sh, sw, 0);
  assert.equal(o3.width, 2 * sw);
  assert.ok(maxDiff(o3.rgb, fresh3.out) < 1e-6, 'size change = alpha 0 run');
  assert.equal(up.stats.resets, 2);
  // The next same-size frame blends with the state of the crop again.
  const small2 = cropFrame(f2, h, w, sh, sw);
  const o4 = await up.process({ width: sw, height: sh, rgb: small2 });
  const carried = await d.run(small2, sh, sw, 0.2, fresh3.feat);
  assert.ok(maxDiff(o4.rgb, carried.out) < 1e-6);
  assert.equal(up.stats.resets, 2);
  await d.s.close();
});

test('baked-alpha export (Python style): the two-run reset equals the alpha = 0 result', { skip }, async () => {
  const { h, w, t } = await fixture('realtime_x2');
  const d = await directVideo('realtime_x2');
  // Bake alpha = 0.3 into our video graph the way the Python export does: alpha becomes a
  // constant, our metadata goes (a Python file has none) except the stated history weight.
  const m = decodeModel(buildOnnx(d.ck.arch, d.ck.stateDict, { video: true, upsamplerAlpha: d.ck.upsamplerAlpha }));
  m.graph.inputs = m.graph.inputs.filter((v) => v.name !== 'alpha');
  m.graph.initializers.push({ name: 'alpha', dataType: 1, dims: [1, 1, 1, 1], raw: new Uint8Array(Float32Array.of(0.3).buffer) });
  m.metadata = [['history_weight', '0.3']];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'paragon-baked-'));
  const file = path.join(dir, 'baked.onnx');
  await writeFile(file, encodeModel(m));
  try {
    await using up = await openUpscaler(file, { historyWeight: 0.3, device: 'cpu' });
    assert.equal(up.info.signature, 'python-video-baked');
    assert.equal(up.info.scale, 2, 'scale learned by the probe run');
    assert.equal(up.historyWeight, 0.3);
    const runsBefore = up.stats.runs;
    const o1 = await up.process({ width: w, height: h, rgb: t('video.frame1.input') });
    assert.equal(up.stats.runs - runsBefore, 2, 'a reset through a baked alpha takes two runs');
    const ref1 = await d.run(t('video.frame1.input'), h, w, 0);
    assert.ok(maxDiff(o1.rgb, ref1.out) <= 1e-4, `frame 1 vs alpha 0: ${maxDiff(o1.rgb, ref1.out)}`);
    const o2 = await up.process({ width: w, height: h, rgb: t('video.frame2.input') });
    const ref2 = await d.run(t('video.frame2.input'), h, w, 0.3, ref1.feat);
    assert.ok(maxDiff(o2.rgb, ref2.out) <= 1e-4, 'frame 2 carries the exact conv_in state');
    // What the Python scripts do on a reset (blend zeros) is measurably different.
    const naive = await d.run(t('video.frame1.input'), h, w, 0.3);
    assert.ok(maxDiff(naive.out, ref1.out) > 1e-3);
    await d.s.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('feature-tap export (features out, no history in): one notice, frames run on their own', { skip }, async () => {
  const { h, w, t } = await fixture('realtime_x2');
  const d = await directVideo('realtime_x2');
  // The Python "feature tap": the standard graph with conv_in's output exported as a second output.
  const m = decodeModel(buildOnnx(d.ck.arch, d.ck.stateDict, { upsamplerAlpha: d.ck.upsamplerAlpha }));
  const convIn = m.graph.nodes.find((n) => n.opType === 'Conv' && n.inputs.includes('conv_in.weight'));
  assert.ok(convIn, 'conv_in node');
  m.graph.nodes.push({ name: 'tap', opType: 'Identity', inputs: [convIn.outputs[0]!], outputs: ['feature_map'], attributes: [] });
  m.graph.outputs.push({ name: 'feature_map', elemType: 1, dims: ['N', 16, 'H', 'W'] });
  m.metadata = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'paragon-tap-'));
  const file = path.join(dir, 'tap.onnx');
  await writeFile(file, encodeModel(m));
  try {
    const notices: string[] = [];
    await using up = await openUpscaler(file, { historyWeight: 0.2, device: 'cpu', onNotice: (l) => notices.push(l) });
    assert.equal(up.info.signature, 'python-feature-tap');
    assert.equal(up.historyWeight, 0);
    await up.process({ width: w, height: h, rgb: t('video.frame1.input') });
    const o2 = await up.process({ width: w, height: h, rgb: t('video.frame2.input') });
    assert.equal(notices.length, 1);
    assert.match(notices[0]!, /tap\.onnx: .*cannot reach the image/);
    const solo = await d.run(t('video.frame2.input'), h, w, 0);
    assert.ok(maxDiff(o2.rgb, solo.out) < 1e-5, 'frame 2 = no-history output');
    await d.s.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('NaN guard: tiles an fp16 model overflows on are rerun at fp32', { skip }, async () => {
  const { h, w, t } = await fixture('stream_x2');
  // The golden Stream weights have large LayerScale gammas; an over-range frame (values to 10,
  // as from a linear-light HDR source) drives the fp16 graph past 65504.
  const hot = t('input').map((v) => v * 10);
  await using half = await openUpscaler(golden('stream_x2'), { mode: 'standard', fp16: true, historyWeight: 0, device: 'cpu' });
  await using full = await openUpscaler(golden('stream_x2'), { mode: 'standard', historyWeight: 0, device: 'cpu' });
  assert.equal(half.info.precision, 'fp16');
  const normal = await half.process({ width: w, height: h, rgb: t('input') });
  assert.equal(half.stats.nanReruns, 0, 'in-range frame runs at fp16');
  assert.ok(maxDiff(normal.rgb, t('output')) < 2e-2, 'fp16 close to the reference');
  const out = await half.process({ width: w, height: h, rgb: hot });
  assert.equal(half.stats.nanReruns, 1);
  assert.ok(out.rgb.every(Number.isFinite));
  const ref = await full.process({ width: w, height: h, rgb: hot });
  assert.ok(maxDiff(out.rgb, ref.rgb) < 1e-3, 'the rerun is the fp32 result');
});

test('photo: input reflect-padded to a multiple of 16 and cropped back', { skip }, async () => {
  const { h, w, t } = await fixture('photo_x2');
  assert.ok(h % 16 !== 0 && w % 16 !== 0, 'fixture size is not a multiple of 16');
  const x = t('input');
  // Manual pad (bottom/right, mirror without repeating the edge), run, crop.
  const [H, W] = [Math.ceil(h / 16) * 16, Math.ceil(w / 16) * 16];
  const mirror = (i: number, n: number) => (i < n ? i : 2 * (n - 1) - i);
  const padded = new Float32Array(3 * H * W);
  for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) padded[c * H * W + y * W + xx] = x[c * h * w + mirror(y, h) * w + mirror(xx, w)]!;
  const ck = await loadCheckpoint(golden('photo_x2'));
  await using s = await ModelSession.create(buildOnnx(ck.arch, ck.stateDict, { upsamplerAlpha: ck.upsamplerAlpha }), { device: 'cpu' });
  const full = (await s.run({ input: { type: 'float32', data: padded, dims: [1, 3, H, W] } })).output!.data as Float32Array;
  const expected = cropFrame(full, 2 * H, 2 * W, 2 * h, 2 * w);
  await using up = await openUpscaler(golden('photo_x2'), { mode: 'standard', historyWeight: 0, device: 'cpu' });
  assert.equal(up.info.padMultiple, 16);
  const out = await up.process({ width: w, height: h, rgb: x });
  assert.deepEqual([out.width, out.height], [2 * w, 2 * h]);
  assert.ok(maxDiff(out.rgb, expected) < 1e-5);
  // Padding changes the result near the edges (windows see mirrored content, not zeros).
  assert.ok(maxDiff(out.rgb, t('output')) > 1e-3);
});
