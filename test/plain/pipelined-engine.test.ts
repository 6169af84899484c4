/**
 * The frame engine's pipelined path (frames handed to the worker before the ones ahead of them
 * finish, the feature state kept in the worker) against its one-at-a-time path, and the worker's
 * carried-state chain itself: kept between runs, broken by a failure, handed back by take().
 * Runs on the bundled model, so it needs nothing from ../shared (the fp16 overflow case does).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ParagonError } from '../../src/errors.ts';
import { DEFAULT_MODEL, MODELS_DIR, resolveModel } from '../../src/runtime/model.ts';
import { ModelSession } from '../../src/runtime/session.ts';
import { float32Of } from '../../src/runtime/tensor.ts';
import type { WireTensor } from '../../src/runtime/protocol.ts';
import { openUpscaler } from '../../src/temporal/open.ts';
import { packedFromPlanar } from '../../src/temporal/planes.ts';
import type { PlanarFrame } from '../../src/temporal/upscaler.ts';
import { needShared, shared } from '../helpers/shared.ts';

const DEFAULT_FILE = path.join(MODELS_DIR, `${DEFAULT_MODEL}.safetensors`);
const skip = existsSync(DEFAULT_FILE) ? false : `needs the bundled ${DEFAULT_FILE}`;
const [H, W] = [40, 56];

/** A textured frame that moves by `k` pixels, with seeded noise of `sigma` (0..1 scale). */
function frame(k: number, sigma: number, seed: number): PlanarFrame {
  let s = seed * 7919 + 1;
  const rnd = () => ((s = (s * 48271) % 2147483647) / 2147483647) - 0.5;
  const rgb = new Float32Array(3 * H * W);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) rgb[c * H * W + y * W + x] = 0.45 + 0.3 * Math.sin((x + k + 5 * c) / 4) * Math.cos(y / 6) + sigma * 3.46 * rnd();
  return { width: W, height: H, rgb };
}

/** A clip: a still noisy shot (so 'auto' keeps history), a cut, then a moving clean shot. */
const clip = (): { f: PlanarFrame; cut: boolean }[] => [
  ...[0, 1, 2, 3].map((i) => ({ f: frame(0, 6 / 255, i), cut: false })),
  ...[0, 1, 2].map((i) => ({ f: frame(3 * i, 0, 10 + i), cut: i === 0 })),
];

for (const weight of [0.2, 'auto'] as const) {
  test(`pipelined frames (W ${weight}) equal one-at-a-time frames bit for bit, through a cut and a snapshot`, { skip }, async () => {
    // A tile as large as the frame forces the one-at-a-time path over the same single run per frame.
    await using slow = await openUpscaler(undefined, { mode: 'video', historyWeight: weight, device: 'cpu', tile: 4096 });
    await using fast = await openUpscaler(undefined, { mode: 'video', historyWeight: weight, device: 'cpu' });
    const frames = clip();
    const expected: PlanarFrame[] = [];
    for (const { f, cut } of frames) expected.push(await slow.process(f, { cut }));
    // All at once: every call returns before the frames ahead of it are done.
    const firstHalf = frames.slice(0, 3).map(({ f, cut }) => fast.process(f, { cut }));
    const got = await Promise.all(firstHalf);
    const snap = await fast.snapshot();
    got.push(...(await Promise.all(frames.slice(3).map(({ f, cut }) => fast.process({ ...f, rgb: f.rgb.slice() }, { cut, take: true })))));
    for (let i = 0; i < frames.length; i++) assert.deepEqual(got[i]!.rgb, expected[i]!.rgb, `frame ${i}`);
    assert.deepEqual([fast.stats.frames, fast.stats.resets], [slow.stats.frames, slow.stats.resets]);
    assert.equal(fast.stats.resets, 1, 'the cut');
    if (weight === 'auto') assert.ok(!got[1]!.rgb.every((v, i) => v === expected[0]!.rgb[i]), 'history reached the frames');
    // The snapshot taken between pipelined frames continues the clip exactly in another engine.
    assert.ok(snap.state && snap.state.length > 0, 'the state came back from the worker');
    await using resumed = await openUpscaler(undefined, { mode: 'video', historyWeight: weight, device: 'cpu' });
    resumed.restore(snap);
    const again = await resumed.process(frames[3]!.f, { cut: frames[3]!.cut });
    assert.deepEqual(again.rgb, expected[3]!.rgb, 'restored from a pipelined snapshot');
  });
}

