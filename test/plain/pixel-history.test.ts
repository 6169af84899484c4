/**
 * The pixel history of `--temporal auto`: the graph head (graph/pixel-history.ts) that blends the
 * frame with the last one the model saw, moved by the warp head, against the CPU twin the browser
 * player runs (temporal/pixel-history.ts); the model otherwise unchanged; and what the frame engine
 * drives with it (a video graph whose state is 3 channels of pixels). Bundled model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { gaussianNoise } from '../../src/eval/degrade.ts';
import { resolveModel } from '../../src/runtime/model.ts';
import { fromFloat16, toFloat16 } from '../../src/runtime/tensor.ts';
import { withPixelHistory, PIXEL_ALPHA, PIXEL_OUT, PIXEL_PREV } from '../../src/graph/pixel-history.ts';
import { withWarpHead } from '../../src/graph/warp-head.ts';
import { PixelHistory } from '../../src/temporal/pixel-history.ts';
import { NO_SHIFT, type Shift } from '../../src/temporal/motion.ts';
import { warpHeadFeeds } from '../../src/temporal/warp.ts';
import { rolesOf } from '../../src/temporal/roles.ts';
import { openUpscaler } from '../../src/temporal/open.ts';

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

test('withPixelHistory: a single-image graph gets prev_history and alpha in, history out, and is driven as a video graph of 3 channels; graphs with a history are left alone', async () => {
  const std = await resolveModel(undefined, { mode: 'standard' });
  const bytes = withPixelHistory(std.bytes);
  assert.ok(bytes);
  const s = await ort.InferenceSession.create(bytes);
  try {
    assert.deepEqual([...s.inputNames].sort(), ['alpha', 'input', 'prev_history']);
    assert.deepEqual([...s.outputNames].sort(), ['history', 'output']);
    const meta = (m: readonly ort.InferenceSession.ValueMetadata[]) => m.map((v) => ({ name: v.name, type: v.isTensor ? v.type : 'unknown', shape: v.isTensor ? [...v.shape] : [] }));
    const roles = rolesOf('bundled', meta(s.inputMetadata), meta(s.outputMetadata));
    assert.deepEqual([roles.mode, roles.prev, roles.alpha, roles.feature], ['video', PIXEL_PREV, PIXEL_ALPHA, PIXEL_OUT]);
  } finally {
    await s.release();
  }
  assert.equal(withPixelHistory((await resolveModel(undefined, { mode: 'video' })).bytes), undefined, 'a video graph keeps its own history');
  assert.equal(withPixelHistory(bytes), undefined, 'no second head');
});

test('pixel history: the graph (with the warp head, fp32 and fp16) blends as the CPU twin does, and the model sees the blended frame', async () => {
  const [H, W] = [20, 28];
  const n = H * W;
  // Frames in 0..1, as decoded; the warp's overshoot is what gets clamped.
  const unit = (v: number) => Math.min(1, Math.max(0, 0.5 + v));
  const x = Float32Array.from(gaussianNoise(3 * n, 0.25, 1, 0), unit);
  const prev = Float32Array.from(gaussianNoise(3 * n, 0.25, 2, 0), unit);
  const map = Float32Array.from({ length: n }, (_, i) => ((i * 7) % 9) / 10);
  for (const fp16 of [false, true]) {
    const std = await resolveModel(undefined, { mode: 'standard', fp16 });
    const bytes = withWarpHead(withPixelHistory(std.bytes)!);
    assert.ok(bytes, 'the warp head fits the pixel history');
    const [plain, head] = [await ort.InferenceSession.create(std.bytes), await ort.InferenceSession.create(bytes)];
    const type = fp16 ? 'float16' : 'float32';
    const img = (a: Float32Array) => (fp16 ? new ort.Tensor('float16', toFloat16(a), [1, 3, H, W]) : new ort.Tensor('float32', a, [1, 3, H, W]));
    const f32 = (t: ort.Tensor) => (t.type === 'float16' ? fromFloat16(t.data as Uint16Array) : (t.data as Float32Array));
    try {
      for (const [s, alpha] of [
        [{ dx: 0.3, dy: -0.7 }, map],
        [{ dx: -2.6, dy: 1.1, soft: 1 }, map],
        [NO_SHIFT, 0.6],
        [{ dx: 1.4, dy: 0.2 }, 0],
      ] as [Shift, Float32Array | number][]) {
        const r = await head.run({
          input: img(x),
          [PIXEL_PREV]: new ort.Tensor('float32', prev, [1, 3, H, W]),
          [PIXEL_ALPHA]: typeof alpha === 'number' ? new ort.Tensor('float32', Float32Array.of(alpha), [1, 1, 1, 1]) : new ort.Tensor('float32', map, [1, 1, H, W]),
          ...Object.fromEntries(Object.entries(warpHeadFeeds(3, H, W, s)).map(([k, v]) => [k, new ort.Tensor(v.type, v.data as Float32Array, [...v.dims])])),
        });
        // The CPU twin, its history set to `prev` by a frame without any.
        const twin = new PixelHistory();
        twin.next(prev, H, W, 0, NO_SHIFT);
        const want = twin.next(x, H, W, alpha, s);
        // The fp16 model's frame enters as float16; the blend itself is float32 in both graphs.
        const xq = fp16 ? fromFloat16(toFloat16(x)) : x;
        const wantQ = fp16 ? (() => { const t = new PixelHistory(); t.next(prev, H, W, 0, NO_SHIFT); return t.next(xq, H, W, alpha, s); })() : want;
        const got = r[PIXEL_OUT]!.data as Float32Array;
        assert.equal(r[PIXEL_OUT]!.type, 'float32', 'the history is float32 whatever the model');
        assert.ok(maxDiff(got, wantQ) <= 1e-6, `${type} ${JSON.stringify(s)} α ${typeof alpha}: graph vs CPU ${maxDiff(got, wantQ)}`);
        if (alpha === 0) assert.deepEqual(got, xq, 'weight 0 gives the frame itself');
        else assert.ok(maxDiff(got, xq) > 0.05, 'the history changed the frame');
        assert.ok(got.every((v) => v >= 0 && v <= 1), 'clamped to 0..1');
        // The model sees the blended frame: the plain model on it gives the same picture.
        const o = f32((await plain.run({ input: img(got) })).output!);
        assert.ok(maxDiff(f32(r.output!), o) <= (fp16 ? 2e-3 : 1e-6), `${type}: output ${maxDiff(f32(r.output!), o)}`);
        assert.equal(r.output!.type, type);
      }
    } finally {
      await plain.release();
      await head.release();
    }
  }
});

test('frame engine with auto: the state it carries is the pixels the model saw (3 channels), and a clean frame passes unchanged', async () => {
  await using up = await openUpscaler(undefined, { historyWeight: 'auto', device: 'cpu' });
  assert.equal(up.roles.prev, PIXEL_PREV);
  const [h, w] = [48, 64];
  const frame = { width: w, height: h, rgb: Float32Array.from({ length: 3 * h * w }, (_, i) => 0.3 + 0.4 * Math.sin(i / 11) ** 2) };
  await using std = await openUpscaler(undefined, { historyWeight: 0, device: 'cpu' });
  // Clean: the estimator keeps no history; every frame is the standard model's.
  for (let k = 0; k < 4; k++) assert.deepEqual((await up.process(frame)).rgb, (await std.process(frame)).rgb, `frame ${k}`);
  const snap = await up.snapshot();
  const pm = up.info.padMultiple;
  const pad = (v: number) => Math.ceil(v / pm) * pm;
  assert.equal(snap.state?.length, 3 * pad(h) * pad(w), 'three channels of the padded frame');
});
