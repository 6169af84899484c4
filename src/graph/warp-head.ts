/**
 * A head that moves the carried state with the camera before the model blends it (the pixel
 * history of `--temporal auto`, graph/pixel-history.ts, or a video graph's features): the history
 * input (`prev_history`, `prev_feat`) goes through an edge-mode Pad that also crops (the whole
 * pixels of the shift: ONNX pads may be negative) and depthwise convolutions of six taps along x,
 * then along y (the weights of its fraction: Keys' six-point cubic, bilinear or a mix, temporal/warp.ts)
 * on its way to the blend, e.g. `feature = (1 − α)·conv_in(frame) + α·warp(prev_feat)`. Added in
 * memory at load time, like the
 * packing head (pack-head.ts); the model's own inputs and outputs stay as they are, and
 * `paragon convert --video` writes the graph without it.
 *
 * Why in the graph: the state stays inside the inference worker between pipelined frames
 * (runtime/protocol.ts `Carry`), and on WebGPU on the GPU; the head warps it there. Why a
 * translation and not ONNX GridSample: GridSample of the 16-channel state costs about 60 ms a
 * frame at 640×360 on onnxruntime's CPU, more than half of the Realtime model; this head costs a
 * few ms (docs/temporal.md). The arithmetic is that of `warpShift` (temporal/warp.ts): the same
 * clamped edges and the same weights, which the caller feeds (`warpFeeds`).
 */
import { DataType, defaultOpset, fedInputs, decodeModel, encodeModel, type NodeProto } from './onnx-proto.ts';
import { node } from './pack-head.ts';

/** Input names of the head: Pad's pads (int64; negative ones crop), the depthwise kernels along x and y (float). */
export const WARP_PADS = 'paragon_warp_pads';
export const WARP_KERNEL_X = 'paragon_warp_kernel_x';
export const WARP_KERNEL_Y = 'paragon_warp_kernel_y';
/**
 * Taps of the head's kernels, at {@link WARP_FIRST} … WARP_FIRST + 5 pixels from the whole shift
 * (Keys' six-point cubic, temporal/warp.ts `historyTaps`). Two convolutions of 1×6 and 6×1 rather than one of
 * 6×6: the warp's weights are separable (on onnxruntime's CPU, for 16×360×640, a pair of 1×4 and
 * 4×1 took about 5 ms where one 4×4 took 8–11).
 */
export const WARP_TAPS = 6;
/** Where the first tap lies, in pixels from the whole shift. */
export const WARP_FIRST = -2;

/** Names of a video graph's history input and history-weight input (temporal/roles.ts reads them too). */
export const HISTORY_INPUT = /prev|hidden|state|history/i;
export const WEIGHT_INPUT = /alpha|weight/i;

/**
 * The model with the warp head on its history input, or undefined when it cannot take one: not a
 * video graph of ours (a history input and a history-weight input, as temporal/roles.ts tells
 * them), a history without a fixed channel count, or an opset before 11.
 */
export function withWarpHead(bytes: Uint8Array): Uint8Array | undefined {
  const m = decodeModel(bytes);
  const opset = defaultOpset(m);
  const g = m.graph;
  const inputs = fedInputs(g);
  const prev = inputs.find((v) => HISTORY_INPUT.test(v.name));
  const alpha = inputs.find((v) => v !== prev && WEIGHT_INPUT.test(v.name));
  const channels = prev?.dims?.[1];
  if (opset < 11 || !prev || !alpha || typeof channels !== 'number' || inputs.some((v) => v.name.startsWith('paragon_'))) return undefined;
  if (prev.elemType !== DataType.FLOAT && prev.elemType !== DataType.FLOAT16) return undefined;
  const half = prev.elemType === DataType.FLOAT16;
  const n = (s: string) => `paragon_warp_${s}`;
  const out = n('out');
  // Every reader of the history reads the warped one instead.
  for (const nd of g.nodes) nd.inputs = nd.inputs.map((i) => (i === prev.name ? out : i));
  for (const o of g.outputs) if (o.name === prev.name) return undefined;
  let x = prev.name;
  const head: NodeProto[] = [];
  // Half-precision graphs: the warp in float32, as warpShift computes it.
  if (half) {
    head.push(node('Cast', [x], [n('f32')], [{ name: 'to', value: { type: 'int', i: DataType.FLOAT } }]));
    x = n('f32');
  }
  head.push(
    // One Pad both crops and repeats the edge: a Pad then a Slice wrote the 15 MB state once more
    // (1.6 ms a frame at 640×360 on two CPU threads; the same values).
    node('Pad', [x, WARP_PADS], [n('window')], [{ name: 'mode', value: { type: 'string', s: 'edge' } }]),
    // Every attribute spelled out: onnxruntime-web's WebGPU Conv cannot infer them from a kernel that is an input.
    depthwise(n('window'), WARP_KERNEL_X, n('along_x'), channels, [1, WARP_TAPS]),
    depthwise(n('along_x'), WARP_KERNEL_Y, half ? n('warped32') : out, channels, [WARP_TAPS, 1]),
  );
  if (half) head.push(node('Cast', [n('warped32')], [out], [{ name: 'to', value: { type: 'int', i: DataType.FLOAT16 } }]));
  // Topological order: the head first (it reads only graph inputs).
  g.nodes.unshift(...head);
  g.inputs.push(
    { name: WARP_PADS, elemType: DataType.INT64, dims: [8] },
    { name: WARP_KERNEL_X, elemType: DataType.FLOAT, dims: [channels, 1, 1, WARP_TAPS] },
    { name: WARP_KERNEL_Y, elemType: DataType.FLOAT, dims: [channels, 1, WARP_TAPS, 1] },
  );
  return encodeModel(m);
}

