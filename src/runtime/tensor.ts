/**
 * Tensor helpers the runtime needs around a session: float16 packing (Node 20 has no
 * Float16Array; ORT takes half-precision tensors as Uint16Array bits) and a finite check.
 */
import type { WireTensor, WireType } from './protocol.ts';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE half bits, round to nearest even; overflow → ±Inf, NaN stays NaN. */
export function toFloat16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    f32[0] = src[i]!;
    const x = u32[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
    } else if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      // Subnormal half: shift the mantissa (with its implicit 1) into place, rounding to even.
      mant |= 0x800000;
      const shift = 14 - e;
      const half = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const mid = 1 << (shift - 1);
      out[i] = sign | (half + (rem > mid || (rem === mid && half & 1) ? 1 : 0));
    } else {
      const half = (e << 10) | (mant >>> 13);
      const rem = mant & 0x1fff;
      // A carry out of the mantissa correctly bumps the exponent (up to Inf).
      out[i] = sign | (half + (rem > 0x1000 || (rem === 0x1000 && half & 1) ? 1 : 0));
    }
  }
  return out;
}

/** IEEE half bits → float32. */
export function fromFloat16(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    out[i] =
      exp === 0 ? sign * mant * 2 ** -24 : exp === 0x1f ? (mant ? NaN : sign * Infinity) : sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** A float32 array as a wire tensor of the element type a model input wants. */
export function wire(data: Float32Array, dims: readonly number[], type: WireType = 'float32'): WireTensor {
  return { type, data: type === 'float16' ? toFloat16(data) : data, dims };
}

/** A wire tensor's data as float32 (a view when it already is). */
export function float32Of(t: WireTensor): Float32Array {
  return t.data instanceof Float32Array ? t.data : fromFloat16(t.data);
}

/** True when any element is NaN or ±Inf. */
export function hasNonFinite(a: Float32Array): boolean {
  // x·0 is ±0 for every finite x and NaN for NaN and ±Inf: one branch-free pass (this runs on
  // every frame's output).
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * 0;
  return s !== s;
}
