/**
 * A head that lets the graph itself hand out the encoder's frame: the planar float image output
 * scaled, rounded, clamped, cast to 8 or 16 bits and transposed to packed RGB rows
 * ([N, H, W, 3], what ffmpeg's rgb24/rgb48le take), plus one float that is not finite when any
 * output value was NaN or ±Inf. Added to any ONNX model (ours or an export) in memory, beside its own
 * outputs, which stay as they are.
 *
 * Why: at 1280×720 the float image is 11 MB a frame. Handing it to JavaScript to pack costs the
 * main thread the packing and the NaN scan, and the garbage collector a full collection a frame
 * for the external memory it brings; onnxruntime does the same arithmetic with its own threads
 * and returns 2.7 MB. The arithmetic is float32 exactly as `packedFromPlanar` spells it
 * (src/temporal/planes.ts), so both give the same bytes.
 */
import { DataType, decodeModel, defaultOpset, encodeModel, type NodeProto, type TensorProto } from './onnx-proto.ts';

/** Output names of the head (8-bit and 16-bit frames, and the finiteness flag). */
export const PACKED_8 = 'paragon_packed8';
export const PACKED_16 = 'paragon_packed16';
export const FINITE = 'paragon_finite';

/** A float32 scalar initializer (the heads' constants). */
export const scalar = (name: string, v: number): TensorProto => ({ name, dataType: DataType.FLOAT, dims: [], raw: new Uint8Array(new Float32Array([v]).buffer) });
/** A node named after its first output (the heads' nodes: graph/pack-head.ts, graph/warp-head.ts). */
export const node = (opType: string, inputs: string[], outputs: string[], attributes: NodeProto['attributes'] = []): NodeProto => ({
  name: outputs[0]!,
  opType,
  inputs,
  outputs,
  attributes,
});

/**
 * The model with the packing head on its image output (`output`, else the first output that is
 * not features, as temporal/roles.ts tells them), or undefined when the model cannot take one
 * (no float image output, or an opset before 13). `depths`: the packed outputs to add. Ask only
 * for the one a video needs: onnxruntime runs every node of a graph whatever the run fetches, and
 * an unused 16-bit branch costs about 3 ms a frame at 1280×720 on the thread that runs the model.
 */
export function withPackedOutput(bytes: Uint8Array, depths: readonly (8 | 16)[] = [8, 16]): Uint8Array | undefined {
  const m = decodeModel(bytes);
  const opset = defaultOpset(m);
  const outs = m.graph.outputs;
  const out = outs.find((o) => o.name === 'output') ?? outs.find((o) => !/feat/i.test(o.name));
  const output = out?.name ?? '';
  if (opset < 13 || !out || (out.elemType !== DataType.FLOAT && out.elemType !== DataType.FLOAT16)) return undefined;
  const g = m.graph;
  const n = (s: string) => `paragon_pack_${s}`;
  let x = output;
  // fp16 models: the arithmetic in float32, as the JavaScript packer does it.
  if (out.elemType === DataType.FLOAT16) {
    g.nodes.push(node('Cast', [x], [n('f32')], [{ name: 'to', value: { type: 'int', i: DataType.FLOAT } }]));
    x = n('f32');
  }
  g.initializers.push(scalar(n('zero'), 0), scalar(n('half'), 0.5));
  for (const [bits, name, type] of [
    [8, PACKED_8, DataType.UINT8],
    [16, PACKED_16, DataType.UINT16],
  ] as const) {
    if (!depths.includes(bits)) continue;
    const max = bits === 16 ? 65535 : 255;
    const k = n(`${bits}`);
    g.initializers.push(scalar(`${k}_max`, max));
    g.nodes.push(
      node('Mul', [x, `${k}_max`], [`${k}_scaled`]),
      node('Add', [`${k}_scaled`, n('half')], [`${k}_rounded`]),
      node('Clip', [`${k}_rounded`, n('zero'), `${k}_max`], [`${k}_clipped`]),
      // Cast truncates: of a value already + 0.5 and clamped, that is rounding half up.
      node('Cast', [`${k}_clipped`], [`${k}_int`], [{ name: 'to', value: { type: 'int', i: type } }]),
      node('Transpose', [`${k}_int`], [name], [{ name: 'perm', value: { type: 'ints', ints: [0, 2, 3, 1] } }]),
    );
    const d = out.dims;
    g.outputs.push({ name, elemType: type, dims: d && d.length === 4 ? [d[0]!, d[2]!, d[3]!, 3] : undefined });
  }
  // The sum is NaN or ±Inf when any value was. It could also overflow for finite values beyond
  // about 1e32, an output that is broken anyway (the fp32 rerun is then the right answer). One
  // pass: summing x·0 instead would be exact but costs a second pass over the image.
  g.nodes.push(node('ReduceSum', [x], [FINITE], [{ name: 'keepdims', value: { type: 'int', i: 0 } }]));
  g.outputs.push({ name: FINITE, elemType: DataType.FLOAT, dims: [] });
  return encodeModel(m);
}
