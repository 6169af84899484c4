/**
 * Weight algebra for the fast graph: exact rewrites of the reference computed once at build time
 * (in float64, then stored in the graph's float type). Every function here is pure; the emitters
 * in fast-tail.ts and the variant bodies decide where each rewrite is valid.
 *
 * The key identity: an image at scale s is a set of s² low-resolution "phases"; output pixel
 * (s·i + p, s·j + q) lives in phase channel p·s + q of LR pixel (i, j) — exactly what ONNX
 * DepthToSpace (mode CRD) reassembles. A filter at high resolution after a nearest upsample or a
 * PixelShuffle therefore equals a small LR convolution per phase, and because an HR index is
 * outside [0, s·n) exactly when its LR index is outside [0, n), HR zero padding is LR zero padding.
 */

/** Conv2d weights in float32, [O, I, kh, kw] (I = input channels per group), with an optional bias. */
export interface ConvW {
  readonly w: Float32Array;
  readonly shape: [o: number, i: number, kh: number, kw: number];
  readonly bias?: Float32Array;
}

const floorDiv = (a: number, b: number): number => Math.floor(a / b);

/** Scale each output channel (weights and bias) by `g[o]`: LayerScale or a gain folded into a conv. */
export function scaleOut(c: ConvW, g: ArrayLike<number>): ConvW {
  const [o, i, kh, kw] = c.shape;
  const per = i * kh * kw;
  const gain = (k: number): number => (g.length === 1 ? g[0]! : g[k]!);
  const w = new Float32Array(c.w.length);
  for (let k = 0; k < o; k++) for (let j = 0; j < per; j++) w[k * per + j] = c.w[k * per + j]! * gain(k);
  const bias = c.bias && Float32Array.from(c.bias, (v, k) => v * gain(k));
  return { w, shape: c.shape, ...(bias ? { bias } : {}) };
}

/**
 * A 1×1 conv applied to `scale ⊙ x + shift` (an affine per input channel, e.g. RMSNorm's) as one
 * 1×1 conv on x: W·diag(scale), bias + W·shift. Exact for 1×1 convs only (no padding involved).
 */
export function affineIn(c: ConvW, scale: ArrayLike<number>, shift: ArrayLike<number>): ConvW {
  const [o, i, kh, kw] = c.shape;
  if (kh !== 1 || kw !== 1) throw new Error('affineIn: 1×1 convs only');
  const w = new Float32Array(c.w.length);
  const bias = new Float32Array(o);
  for (let k = 0; k < o; k++) {
    let b = c.bias?.[k] ?? 0;
    for (let j = 0; j < i; j++) {
      w[k * i + j] = c.w[k * i + j]! * scale[j]!;
      b += c.w[k * i + j]! * shift[j]!;
    }
    bias[k] = b;
  }
  return { w, shape: c.shape, bias };
}

/**
 * A 3×3 conv (pad 1) on the PixelShuffle(s) of a [C·s²]-channel LR tensor, as a 3×3 conv (pad 1)
 * at LR from the C·s² channels to O·s² phase channels (O·s² + ... in CRD order), padded with zero
 * output channels up to `outChannels`. HR tap (p + dy − 1) of output phase p reads LR offset
 * ⌊(p + dy − 1)/s⌋ ∈ {−1, 0, 1}, input phase (p + dy − 1) mod s.
 */
export function phaseConv3(c: ConvW, s: number, outChannels: number): ConvW {
  const [O, C, kh, kw] = c.shape;
  if (kh !== 3 || kw !== 3) throw new Error('phaseConv3: 3×3 convs only');
  const s2 = s * s;
  const I = C * s2;
  const w = new Float32Array(outChannels * I * 9);
  const bias = new Float32Array(outChannels);
  for (let o = 0; o < O; o++)
    for (let p = 0; p < s; p++)
      for (let q = 0; q < s; q++) {
        const oc = o * s2 + p * s + q;
        bias[oc] = c.bias?.[o] ?? 0;
        for (let ch = 0; ch < C; ch++)
          for (let dy = 0; dy < 3; dy++)
            for (let dx = 0; dx < 3; dx++) {
              const ty = p + dy - 1;
              const tx = q + dx - 1;
              const oy = floorDiv(ty, s);
              const ox = floorDiv(tx, s);
              const ic = ch * s2 + (ty - oy * s) * s + (tx - ox * s);
              w[((oc * I + ic) * 3 + oy + 1) * 3 + ox + 1]! += c.w[((o * C + ch) * 3 + dy) * 3 + dx]!;
            }
      }
  return { w, shape: [outChannels, I, 3, 3], bias };
}

