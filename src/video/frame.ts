/**
 * Decoded video frames (packed, or ffmpeg's planar gbrp) → the planar float layout the models use
 * (R, G, B planes of width × height in 0..1). The way back is `packedFromPlanar` in src/temporal/planes.ts, whose output
 * `createEncoder`'s `write` takes as `data`.
 */
import type { RgbFrame } from '../temporal/scene-cut.ts';
import { planarFromGbrp, planarFromPacked } from '../temporal/planes.ts';

/** Planar float RGB (0..1) of an 8- or 16-bit frame of either layout; fills `out` when given (length 3·w·h). */
export const framePlanes = (frame: RgbFrame, out?: Float32Array): Float32Array =>
  (frame.layout === 'gbrp' ? planarFromGbrp : planarFromPacked)(frame.data, frame.width, frame.height, out);
