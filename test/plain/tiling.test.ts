/**
 * Tiling: the geometry of the plan, reflect padding, and — on real weights and a real image —
 * that a tiled frame matches the untiled one (standard mode, and video mode where the feature
 * state is stitched from tiles too).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planTiles, halveTile, MIN_TILE } from '../../src/temporal/tiles.ts';
import { packedFromPlanar, planarFromPacked, reflectIndex, reflectPad } from '../../src/temporal/planes.ts';
import { openUpscaler } from '../../src/temporal/open.ts';
import { readImage, psnrY } from '../../src/image/index.ts';
import { GraphBuilder } from '../../src/graph/index.ts';
import { ModelSession } from '../../src/runtime/session.ts';
import { TemporalUpscaler } from '../../src/temporal/upscaler.ts';
import { needShared, shared } from '../helpers/shared.ts';

const OFFICIAL = (v: string) => shared('models', 'paragonsr2-v11', `2xParagonSR2_${v}_fidelity.safetensors`);

test('tile cores cover the frame exactly once; run regions are the cores grown by the overlap', () => {
  for (const [h, w, tile, overlap, align] of [
    [100, 173, 40, 8, 1],
    [64, 64, 64, 16, 1],
    [96, 160, 40, 20, 16],
    [48, 48, 0, 16, 16],
    [7, 300, 64, 10, 1],
  ] as const) {
    const tiles = planTiles(h, w, tile, overlap, align);
    const hits = new Uint8Array(h * w);
    const o = Math.ceil(overlap / align) * align;
    for (const { core, run } of tiles) {
      for (let y = core.y; y < core.y + core.h; y++) for (let x = core.x; x < core.x + core.w; x++) hits[y * w + x]!++;
      assert.equal(run.x, Math.max(0, core.x - o));
      assert.equal(run.y, Math.max(0, core.y - o));
      assert.equal(run.x + run.w, Math.min(w, core.x + core.w + o));
      assert.equal(run.y + run.h, Math.min(h, core.y + core.h + o));
      if (tile > 0) assert.ok(core.w <= Math.ceil(tile / align) * align && core.h <= Math.ceil(tile / align) * align);
      for (const v of [core.x, core.y, core.w, core.h, run.x, run.y, run.w, run.h]) assert.equal(v % align, 0, `aligned to ${align}`);
    }
    assert.ok(hits.every((n) => n === 1), `${w}x${h} tile ${tile}: every pixel in exactly one core`);
  }
  assert.equal(planTiles(100, 173, 40, 8).length, 3 * 5);
  assert.equal(planTiles(64, 64, 64, 16).length, 1);
  // Even split: 100 rows in tiles of ≤ 40 are 34 + 34 + 32, not 40 + 40 + 20.
  assert.deepEqual([...new Set(planTiles(100, 10, 40, 0).map((t) => t.core.h))], [34, 32]);
  assert.throws(() => planTiles(50, 48, 16, 0, 16), /multiple of 16/);
});

test('halving a tile on out-of-memory stops at the minimum', () => {
  assert.equal(halveTile(0, 300, 200), 150);
  assert.equal(halveTile(128, 300, 200), 64);
  assert.equal(halveTile(100, 300, 200, 16), 64);
  assert.equal(halveTile(MIN_TILE * 2, 300, 200), MIN_TILE);
  assert.equal(halveTile(MIN_TILE, 300, 200), 0);
});

test('reflect padding mirrors without repeating the edge, folding again past the size', () => {
  // NumPy: np.pad([0,1,2,3], (0,6), 'reflect') = [0,1,2,3,2,1,0,1,2,3]
  assert.deepEqual(Array.from({ length: 10 }, (_, i) => reflectIndex(i, 4)), [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]);
  assert.equal(reflectIndex(5, 1), 0);
  // 2 channels of 2×3, padded to 3×5.
  const src = Float32Array.from([1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60]);
  const out = reflectPad(src, 2, 2, 3, 3, 5);
  assert.deepEqual(Array.from(out), [
    1, 2, 3, 2, 1, 4, 5, 6, 5, 4, 1, 2, 3, 2, 1, 10, 20, 30, 20, 10, 40, 50, 60, 50, 40, 10, 20, 30, 20, 10,
  ]);
  assert.equal(reflectPad(src, 2, 2, 3, 2, 3), src, 'no copy when nothing to pad');
});

test('packed video samples ↔ planar floats round-trip at 8 and 16 bits; out-of-range and NaN clamp', () => {
  const p8 = Uint8Array.from({ length: 3 * 5 * 4 }, (_, i) => (i * 37) % 256);
  const f8 = planarFromPacked(p8, 5, 4);
  assert.equal(f8[1], Math.fround(p8[3]! / 255), 'R of pixel 1 is packed sample 3');
  assert.equal(f8[20], Math.fround(p8[1]! / 255), 'G plane starts after 20 R samples');
  assert.deepEqual(packedFromPlanar(f8, 5, 4, 8), p8);
  const p16 = Uint16Array.from({ length: 3 * 6 }, (_, i) => (i * 4099) % 65536);
  assert.deepEqual(packedFromPlanar(planarFromPacked(p16, 3, 2), 3, 2, 16), p16);
  assert.deepEqual([...packedFromPlanar(Float32Array.of(-0.5, 1.5, NaN), 1, 1, 8)], [0, 255, 0]);
});

test('tiled = untiled (≥ 50 dB) on Set5 with the official Realtime weights, standard mode', { skip: needShared('models', 'paragonsr2-v11') || needShared('images', 'set5') }, async () => {
  const img = await readImage(shared('images', 'set5', 'x2', 'baby.png'));
  const frame = { width: img.width, height: img.height, rgb: img.rgb };
  await using whole = await openUpscaler(OFFICIAL('Realtime'), { mode: 'standard', historyWeight: 0, device: 'cpu' });
  await using tiled = await openUpscaler(OFFICIAL('Realtime'), { mode: 'standard', historyWeight: 0, device: 'cpu', tile: 64 });
  const a = await whole.process(frame);
  const b = await tiled.process(frame);
  assert.equal(whole.stats.runs, 1);
  assert.equal(tiled.stats.runs, 16, '256×256 in 64-pixel tiles');
  assert.equal(b.width, 512);
  const db = psnrY(a, b);
  assert.ok(db >= 50, `tiled vs untiled ${db.toFixed(2)} dB`);
});

test('tiled = untiled (≥ 50 dB) in video mode with the official Stream weights: the stitched state carries', { skip: needShared('models', 'paragonsr2-v11') || needShared('images', 'set5') }, async () => {
  const f1 = await readImage(shared('images', 'set5', 'x2', 'woman.png'));
  // A second, different frame of the same size: the first one shifted by 3 pixels.
  const rgb2 = new Float32Array(f1.rgb.length);
  const n = f1.width * f1.height;
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < f1.height; y++)
      for (let x = 0; x < f1.width; x++) rgb2[c * n + y * f1.width + x] = f1.rgb[c * n + y * f1.width + Math.min(f1.width - 1, x + 3)]!;
  const frames = [{ width: f1.width, height: f1.height, rgb: f1.rgb }, { width: f1.width, height: f1.height, rgb: rgb2 }];
  await using whole = await openUpscaler(OFFICIAL('Stream'), { mode: 'video', historyWeight: 0.5, device: 'cpu' });
  await using tiled = await openUpscaler(OFFICIAL('Stream'), { mode: 'video', historyWeight: 0.5, device: 'cpu', tile: 48 });
  const outs: [unknown, unknown][] = [];
  for (const f of frames) outs.push([await whole.process(f), await tiled.process(f)]);
  assert.ok(tiled.stats.runs > 2 * 2, 'several tiles per frame');
  const [a2, b2] = outs[1] as [Parameters<typeof psnrY>[0], Parameters<typeof psnrY>[0]];
  const db = psnrY(a2, b2);
  assert.ok(db >= 50, `frame 2, tiled vs untiled ${db.toFixed(2)} dB`);
  // The state mattered: frame 2 differs from the same frame run without history.
  await using fresh = await openUpscaler(OFFICIAL('Stream'), { mode: 'video', historyWeight: 0, device: 'cpu' });
  const solo = await fresh.process(frames[1]!);
  assert.ok(psnrY(a2, solo) < 45, 'history changes frame 2');
});

/**
 * A 2x nearest-neighbour "model" that needs 400 GB of scratch memory for inputs taller than 100
 * rows, as a model with quadratic attention memory would on a large frame: ORT's allocator
 * really fails, and the frame must still complete through smaller tiles.
 */
