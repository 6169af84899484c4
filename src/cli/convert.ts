/**
 * `paragon convert WEIGHTS -o OUT.onnx`: {@link convert} (src/api/model.ts) from the flags, then
 * what it detected and what it wrote. The file appears atomically (temp file beside OUT, then
 * rename), so a failure never leaves a half-written model.
 */
import { defineCommand, type ArgsDef } from 'citty';
import { parseSize, rejectUnknownFlags } from './args.ts';
import { usageError } from '../errors.ts';
import { convert } from '../api/model.ts';
import type { OnnxIO } from '../graph/index.ts';
import { describeArch } from '../weights/state-dict.ts';
import { VARIANTS, type Variant } from '../weights/types.ts';

const formatIO = (io: OnnxIO): string => `${io.name} ${io.dtype} [${(io.dims ?? []).map((d) => d ?? '?').join(',')}]`;
const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(2)} MB`;

const args = {
  weights: { type: 'positional', required: true, description: 'ParagonSR2 checkpoint (.safetensors)' },
  output: { type: 'string', alias: 'o', description: 'Output ONNX file (required)' },
  video: { type: 'boolean', description: 'Video graph: prev_feat and alpha inputs, feature_map output' },
  fp16: { type: 'boolean', description: 'Half-precision weights, I/O and compute' },
  static: { type: 'string', description: 'Fixed input size HxW (batch 1) instead of dynamic' },
  upsamplerAlpha: { type: 'string', description: 'Base-path sharpening strength 0..1 (default: by checkpoint)' },
  variant: { type: 'string', description: `Assert the variant (${VARIANTS.join(', ')})` },
  scale: { type: 'string', description: 'Assert the upscale factor' },
  literal: { type: 'boolean', description: 'Emit the literal graph mirroring the reference (debugging); default: the optimised low-resolution graph' },
} as const satisfies ArgsDef;

export default defineCommand({
  meta: { name: 'convert', description: 'Convert a ParagonSR2 checkpoint to ONNX (standard or video mode, fp32 or fp16).' },
  args,
  async run({ args: a, rawArgs }) {
    rejectUnknownFlags(rawArgs, args);
    const out = a.output;
    if (out === undefined) throw usageError('convert: missing -o OUT.onnx');
    if (!out.toLowerCase().endsWith('.onnx')) throw usageError(`-o ${out}: the output must be an .onnx file`);
    // The rest is checked by convert() (src/api/model.ts); here only what the flags' text says.
    const scale = a.scale === undefined ? undefined : Number(a.scale);
    if (scale !== undefined && (!Number.isInteger(scale) || scale < 1 || scale > 4)) throw usageError(`--scale ${a.scale}: expected 1, 2, 3 or 4`);
    const alpha = a.upsamplerAlpha === undefined ? undefined : Number(a.upsamplerAlpha);
    if (alpha !== undefined && (a.upsamplerAlpha!.trim() === '' || !Number.isFinite(alpha) || alpha < 0 || alpha > 1))
      throw usageError(`--upsampler-alpha ${a.upsamplerAlpha}: expected a number in [0, 1]`);
    const size = a.static === undefined ? undefined : parseSize(a.static);

    const conv = await convert(a.weights, {
      output: out,
      video: a.video === true,
      fp16: a.fp16 === true,
      literal: a.literal === true,
      ...(size ? { static: size } : {}),
      ...(a.variant !== undefined ? { variant: a.variant as Variant } : {}),
      ...(scale !== undefined ? { scale } : {}),
      ...(alpha !== undefined ? { upsamplerAlpha: alpha } : {}),
    });
    const say = (line: string) => process.stdout.write(`${line}\n`);
    say(`detected: ${describeArch(conv.arch)}, ${conv.params.toLocaleString('en-US')} params`);
    say(
      conv.official
        ? `checkpoint: official ParagonSR2 v11 ${conv.official} release (sha256 ${conv.sha256.slice(0, 12)}…)`
        : `checkpoint: not an official release (sha256 ${conv.sha256.slice(0, 12)}…)`,
    );
    say(`upsampler_alpha: ${conv.upsamplerAlpha} (${conv.upsamplerAlphaSource})`);
    const info = conv.onnx;
    const st = size ? `static ${size[0]}x${size[1]}` : 'dynamic size';
    say(`wrote: ${out} (${mb(conv.bytes.length)}), ${a.video ? 'video' : 'standard'} mode, ${a.fp16 ? 'fp16' : 'fp32'}, ${st}, ${info.graphKind} graph, opset ${info.opset}`);
    say(`  inputs:  ${info.inputs.map(formatIO).join('; ')}`);
    say(`  outputs: ${info.outputs.map(formatIO).join('; ')}`);
  },
});
