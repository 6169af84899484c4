/** Packed video frames → planar float and back (through image/io's toInterleaved) are lossless; gbrp frames give the same planes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toInterleaved } from '../../src/image/io.ts';
import { framePlanes } from '../../src/video/frame.ts';

test('framePlanes: packed 8- and 16-bit RGB → planes in 0..1 → the same samples', () => {
  const width = 3;
  const height = 2;
  const d8 = Uint8Array.from({ length: 18 }, (_, i) => (i * 37) % 256);
  const p8 = framePlanes({ width, height, data: d8, bitDepth: 8 });
  assert.equal(p8[1], Math.fround(d8[3]! / 255)); // R of pixel 1
  assert.equal(p8[6 + 1], Math.fround(d8[4]! / 255)); // G of pixel 1
  assert.deepEqual(toInterleaved({ width, height, rgb: p8 }, 8), d8);
  const d16 = Uint16Array.from({ length: 18 }, (_, i) => (i * 4099) % 65536);
  assert.deepEqual(toInterleaved({ width, height, rgb: framePlanes({ width, height, data: d16, bitDepth: 16 }) }, 16), d16);
  assert.throws(() => framePlanes({ width: 4, height: 2, data: d8, bitDepth: 8 }), RangeError);
});

test('framePlanes: ffmpeg gbrp planes (G, B, R) give exactly the planes of the same samples packed', () => {
  const [width, height] = [5, 3];
  const n = width * height;
  for (const [bitDepth, make] of [
    [8, (k: number) => Uint8Array.from({ length: 3 * n }, (_, i) => (i * 37 + k) % 256)],
    [16, (k: number) => Uint16Array.from({ length: 3 * n }, (_, i) => (i * 4099 + k) % 65536)],
  ] as const) {
    const packed = make(3);
    const gbrp = packed.slice();
    for (let i = 0; i < n; i++) [gbrp[2 * n + i], gbrp[i], gbrp[n + i]] = [packed[3 * i]!, packed[3 * i + 1]!, packed[3 * i + 2]!];
    const want = framePlanes({ width, height, data: packed, bitDepth });
    assert.deepEqual(framePlanes({ width, height, data: gbrp, bitDepth, layout: 'gbrp' }), want, `${bitDepth}-bit`);
    const into = new Float32Array(3 * n);
    assert.equal(framePlanes({ width, height, data: gbrp, bitDepth, layout: 'gbrp' }, into), into);
    assert.throws(() => framePlanes({ width: 4, height, data: gbrp, bitDepth, layout: 'gbrp' }), RangeError);
  }
});
