/**
 * A head that gives a single-image graph a history of its own input pixels: the frame the model
 * sees is `clip((1 − α)·frame + α·prev_history, 0, 1)`, and that frame is also returned as the
 * history for the next one. `--temporal auto` runs the model this way (temporal/open.ts), with the
 * warp head (warp-head.ts) moving `prev_history` with the camera and α the history-weight map
 * (temporal/history-weight.ts): a motion-compensated recursive average of the input, the
 * estimator's own reference in colour.
 *
 * Why the pixels and not the first layer's features (the reference's video mode): the features
 * are linear in the pixels, so blending them averages what the learned detail path sees, but a
 * ParagonSR2 output is a fixed classical upsampler of the frame plus that detail, and the
 * upsampler's path kept every frame's noise. Averaging the input averages both; measured on the
 * study's noisy clips (docs/temporal.md), it cuts the temporal error further on every clip that
 * keeps history, at the same maps (still σ 4: 0.69 against 1.52). Three channels instead of sixteen also make the carried state and its warp a fifth
 * of the cost.
 *
 * Added in memory at load time, like the packing head; the graph's own input and output stay as
 * they are. The blend and the history are float32 whatever the model's precision (an fp16 model
 * gets the blended frame cast to float16).
 */
import { DataType, defaultOpset, fedInputs, decodeModel, encodeModel, type NodeProto } from './onnx-proto.ts';
import { node, scalar } from './pack-head.ts';
import { HISTORY_INPUT, WEIGHT_INPUT } from './warp-head.ts';

/** The head's history input, weight input and history output (temporal/roles.ts reads them as a video graph's). */
export const PIXEL_PREV = 'prev_history';
export const PIXEL_ALPHA = 'alpha';
export const PIXEL_OUT = 'history';

/**
 * The model with the pixel-history head on its image input, or undefined when it cannot take
 * one: a graph that already carries a history (a video graph), an input that is not a float
 * image of 3 channels, or an opset before 11 (Clip's bounds as inputs).
 */
export function withPixelHistory(bytes: Uint8Array): Uint8Array | undefined {
  const m = decodeModel(bytes);
  const opset = defaultOpset(m);
  const g = m.graph;
  const inputs = fedInputs(g);
  if (opset < 11 || inputs.length !== 1 || inputs.some((v) => HISTORY_INPUT.test(v.name) || WEIGHT_INPUT.test(v.name) || v.name.startsWith('paragon_'))) return undefined;
  const x = inputs[0]!;
  if ((x.elemType !== DataType.FLOAT && x.elemType !== DataType.FLOAT16) || x.dims?.length !== 4 || x.dims[1] !== 3) return undefined;
  // A name already taken, features of its own, or the frame itself returned: not a graph for this head.
  if (g.outputs.some((o) => o.name === PIXEL_OUT || o.name === x.name || /feat/i.test(o.name)) || g.nodes.some((nd) => nd.outputs.includes(PIXEL_OUT))) return undefined;
  const half = x.elemType === DataType.FLOAT16;
  const n = (s: string) => `paragon_pixels_${s}`;
  // Every reader of the frame reads the blended one (cast back for an fp16 model).
  const fed = half ? n('f16') : PIXEL_OUT;
  for (const nd of g.nodes) nd.inputs = nd.inputs.map((i) => (i === x.name ? fed : i));
  const frame = half ? n('f32') : x.name;
  const head: NodeProto[] = [];
  if (half) head.push(node('Cast', [x.name], [frame], [{ name: 'to', value: { type: 'int', i: DataType.FLOAT } }]));
  head.push(
    // (1 − α)·frame + α·prev, spelled frame + α·(prev − frame): one multiplication a sample.
    node('Sub', [PIXEL_PREV, frame], [n('change')]),
    node('Mul', [PIXEL_ALPHA, n('change')], [n('kept')]),
    node('Add', [frame, n('kept')], [n('blend')]),
    // The cubic warp overshoots at edges by a little; the model was trained on 0..1.
    node('Clip', [n('blend'), n('zero'), n('one')], [PIXEL_OUT]),
  );
  if (half) head.push(node('Cast', [PIXEL_OUT], [fed], [{ name: 'to', value: { type: 'int', i: DataType.FLOAT16 } }]));
  g.initializers.push(scalar(n('zero'), 0), scalar(n('one'), 1));
  // Topological order: the head first (it reads only graph inputs).
  g.nodes.unshift(...head);
  const dims = x.dims;
  g.inputs.push(
    { name: PIXEL_PREV, elemType: DataType.FLOAT, dims: [...dims] },
    { name: PIXEL_ALPHA, elemType: DataType.FLOAT, dims: ['alpha_N', 1, 'alpha_H', 'alpha_W'] },
  );
  g.outputs.push({ name: PIXEL_OUT, elemType: DataType.FLOAT, dims: [...dims] });
  return encodeModel(m);
}