test('processPacked with an 8-bit packing head: 8-bit frames packed by the graph (into a lent buffer when it fits), 16-bit ones by JavaScript, all as packing the float frames', { skip }, async () => {
  await using ref = await openUpscaler(undefined, { mode: 'video', historyWeight: 0.2, device: 'cpu' });
  await using head = await openUpscaler(undefined, { mode: 'video', historyWeight: 0.2, device: 'cpu', packedOutput: 8 });
  const frames = clip();
  // Lent buffers: of the packed frame's size (filled, the result a view of it), of another size
  // (not used), and none.
  const size = 3 * 4 * H * W;
  const lent = frames.map((_, i) => (i % 3 === 0 ? new ArrayBuffer(size) : i % 3 === 1 ? new ArrayBuffer(size + 3) : undefined));
  const got = await Promise.all(frames.map(({ f, cut }, i) => head.processPacked(f, i % 2 ? 16 : 8, { cut, ...(lent[i] ? { into: lent[i] } : {}) })));
  for (let i = 0; i < frames.length; i++) {
    const o = await ref.process(frames[i]!.f, { cut: frames[i]!.cut });
    assert.deepEqual(got[i]!.data, packedFromPlanar(o.rgb, o.width, o.height, i % 2 ? 16 : 8), `frame ${i}`);
    if (lent[i] && i % 2 === 0) assert.equal(lent[i]!.byteLength, 0, `frame ${i}: the lent buffer went to the worker`);
    // The 8-bit frames the graph packed went into the lent buffer when it had their size.
    if (i % 3 === 0 && i % 2 === 0) assert.equal(got[i]!.data.buffer.byteLength, size, `frame ${i}: written into the lent buffer`);
  }
});

test('reset() with frames still in flight: the next frame starts from no history all the same', { skip }, async () => {
  await using up = await openUpscaler(undefined, { mode: 'video', historyWeight: 0.5, device: 'cpu' });
  await using ref = await openUpscaler(undefined, { mode: 'video', historyWeight: 0.5, device: 'cpu' });
  const [a, b, c] = [frame(0, 0, 1), frame(2, 0, 2), frame(4, 0, 3)];
  const pending = [up.process(a), up.process(b)];
  up.reset();
  // The frames in flight finish first: they must not bring their state back.
  await Promise.all(pending);
  const got = await up.process(c);
  await ref.process(b);
  const fresh = await ref.process(c, { cut: true });
  const carried = await (async () => {
    await using o = await openUpscaler(undefined, { mode: 'video', historyWeight: 0.5, device: 'cpu' });
    await o.process(b);
    return o.process(c);
  })();
  assert.deepEqual(got.rgb, fresh.rgb);
  assert.notDeepEqual(got.rgb, carried.rgb, 'history would have changed the frame');
});

