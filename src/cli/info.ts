/**
 * `paragon info FILE [--json]`: {@link inspect} (src/api/model.ts), printed — what a `.safetensors`
 * checkpoint or an `.onnx` model is: variant, scale, channels, parameters, metadata; for ONNX also
 * the I/O signature and, for files from the original Python export script, what that signature
 * means for temporal smoothing.
 */
import { defineCommand, type ArgsDef } from 'citty';
import { inspect, type CheckpointDescription, type OnnxDescription } from '../api/model.ts';
import type { OnnxIO } from '../graph/index.ts';
import { rejectUnknownFlags } from './args.ts';

const args = {
  file: { type: 'positional', required: true, description: 'A .safetensors checkpoint or an .onnx model' },
  json: { type: 'boolean', description: 'Print one JSON object' },
} as const satisfies ArgsDef;

const io = (v: OnnxIO): string => `${v.name} ${v.dtype} [${(v.dims ?? []).map((d) => d ?? '?').join(',')}]`;

function printCheckpoint(c: CheckpointDescription): void {
  const meta = Object.entries(c.metadata);
  const lines = [
    `${c.file}: ParagonSR2 checkpoint`,
    `  variant ${c.variant}, x${c.scale}, ${c.channels} channels, ${c.groups} groups x ${c.blocks} blocks, ${c.params.toLocaleString('en-US')} params`,
    `  ${c.official ? `official ParagonSR2 v11 ${c.official} release` : 'not an official release'} (sha256 ${c.sha256})`,
    `  upsampler_alpha ${c.upsamplerAlpha} (${c.upsamplerAlphaSource})`,
    `  metadata: ${meta.length ? meta.map(([k, v]) => `${k}=${v}`).join(', ') : 'none'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function printOnnx(o: OnnxDescription): void {
  const arch =
    o.variant !== undefined
      ? `  ${o.variant} x${o.scale ?? '?'}, ${o.channels ?? '?'} channels, pad multiple ${o.padMultiple ?? '?'}, ${o.precision ?? '?'}, upsampler_alpha ${o.upsamplerAlpha ?? '?'}, ${o.graphKind ?? '?'} graph`
      : undefined;
  const lines = [
    `${o.file}: ONNX model, signature ${o.signature}`,
    ...(arch ? [arch] : []),
    `  inputs:  ${o.inputs.map(io).join('; ') || 'none'}`,
    `  outputs: ${o.outputs.map(io).join('; ') || 'none'}`,
    `  opset ${o.opset}, IR ${o.irVersion}, producer ${o.producer || '?'}, ${o.nodes} nodes, ${o.params.toLocaleString('en-US')} params${o.externalData ? ', external weight data' : ''}`,
    ...(o.sha256 ? [`  checkpoint sha256 ${o.sha256}`] : []),
    ...(o.historyWeight !== undefined ? [`  baked history weight ${o.historyWeight}`] : []),
    `  ${o.explanation}`,
  ];
  const meta = Object.entries(o.metadata).filter(([k]) => !k.startsWith('paragon.') || k === 'paragon.history_weight');
  if (meta.length) lines.push(`  metadata: ${meta.map(([k, v]) => `${k}=${v}`).join('; ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

export default defineCommand({
  meta: { name: 'info', description: 'Describe a ParagonSR2 checkpoint (.safetensors) or ONNX model (.onnx).' },
  args,
  async run({ args: a, rawArgs }) {
    rejectUnknownFlags(rawArgs, args);
    const d = await inspect(a.file);
    if (a.json) process.stdout.write(`${JSON.stringify(d)}\n`);
    else if (d.kind === 'checkpoint') printCheckpoint(d);
    else printOnnx(d);
  },
});
