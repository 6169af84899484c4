/**
 * `paragon bench`: latency, fps and memory of models × devices × precisions × modes × sizes, with
 * the machine recorded beside every number; `--tune` sweeps the CPU session options instead;
 * `--video FILE` adds the end-to-end pipeline with per-stage timings.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { defineCommand, type ArgsDef } from 'citty';
import { usageError } from '../errors.ts';
import { writeAtomically } from '../pipeline/write.ts';
import { bundledModels, DEFAULT_MODEL } from '../runtime/model.ts';
import type { Device } from '../runtime/devices.ts';
import { benchEnv } from '../bench/env.ts';
import { runMatrix } from '../bench/matrix.ts';
import { benchPipeline, pipelineChoice } from '../bench/pipeline.ts';
import { formatJson, formatMarkdown, formatReport } from '../bench/report.ts';
import { renderChart } from '../bench/chart.ts';
import { formatTune, tuneCpu } from '../bench/tune.ts';
import type { BenchMode, BenchReport, FrameSize, MeasureOptions, Precision } from '../bench/types.ts';
import { rejectUnknownFlags } from './args.ts';
import { claimInterrupt, interrupted } from './interrupt.ts';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
const DEVICES: readonly Device[] = ['cpu', 'webgpu', 'cuda', 'tensorrt'];
const ALIASES: Record<string, string> = { '360p': '640x360', '540p': '960x540', '720p': '1280x720', '1080p': '1920x1080', '1440p': '2560x1440', '2160p': '3840x2160', '4k': '3840x2160' };

const args = {
  model: { type: 'string', description: 'Models, comma-separated: bundled names, .safetensors or .onnx files (default: the bundled models)' },
  devices: { type: 'string', description: `Devices to try, comma-separated (default ${DEVICES.join(',')}); those that do not load are skipped` },
  precision: { type: 'string', description: 'fp32, fp16 or both (default fp32,fp16)' },
  modes: { type: 'string', description: 'standard, video or both (default standard,video)' },
  sizes: { type: 'string', description: 'Frame sizes WIDTHxHEIGHT or 360p/720p/1080p, comma-separated (default 640x360,1280x720,1920x1080)' },
  warmup: { type: 'string', description: 'Untimed runs after the first (default 2)' },
  runs: { type: 'string', description: 'Minimum timed runs per combination (default 10)' },
  maxRuns: { type: 'string', description: 'Maximum timed runs per combination (default 200)' },
  time: { type: 'string', description: 'Seconds of timed runs per combination before stopping with >= 3 runs (default 20); with --tune, per dimension (default 30)' },
  threads: { type: 'string', description: 'CPU intra-op threads (default: the runtime default, all cores)' },
  json: { type: 'string', description: 'Write the JSON report (environment + one row per combination)' },
  markdown: { type: 'string', description: 'Write a Markdown report (and the SVG chart beside it unless --svg)' },
  svg: { type: 'string', description: 'Write the SVG chart: fps against input size per backend and precision' },
  tune: { type: 'boolean', description: 'Sweep CPU session options (threads, spinning, optimisation level, execution mode, precision, shapes) and print the winner' },
  video: { type: 'string', description: 'Also time the end-to-end pipeline (decode, infer, encode) on this video file' },
  videoFrames: { type: 'string', description: 'With --video: only the first N frames' },
  swiftshader: { type: 'boolean', description: `WebGPU through SwiftShader (software Vulkan, ${SWIFTSHADER}) when there is no GPU` },
  paired: { type: 'boolean', description: 'Measure standard and video mode of each size side by side (alternating runs): a video overhead that holds on a busy machine' },
  isolate: { type: 'boolean', default: true, description: 'Measure each combination in a fresh process (exact peak memory); --no-isolate: all in this one' },
} as const satisfies ArgsDef;

const list = (v: string | undefined, def: string): string[] =>
  (v ?? def)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function oneOf<T extends string>(flag: string, v: string | undefined, def: string, allowed: readonly T[]): T[] {
  const out = list(v, def).map((s) => s.toLowerCase());
  for (const s of out) if (!(allowed as readonly string[]).includes(s)) throw usageError(`--${flag} ${s}: expected ${allowed.join(', ')}`);
  return [...new Set(out)] as T[];
}

/** `WIDTHxHEIGHT` (or an alias like 720p) → size. */
export function parseFrameSize(v: string): FrameSize {
  const m = /^(\d+)x(\d+)$/i.exec(ALIASES[v.toLowerCase()] ?? v);
  const size = m ? { width: Number(m[1]), height: Number(m[2]) } : undefined;
  if (!size || size.width < 1 || size.height < 1) throw usageError(`--sizes ${v}: expected WIDTHxHEIGHT (e.g. 1280x720) or 360p/720p/1080p`);
  return size;
}

