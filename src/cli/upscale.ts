/**
 * `paragon upscale INPUT -o OUTPUT`: an image, a folder of images (mirrored into the output
 * folder), or a video. Flags map one to one onto {@link runUpscale}.
 */
import { defineCommand } from 'citty';
import { usageError } from '../errors.ts';
import { parseDevice } from '../runtime/devices.ts';
import { runUpscale } from '../pipeline/job.ts';
import { rejectUnknownFlags } from './args.ts';
import { claimInterrupt, interrupted } from './interrupt.ts';

/** Parse a non-negative integer flag. */
function intFlag(name: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw usageError(`--${name} ${v}: expected an integer ≥ ${min}`);
  return n;
}

/** `--temporal W` / `--no-temporal` → history weight (undefined = the default). */
function historyWeight(v: string | boolean | undefined): number | undefined {
  if (v === undefined || v === true) return undefined;
  if (v === false) return 0;
  const w = Number(v);
  if (v.trim() === '' || !Number.isFinite(w) || w < 0 || w >= 1) throw usageError(`--temporal ${v}: expected a history weight in [0, 1)`);
  return w;
}

const argsDef = {
  input: { type: 'positional', required: true, description: 'Image, folder or video' },
  output: { type: 'string', alias: 'o', required: true, description: 'Output file (.png) or folder' },
  model: { type: 'string', alias: 'm', description: 'Checkpoint (.safetensors), ONNX file or bundled model name (default paragon-realtime-2x)' },
  device: { type: 'string', default: 'auto', description: 'auto | cpu | webgpu | cuda | tensorrt (falls back to cpu with a notice)' },
  tile: { type: 'string', description: 'Tile size in input pixels (0 = whole frame; halved automatically on out-of-memory)' },
  fp16: { type: 'boolean', description: 'Half-precision graph (checkpoints); frames that overflow are rerun at fp32' },
  temporal: { type: 'string', description: 'History weight W for video (default 0.2); --no-temporal = 0' },
  recursive: { type: 'boolean', alias: 'r', description: 'Include subfolders (mirrored in the output)' },
  report: { type: 'string', description: 'Write a JSON report of the run to this file' },
  progress: { type: 'string', description: "'json': one JSON line per item on stdout" },
  threads: { type: 'string', description: 'CPU threads per operator (default: all cores)' },
} as const;

export default defineCommand({
  meta: {
    name: 'upscale',
    description:
      'Upscale an image, a folder of images or a video. Images become PNG (16-bit in → 16-bit out, alpha kept); complete outputs are skipped.',
  },
  args: argsDef,
  async run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, argsDef);
    if (args.progress !== undefined && args.progress !== 'json' && args.progress !== 'text')
      throw usageError(`--progress ${args.progress}: expected json or text`);
    const tile = intFlag('tile', args.tile);
    const threads = intFlag('threads', args.threads, 1);
    const w = historyWeight(args.temporal as string | boolean | undefined);
    const json = args.progress === 'json';
    const release = claimInterrupt();
    try {
      await runUpscale({
        input: args.input,
        output: args.output,
        ...(args.model !== undefined ? { model: args.model } : {}),
        device: parseDevice(args.device),
        ...(tile !== undefined ? { tile } : {}),
        fp16: args.fp16 === true,
        ...(w !== undefined ? { historyWeight: w } : {}),
        recursive: args.recursive === true,
        ...(threads !== undefined ? { cpu: { intraOpThreads: threads } } : {}),
        ...(args.report !== undefined ? { report: args.report } : {}),
        log: (line) => process.stderr.write(`paragon: ${line}\n`),
        ...(json ? { progress: (e: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(e)}\n`) } : {}),
        signal: interrupted,
      });
    } finally {
      release();
    }
  },
});
