/** Packed video frames → planar float and back (through image/io's toInterleaved) are lossless. */
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
