/**
 * A head that moves the carried feature state with the camera before the model blends it: the
 * video graph's `prev_feat` goes through an edge-padded slice (the whole pixels of the shift) and
 * a 2×2 depthwise convolution (the bilinear weights of its fraction) on its way to the blend, so
 * `feature = (1 − α)·conv_in(frame) + α·warp(prev_feat)`. Added in memory at load time, like the
 * packing head (pack-head.ts); the model's own inputs and outputs stay as they are, and
 * `paragon convert --video` writes the graph without it.
 *
 * Why in the graph: the state stays inside the inference worker between pipelined frames
 * (runtime/protocol.ts `Carry`), and on WebGPU on the GPU; the head warps it there. Why a
 * translation and not ONNX GridSample: GridSample of the 16-channel state costs about 60 ms a
 * frame at 640×360 on onnxruntime's CPU, more than half of the Realtime model; this head costs a
 * few ms (docs/temporal.md). The arithmetic is that of `warpShift` (temporal/motion.ts): the same
 * clamped edges and the same float32 weights, which the caller feeds (`warpFeeds`).
 */
import { DataType, decodeModel, encodeModel, type NodeProto } from './onnx-proto.ts';
import { node } from './pack-head.ts';

/** Input names of the head: Pad's pads, Slice's starts and ends (int64), the depthwise kernel (float). */
export const WARP_PADS = 'paragon_warp_pads';
export const WARP_STARTS = 'paragon_warp_starts';
export const WARP_ENDS = 'paragon_warp_ends';
export const WARP_KERNEL = 'paragon_warp_kernel';

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
  const opset = m.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
  const g = m.graph;
  const inits = new Set(g.initializers.map((t) => t.name));
  const inputs = g.inputs.filter((v) => !inits.has(v.name));
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
    node('Pad', [x, WARP_PADS], [n('padded')], [{ name: 'mode', value: { type: 'string', s: 'edge' } }]),
    node('Slice', [n('padded'), WARP_STARTS, WARP_ENDS], [n('window')]),
    // Every attribute spelled out: onnxruntime-web's WebGPU Conv cannot infer them from a kernel that is an input.
    node('Conv', [n('window'), WARP_KERNEL], [half ? n('warped32') : out], [
      { name: 'group', value: { type: 'int', i: channels } },
      { name: 'kernel_shape', value: { type: 'ints', ints: [2, 2] } },
      { name: 'dilations', value: { type: 'ints', ints: [1, 1] } },
      { name: 'strides', value: { type: 'ints', ints: [1, 1] } },
      { name: 'pads', value: { type: 'ints', ints: [0, 0, 0, 0] } },
    ]),
  );
  if (half) head.push(node('Cast', [n('warped32')], [out], [{ name: 'to', value: { type: 'int', i: DataType.FLOAT16 } }]));
  // Topological order: the head first (it reads only graph inputs).
  g.nodes.unshift(...head);
  g.inputs.push(
    { name: WARP_PADS, elemType: DataType.INT64, dims: [8] },
    { name: WARP_STARTS, elemType: DataType.INT64, dims: [4] },
    { name: WARP_ENDS, elemType: DataType.INT64, dims: [4] },
    { name: WARP_KERNEL, elemType: DataType.FLOAT, dims: [channels, 1, 2, 2] },
  );
  return encodeModel(m);
}

/** True when a session's inputs include the warp head's. */
export const hasWarpHead = (inputs: readonly { name: string }[]): boolean => inputs.some((v) => v.name === WARP_KERNEL);

/**
 * The head's feeds for moving a `channels × h × w` state by the whole pixels (`ix`, `iy`) and the
 * bilinear weights `k` (k00, k01, k10, k11) of motion.ts `shiftTaps`: `out(x, y) = src(x + dx, y + dy)`.
 * The shift is clamped to the frame (beyond it every pixel reads the edge anyway).
 */
export function warpFeeds(channels: number, h: number, w: number, ix: number, iy: number, k: Float32Array): {
  pads: BigInt64Array;
  starts: BigInt64Array;
  ends: BigInt64Array;
  kernel: Float32Array;
} {
  const cx = Math.max(-w, Math.min(w, ix));
  const cy = Math.max(-h, Math.min(h, iy));
  // Rows cy … cy + h and columns cx … cx + w of the state (the 2×2 taps need one more), edges repeated.
  const [top, left] = [Math.max(0, -cy), Math.max(0, -cx)];
  const [bottom, right] = [Math.max(0, cy + 1), Math.max(0, cx + 1)];
  const pads = BigInt64Array.of(0n, 0n, BigInt(top), BigInt(left), 0n, 0n, BigInt(bottom), BigInt(right));
  const starts = BigInt64Array.of(0n, 0n, BigInt(cy + top), BigInt(cx + left));
  const ends = BigInt64Array.of(1n, BigInt(channels), BigInt(cy + top + h + 1), BigInt(cx + left + w + 1));
  const kernel = new Float32Array(4 * channels);
  for (let c = 0; c < channels; c++) kernel.set(k, 4 * c);
  return { pads, starts, ends, kernel };
}
