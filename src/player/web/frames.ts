/**
 * Decoded video frames (mediabunny VideoSamples, WebCodecs underneath) → the two layouts the
 * engine needs: planar float RGB for the model and packed 8-bit RGB for the scene-cut detector.
 * The browser converts YUV to RGB when it draws the frame into a canvas (its colour management,
 * rotation metadata applied), exactly once per frame.
 */
import type { VideoSample } from 'mediabunny';
import type { RgbFrame } from '../../temporal/scene-cut.ts';
import type { PlanarFrame } from './upscaler.ts';

/** One decoded frame in the layouts the pipeline uses. */
export interface FramePixels {
  readonly width: number;
  readonly height: number;
  /** Planar float RGB 0..1 for the model. */
  readonly planar: PlanarFrame;
  /** Packed 8-bit RGB for the scene-cut detector. */
  readonly packed: RgbFrame;
  /** The canvas holding the frame at its own size (source of the classically scaled view). */
  readonly canvas: OffscreenCanvas;
}

/** Converts samples through one reusable canvas. */
export class FrameReader {
  #canvas: OffscreenCanvas | undefined;
  #ctx: OffscreenCanvasRenderingContext2D | undefined;

  /** Draw the sample (rotation applied) and read its pixels. Does not close the sample. */
  read(sample: VideoSample): FramePixels {
    const w = sample.displayWidth;
    const h = sample.displayHeight;
    if (!this.#canvas || this.#canvas.width !== w || this.#canvas.height !== h) {
      this.#canvas = new OffscreenCanvas(w, h);
      // willReadFrequently: a CPU-backed canvas, so getImageData does not wait on a GPU readback.
      this.#ctx = this.#canvas.getContext('2d', { willReadFrequently: true, alpha: false })!;
    }
    const ctx = this.#ctx!;
    sample.drawWithFit(ctx, { fit: 'fill' });
    return fromRgba(ctx.getImageData(0, 0, w, h).data, w, h, this.#canvas);
  }
}

/** RGBA bytes → planar float and packed RGB, in one pass. */
export function fromRgba(rgba: Uint8ClampedArray, width: number, height: number, canvas: OffscreenCanvas): FramePixels {
  const n = width * height;
  const rgb = new Float32Array(3 * n);
  const packed = new Uint8Array(3 * n);
  const k = 1 / 255;
  for (let i = 0, p = 0, q = 0; i < n; i++, p += 4, q += 3) {
    const r = rgba[p]!;
    const g = rgba[p + 1]!;
    const b = rgba[p + 2]!;
    rgb[i] = r * k;
    rgb[n + i] = g * k;
    rgb[2 * n + i] = b * k;
    packed[q] = r;
    packed[q + 1] = g;
    packed[q + 2] = b;
  }
  return { width, height, planar: { width, height, rgb }, packed: { width, height, data: packed, bitDepth: 8 }, canvas };
}

/** Planar float RGB → RGBA bytes (rounded, clamped, NaN → 0), e.g. for ImageData or an encoder. */
export function rgbaFromPlanar(rgb: Float32Array, width: number, height: number): Uint8ClampedArray<ArrayBuffer> {
  const n = width * height;
  const out = new Uint8ClampedArray(4 * n);
  for (let i = 0, p = 0; i < n; i++, p += 4) {
    // Uint8ClampedArray rounds half to even and clamps; NaN becomes 0.
    out[p] = rgb[i]! * 255;
    out[p + 1] = rgb[n + i]! * 255;
    out[p + 2] = rgb[2 * n + i]! * 255;
    out[p + 3] = 255;
  }
  return out;
}
