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
  const k = 1 / (frame.bitDepth === 16 ? 65535 : 255);
  const d = frame.data;
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    rgb[i] = d[p]! * k;
    rgb[n + i] = d[p + 1]! * k;
    rgb[2 * n + i] = d[p + 2]! * k;
  }
  return rgb;
}