function memoryHungryModel(): Uint8Array {
  const b = new GraphBuilder();
  const x = b.input('input', b.ft, ['N', 3, 'H', 'W']);
  const h = b.node('Gather', [b.shape(x), b.constI64([2])], { axis: 0 });
  const n = b.node('Where', [b.node('Greater', [h, b.constI64([100])]), b.constI64([100_000_000_000]), b.constI64([1])]);
  const scratch = b.reshape(b.reduceMean(b.node('ConstantOfShape', [n]), [0], 1), [1, 1, 1, 1]);
  b.output('output', b.add(b.resizeNearest(x, 2), b.mul(scratch, b.constF(0))), b.ft, ['N', 3, 'sH', 'sW']);
  return b.encode([], 'test');
}

test('out of memory: the tile is halved with a one-line notice and the frame completes', async () => {
  const notices: string[] = [];
  const session = await ModelSession.create(memoryHungryModel(), { device: 'cpu', label: 'hungry.onnx' });
  const info = { file: 'hungry.onnx', variant: undefined, scale: 2, channels: undefined, padMultiple: 1, signature: 'unknown', precision: 'fp32', historyWeight: undefined, sha256: undefined } as const;
  await using up = new TemporalUpscaler(session, info, { historyWeight: 0, overlap: 4, onNotice: (l) => notices.push(l) });
  const [h, w] = [150, 60];
  const rgb = Float32Array.from({ length: 3 * h * w }, (_, i) => (i % 97) / 97);
  const out = await up.process({ width: w, height: h, rgb });
  assert.deepEqual(notices, ['out of memory at full frame; retrying with tile 75']);
  assert.equal(up.stats.tile, 75);
  assert.deepEqual([out.width, out.height], [2 * w, 2 * h]);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < 2 * h; y++)
      for (let x = 0; x < 2 * w; x++)
        assert.equal(out.rgb[(c * 2 * h + y) * 2 * w + x], rgb[(c * h + (y >> 1)) * w + (x >> 1)]);
  // A frame that cannot fit at any tile size is a resources error (exit 6), not a hang.
  await using tiny = new TemporalUpscaler(await ModelSession.create(memoryHungryModel(), { device: 'cpu' }), info, { historyWeight: 0, overlap: 200 });
  await assert.rejects(tiny.process({ width: w, height: h, rgb }), (e: unknown) => e instanceof Error && (e as { code?: number }).code === 6 && /out of memory even with/.test(e.message));
});
