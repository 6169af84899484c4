/**
 * Packed video frames ↔ the planar float layout the models use (R, G, B planes of width × height
 * in 0..1). The way back is `toInterleaved` in src/image/io.ts, whose output `createEncoder`'s
 * `write` takes as `data`.
 */
import type { RgbFrame } from '../temporal/scene-cut.ts';

/** Planar float RGB (0..1) of a packed 8- or 16-bit frame; fills `out` when given (length 3·w·h). */
export function framePlanes(frame: RgbFrame, out?: Float32Array): Float32Array {
  const n = frame.width * frame.height;
  const rgb = out ?? new Float32Array(3 * n);
  if (rgb.length !== 3 * n || frame.data.length !== 3 * n) throw new RangeError(`framePlanes: ${frame.width}×${frame.height} does not match the buffers`);
  // One loop per sample type keeps each monomorphic (a loop over Uint8Array | Uint16Array is
  // several times slower).
  if (frame.data instanceof Uint16Array) unpack(frame.data, rgb, n, 1 / 65535);
  else unpack(frame.data, rgb, n, 1 / 255);
  return rgb;
}

function unpack<T extends Uint8Array | Uint16Array>(d: T, rgb: Float32Array, n: number, k: number): void {
  const r = rgb.subarray(0, n);
  const g = rgb.subarray(n, 2 * n);
  const b = rgb.subarray(2 * n, 3 * n);
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    r[i] = d[p]! * k;
    g[i] = d[p + 1]! * k;
    b[i] = d[p + 2]! * k;
  }
}