/** LR taps of a 1-D HR filter `k` (centred, zero padding) after a nearest ×s upsample, per phase. */
function nearestPhaseTaps(k: ArrayLike<number>, s: number): { taps: number[][]; r: number } {
  const half = k.length >> 1;
  const r = Math.max(-floorDiv(-half, s), floorDiv(s - 1 + half, s));
  const taps = Array.from({ length: s }, () => new Array<number>(2 * r + 1).fill(0));
  for (let p = 0; p < s; p++) for (let d = 0; d < k.length; d++) taps[p]![floorDiv(p + d - half, s) + r]! += k[d]!;
  return { taps, r };
}

/**
 * The base path's blur(nearest_s(y)) — separable per channel, `h` (1×k) then `v` (k×1), each
 * [3, k] — as a dense conv from the 3 LR channels to the 3·s² phase channels (CRD order), padded
 * to `outChannels`. Kernel (2r+1)² with r = 1 for s ≥ 2 and the 5-tap blur.
 */
export function blurPhases(h: Float32Array[], v: Float32Array[], s: number, outChannels: number): ConvW {
  const s2 = s * s;
  const H = h.map((k) => nearestPhaseTaps(k, s));
  const V = v.map((k) => nearestPhaseTaps(k, s));
  const r = Math.max(...H.map((t) => t.r), ...V.map((t) => t.r));
  const n = 2 * r + 1;
  const w = new Float32Array(outChannels * 3 * n * n);
  for (let c = 0; c < 3; c++) {
    const th = H[c]!;
    const tv = V[c]!;
    for (let p = 0; p < s; p++)
      for (let q = 0; q < s; q++) {
        const oc = c * s2 + p * s + q;
        for (let a = -tv.r; a <= tv.r; a++)
          for (let b = -th.r; b <= th.r; b++)
            w[((oc * 3 + c) * n + a + r) * n + b + r] = tv.taps[p]![a + tv.r]! * th.taps[q]![b + th.r]!;
      }
  }
  return { w, shape: [outChannels, 3, n, n] };
}

/**
 * The base path's pre-sharpening `y = x + α·(v(h(x)) − x)` as one k×k depthwise conv (3 groups):
 * α·(v ⊗ h) + (1 − α)·δ. Exact with zero padding because the separable filter has no bias (the
 * rows `h` produces outside the image are zero either way).
 */
export function sharpenKernel(h: Float32Array[], v: Float32Array[], alpha: number): ConvW {
  const k = h[0]!.length;
  const w = new Float32Array(3 * k * k);
  for (let c = 0; c < 3; c++)
    for (let a = 0; a < k; a++)
      for (let b = 0; b < k; b++) w[(c * k + a) * k + b] = alpha * v[c]![a]! * h[c]![b]! + (a === k >> 1 && b === k >> 1 ? 1 - alpha : 0);
  return { w, shape: [3, 1, k, k] };
}

/**
 * Two zero-padded "same" convs `b(a(x))` (dense, odd kernels, pads ka>>1 and kb>>1) as one conv
 * with kernel ka + kb − 1. Equal to the pair everywhere except on the outermost ring of width
 * kb>>1, where the pair sees a(x) zero-padded and the composition sees a() of the padding.
 */
export function compose(a: ConvW, b: ConvW): ConvW {
  const [M, C, ka] = a.shape;
  const [O, M2, kb] = b.shape;
  if (M2 !== M || a.shape[3] !== ka || b.shape[3] !== kb) throw new Error('compose: shape mismatch');
  const n = ka + kb - 1;
  const acc = new Float64Array(O * C * n * n);
  const bias = new Float32Array(O);
  for (let o = 0; o < O; o++) {
    let bo = b.bias?.[o] ?? 0;
    for (let m = 0; m < M; m++) {
      const bw = (u: number, v: number): number => b.w[((o * M + m) * kb + u) * kb + v]!;
      let sum = 0;
      for (let u = 0; u < kb; u++) for (let v = 0; v < kb; v++) sum += bw(u, v);
      bo += sum * (a.bias?.[m] ?? 0);
      for (let u = 0; u < kb; u++)
        for (let v = 0; v < kb; v++) {
          const f = bw(u, v);
          if (f === 0) continue;
          for (let c = 0; c < C; c++)
            for (let y = 0; y < ka; y++)
              for (let x = 0; x < ka; x++) acc[((o * C + c) * n + u + y) * n + v + x]! += f * a.w[((m * C + c) * ka + y) * ka + x]!;
        }
    }
    bias[o] = bo;
  }
  return { w: Float32Array.from(acc), shape: [O, C, n, n], bias };
}