/** True when a session's inputs include the warp head's. */
export const hasWarpHead = (inputs: readonly { name: string }[]): boolean => inputs.some((v) => v.name === WARP_KERNEL_X);

/** A depthwise convolution of `channels` by a kernel fed as an input, without padding. */
const depthwise = (x: string, k: string, y: string, channels: number, shape: [number, number]): NodeProto =>
  node('Conv', [x, k], [y], [
    { name: 'group', value: { type: 'int', i: channels } },
    { name: 'kernel_shape', value: { type: 'ints', ints: shape } },
    { name: 'dilations', value: { type: 'ints', ints: [1, 1] } },
    { name: 'strides', value: { type: 'ints', ints: [1, 1] } },
    { name: 'pads', value: { type: 'ints', ints: [0, 0, 0, 0] } },
  ]);

/**
 * The head's feeds for moving a `channels × h × w` state by the whole pixels (`ix`, `iy`) and the
 * taps `kx`, `ky` ({@link WARP_TAPS} each, from {@link WARP_FIRST} pixels; temporal/warp.ts `warpHeadFeeds`):
 * `out(x, y) = src(x + dx, y + dy)`. The shift is clamped to the frame (beyond it every pixel
 * reads the edge anyway).
 */
export function warpFeeds(channels: number, h: number, w: number, ix: number, iy: number, kx: ArrayLike<number>, ky: ArrayLike<number>): {
  pads: BigInt64Array;
  kernelX: Float32Array;
  kernelY: Float32Array;
} {
  // The taps reach −WARP_FIRST pixels before and `after` after. Far enough past the frame every
  // tap reads the edge: at 1 − w − after and below (the last column's taps then reach column 0 at
  // most), at w − 1 − WARP_FIRST and above. A larger shift is clamped to those, so the Pad keeps
  // one column and one row of the state at least.
  const after = WARP_TAPS - 1 + WARP_FIRST;
  const cx = Math.max(1 - w - after, Math.min(w - 1 - WARP_FIRST, ix));
  const cy = Math.max(1 - h - after, Math.min(h - 1 - WARP_FIRST, iy));
  // Rows cy + WARP_FIRST … cy + h − 1 + after and the same columns of the state, edges repeated:
  // before the first row −WARP_FIRST − cy of them (cropped where negative), after the last cy +
  // after; the same along x.
  const pads = BigInt64Array.of(0n, 0n, BigInt(-WARP_FIRST - cy), BigInt(-WARP_FIRST - cx), 0n, 0n, BigInt(cy + after), BigInt(cx + after));
  const kernelX = new Float32Array(WARP_TAPS * channels);
  const kernelY = new Float32Array(WARP_TAPS * channels);
  for (let c = 0; c < channels; c++)
    for (let t = 0; t < WARP_TAPS; t++) {
      kernelX[WARP_TAPS * c + t] = kx[t]!;
      kernelY[WARP_TAPS * c + t] = ky[t]!;
    }
  return { pads, kernelX, kernelY };
}