test('the worker keeps the state between carried runs; a failed run breaks the chain and take() gives back the state before it', { skip }, async () => {
  const m = await resolveModel(undefined, { mode: 'video' });
  await using s = await ModelSession.create(m.bytes, { device: 'cpu' });
  const C = m.info.channels!;
  const carry = { input: 'prev_feat', output: 'feature_map' };
  const x = (f: PlanarFrame, h = H, w = W) => ({ type: 'float32' as const, data: f.rgb.slice(), dims: [1, 3, h, w] });
  const a = (v: number) => ({ type: 'float32' as const, data: Float32Array.of(v), dims: [1, 1, 1, 1] });
  const zeros = { type: 'float32' as const, data: new Float32Array(C * H * W), dims: [1, C, H, W] };
  const [f1, f2] = [frame(0, 0, 1), frame(2, 0, 2)];
  const r1 = await s.runCarried({ input: x(f1), prev_feat: zeros, alpha: a(0) }, carry);
  assert.ok(r1.ok && !('feature_map' in r1.outputs), 'the kept output stays in the worker');
  assert.ok(r1.inputs?.input && r1.inputs.input.data.length === 3 * H * W, 'the input buffer comes back');
  const kept1 = await s.take(true);
  // Frame 2 with the carried state equals frame 2 fed that state explicitly.
  const viaCarry = await s.runCarried({ input: x(f2), alpha: a(0.5) }, carry);
  const explicit = await s.run({ input: x(f2), prev_feat: { ...kept1!, data: kept1!.data.slice() }, alpha: a(0.5) });
  assert.ok(viaCarry.ok);
  assert.deepEqual(float32Of(viaCarry.outputs.output! as WireTensor), float32Of(explicit.output!));
  const kept2 = await s.take(true);
  // A run that fails (wrong input size for the kept state) throws, and breaks the chain...
  const tiny = { width: 8, height: 8, rgb: new Float32Array(3 * 64) };
  await assert.rejects(s.runCarried({ input: x(tiny, 8, 8), alpha: a(0.5) }, carry), ParagonError);
  const after = await s.runCarried({ input: x(f2), alpha: a(0.5) }, carry);
  assert.ok(!after.ok && after.broken, 'no frame is fed a stale state after a failure');
  // ...while the state before it is still there to rerun from; a run that feeds the state mends the chain.
  const back = await s.take(false);
  assert.deepEqual(float32Of(back!), float32Of(kept2!));
  assert.equal(await s.take(true), undefined, 'take(false) moved it out');
  const mended = await s.runCarried({ input: x(f2), prev_feat: { ...back!, data: back!.data.slice() }, alpha: a(0.5) }, carry);
  assert.ok(mended.ok);
  assert.ok((await s.runCarried({ input: x(f1), alpha: a(0.5) }, carry)).ok, 'carried again');
});

test('NaN guard in video mode: a pipelined fp16 frame that overflows is rerun at fp32 from the state before it', { skip: needShared('golden') }, async () => {
  const weights = shared('golden', 'stream_x2.weights.safetensors');
  const io = (await import('../../src/weights/load.ts')).readSafetensors;
  const t = (await io(shared('golden', 'stream_x2.io.safetensors'))).tensors;
  const [, , h, w] = t.get('video.frame1.input')!.shape as number[];
  const f1 = { width: w!, height: h!, rgb: t.get('video.frame1.input')!.data };
  const f2 = { width: w!, height: h!, rgb: t.get('video.frame2.input')!.data };
  const hot = { ...f2, rgb: f2.rgb.map((v) => v * 10) };
  await using half = await openUpscaler(weights, { mode: 'video', fp16: true, historyWeight: 0.2, device: 'cpu' });
  // The same fp16 model one frame at a time (tile ≥ frame), and the fp32 model.
  await using slow = await openUpscaler(weights, { mode: 'video', fp16: true, historyWeight: 0.2, device: 'cpu', tile: 4096 });
  await using full = await openUpscaler(weights, { mode: 'video', historyWeight: 0.2, device: 'cpu' });
  const seq = [f1, hot, f2, f1];
  const got = await Promise.all(seq.map((f) => half.process(f)));
  const one: PlanarFrame[] = [];
  const ref: PlanarFrame[] = [];
  for (const f of seq) one.push(await slow.process(f));
  for (const f of seq) ref.push(await full.process(f));
  assert.equal(half.stats.nanReruns, 1, 'the overflowing frame, once');
  assert.equal(slow.stats.nanReruns, 1);
  for (let i = 0; i < seq.length; i++) {
    assert.ok(got[i]!.rgb.every(Number.isFinite), `frame ${i} finite`);
    assert.deepEqual(got[i]!.rgb, one[i]!.rgb, `frame ${i}: pipelined = one at a time`);
    // The fp16 run follows the fp32 clip (the overflowing frame reaches 2e5: compare relatively).
    let m = 0;
    let top = 0;
    for (let j = 0; j < ref[i]!.rgb.length; j++) {
      m = Math.max(m, Math.abs(got[i]!.rgb[j]! - ref[i]!.rgb[j]!));
      top = Math.max(top, Math.abs(ref[i]!.rgb[j]!));
    }
    assert.ok(m / top < 0.1, `frame ${i} follows the fp32 clip (max diff ${m} of ${top})`);
  }
});