function count(flag: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || (flag !== 'time' && !Number.isInteger(n))) throw usageError(`--${flag} ${v}: expected a number >= ${min}`);
  return n;
}

/** Write a report file whole (its folder made if needed). */
const writeOut = (file: string, text: string): Promise<void> => writeAtomically(file, text, { makeDir: true });

export default defineCommand({
  meta: { name: 'bench', description: 'Benchmark models on the devices that load here (latency, fps, memory, FLOPs); --tune for CPU options.' },
  args,
  async run({ args: a, rawArgs }) {
    rejectUnknownFlags(rawArgs, args);
    const log = (l: string): void => void process.stderr.write(`${l}\n`);
    const models = a.model !== undefined ? list(a.model, '') : bundledModels().length ? bundledModels() : [DEFAULT_MODEL];
    const devices = oneOf('devices', a.devices, DEVICES.join(','), DEVICES);
    const precisions = oneOf<Precision>('precision', a.precision, 'fp32,fp16', ['fp32', 'fp16']);
    const modes = oneOf<BenchMode>('modes', a.modes, 'standard,video', ['standard', 'video']);
    const sizes = list(a.sizes, '640x360,1280x720,1920x1080').map(parseFrameSize);
    if (!models.length || !sizes.length) throw usageError('nothing to measure: give at least one --model and one --sizes value');
    const threads = count('threads', a.threads, 1);
    const measure: MeasureOptions = {
      ...(a.warmup !== undefined ? { warmup: count('warmup', a.warmup, 0)! } : {}),
      ...(a.runs !== undefined ? { minRuns: count('runs', a.runs, 1)! } : {}),
      ...(a.maxRuns !== undefined ? { maxRuns: count('max-runs', a.maxRuns, 1)! } : {}),
      ...(a.time !== undefined ? { maxSeconds: count('time', a.time, 0)! } : {}),
      ...(threads !== undefined ? { threads } : {}),
    };
    const videoFrames = count('video-frames', a.videoFrames, 1);
    if (a.video !== undefined && !existsSync(a.video)) throw usageError(`--video ${a.video}: no such file`);
    const childEnv: Record<string, string> = {};
    if (a.swiftshader) {
      if (!existsSync(SWIFTSHADER)) throw usageError(`--swiftshader: ${SWIFTSHADER} not found (install chromium, or point VK_ICD_FILENAMES at a Vulkan driver)`);
      // Dawn reads this when the first WebGPU device is created: set it before any session exists.
      process.env.VK_ICD_FILENAMES = childEnv.VK_ICD_FILENAMES = SWIFTSHADER;
    }
    const release = claimInterrupt();
    try {
      if (a.tune) {
        const size = sizes[0]!;
        const video = modes[0] === 'video';
        const r = await tuneCpu({
          model: models[0],
          size,
          video,
          log,
          ...(measure.maxSeconds !== undefined ? { secondsPerDimension: measure.maxSeconds } : {}),
        });
        process.stdout.write(`${formatTune(r, `${models[0]}, ${size.width}x${size.height}, ${video ? 'video' : 'standard'} mode, ${benchEnv().cpu}`)}\n`);
        return;
      }
      const env = benchEnv();
      const { rows, skipped } = await runMatrix({ models, devices, precisions, modes, sizes, measure, env, childEnv, isolate: a.isolate !== false, paired: a.paired === true, log, signal: interrupted });
      let pipeline: BenchReport['pipeline'];
      if (a.video !== undefined) {
        const pick = pipelineChoice(rows);
        log(`end-to-end pipeline on ${a.video} with ${models[0]}, ${pick.device} ${pick.precision}...`);
        pipeline = await benchPipeline({ file: a.video, model: models[0]!, ...pick, env, log, signal: interrupted, ...(videoFrames ? { frames: videoFrames } : {}) });
      }
      const report: BenchReport = { env, rows, skipped, ...(pipeline ? { pipeline } : {}), command: `paragon bench ${rawArgs.join(' ')}` };
      process.stdout.write(formatReport(report));
      if (a.json) await writeOut(a.json, formatJson(report));
      const svg = a.svg ?? (a.markdown ? a.markdown.replace(/\.md$/i, '') + '.svg' : undefined);
      if (svg) await writeOut(svg, renderChart(rows, `paragon bench ${env.date.slice(0, 10)}: ${env.cpu}${env.gpus.length ? `; ${env.gpus[0]}` : ''}`));
      if (a.markdown) await writeOut(a.markdown, formatMarkdown(report, svg && path.relative(path.dirname(path.resolve(a.markdown)), path.resolve(svg))));
    } finally {
      release();
    }
  },
});
