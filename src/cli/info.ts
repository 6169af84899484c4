/**
 * `paragon info FILE [--json]`: what a `.safetensors` checkpoint or an `.onnx` model is — variant,
 * scale, channels, parameters, metadata; for ONNX also the I/O signature and, for files from the
 * original Python export script, what that signature means for temporal smoothing.
 */
import { defineCommand, type ArgsDef } from 'citty';
import { usageError } from '../errors.ts';
import { readOnnxInfo, upsamplerAlphaSource, type OnnxInfo, type OnnxIO } from '../graph/index.ts';
import { loadCheckpoint, readModelBytes } from '../weights/load.ts';
import { rejectUnknownFlags } from './args.ts';

const args = {
  file: { type: 'positional', required: true, description: 'A .safetensors checkpoint or an .onnx model' },
  json: { type: 'boolean', description: 'Print one JSON object' },
} as const satisfies ArgsDef;

/** Description of a checkpoint, as printed / serialised. */
async function checkpointInfo(file: string): Promise<Record<string, unknown>> {
  const ck = await loadCheckpoint(file);
  return {
    file,
    kind: 'checkpoint',
    variant: ck.arch.variant,
    scale: ck.arch.scale,
    channels: ck.arch.channels,
    groups: ck.arch.groups,
    blocks: ck.arch.blocks,
    params: ck.params,
    official: ck.official ?? null,
    sha256: ck.sha256,
    upsamplerAlpha: ck.upsamplerAlpha,
    upsamplerAlphaSource: upsamplerAlphaSource(ck),
    metadata: Object.fromEntries(ck.metadata),
  };
}

/** An ONNX description with Maps turned into plain objects. */
function onnxJson(o: OnnxInfo): Record<string, unknown> {
  return { ...o, kind: 'onnx', metadata: Object.fromEntries(o.metadata), ops: Object.fromEntries(o.ops) };
}

const io = (v: OnnxIO): string => `${v.name} ${v.dtype} [${(v.dims ?? []).map((d) => d ?? '?').join(',')}]`;

function printCheckpoint(c: Record<string, unknown>): void {
  const meta = Object.entries(c.metadata as Record<string, string>);
  const lines = [
    `${c.file}: ParagonSR2 checkpoint`,
    `  variant ${c.variant}, x${c.scale}, ${c.channels} channels, ${c.groups} groups x ${c.blocks} blocks, ${(c.params as number).toLocaleString('en-US')} params`,
    `  ${c.official ? `official ParagonSR2 v11 ${c.official} release` : 'not an official release'} (sha256 ${c.sha256})`,
    `  upsampler_alpha ${c.upsamplerAlpha} (${c.upsamplerAlphaSource})`,
    `  metadata: ${meta.length ? meta.map(([k, v]) => `${k}=${v}`).join(', ') : 'none'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function printOnnx(o: OnnxInfo): void {
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
  const meta = [...o.metadata].filter(([k]) => !k.startsWith('paragon.') || k === 'paragon.history_weight');
  if (meta.length) lines.push(`  metadata: ${meta.map(([k, v]) => `${k}=${v}`).join('; ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

export default defineCommand({
  meta: { name: 'info', description: 'Describe a ParagonSR2 checkpoint (.safetensors) or ONNX model (.onnx).' },
  args,
  async run({ args: a, rawArgs }) {
    rejectUnknownFlags(rawArgs, args);
    const file = a.file;
    const ext = file.toLowerCase().split('.').pop();
    if (ext === 'safetensors') {
      const c = await checkpointInfo(file);
      if (a.json) process.stdout.write(`${JSON.stringify(c)}\n`);
      else printCheckpoint(c);
    } else if (ext === 'onnx') {
      const bytes = await readModelBytes(file);
      const o = readOnnxInfo(bytes, file);
      if (a.json) process.stdout.write(`${JSON.stringify(onnxJson(o))}\n`);
      else printOnnx(o);
    } else throw usageError(`${file}: expected a .safetensors checkpoint or an .onnx model`);
  },
});
