/**
 * `paragon upscale INPUT -o OUTPUT`: an image, a folder of images (mirrored into the output
 * folder), or a video. Flags map one to one onto {@link upscale} (src/api/upscale.ts).
 *
 * `--temporal W` is the weight of the PREVIOUS frame's features (the reference code's `alpha`):
 * 0 = the current frame only, larger = smoother. The seed guide states the opposite convention
 * (W as the weight of the current frame); paragon follows the reference code. The default, `auto`,
 * moves the history with the camera and gives each pixel its own weight from how much the
 * low-resolution frame changed there against it, up to the measured noise (docs/temporal.md): no
 * history on clean video, less flicker on noisy scenes, still or panning.
 */
import { defineCommand } from 'citty';
import { usageError } from '../errors.ts';
import { parseDevice } from '../runtime/devices.ts';
import { upscale } from '../api/upscale.ts';
import { parseFrames } from '../pipeline/video.ts';
import { VIDEO_CODECS, type VideoCodec } from '../video/containers.ts';
import { intFlag, rejectUnknownFlags } from './args.ts';
import { claimInterrupt, interrupted } from './interrupt.ts';

/** `--temporal auto|W` / `--no-temporal` → history weight (undefined = the default, auto). */
function historyWeight(v: string | boolean | undefined): number | 'auto' | undefined {
  if (v === undefined || v === true) return undefined;
  if (v === false) return 0;
  if (v.trim().toLowerCase() === 'auto') return 'auto';
  const w = Number(v);
  if (v.trim() === '' || !Number.isFinite(w) || w < 0 || w >= 1) throw usageError(`--temporal ${v}: expected auto or a history weight in [0, 1)`);
  return w;
}

const argsDef = {
  input: { type: 'positional', required: true, description: 'Image, folder or video' },
  output: { type: 'string', alias: 'o', required: true, description: 'Output image (.png) or folder; for a video, a .mp4, .mkv, .mov or .webm file' },
  model: { type: 'string', alias: 'm', description: 'Checkpoint (.safetensors), ONNX file or bundled model name (default paragon-realtime-2x)' },
  device: { type: 'string', default: 'auto', description: 'auto | cpu | webgpu | cuda | tensorrt (falls back to cpu with a notice)' },
  tile: { type: 'string', description: 'Tile size in input pixels (0 = whole frame; halved automatically on out-of-memory)' },
  fp16: { type: 'boolean', description: 'Half-precision graph (checkpoints); frames that overflow are rerun at fp32' },
  temporal: {
    type: 'string',
    description: 'Video: auto (default: a history of the input\'s own pixels, moved with the camera and kept per pixel by how much each part of the frame changed against it, none on clean video) or a fixed weight W of the previous frame\'s features, 0 = current frame only (the reference blend is 0.2; the seed guide states the opposite convention); --no-temporal = 0',
  },
  recursive: { type: 'boolean', alias: 'r', description: 'Include subfolders (mirrored in the output)' },
  codec: { type: 'string', description: `Video codec: ${VIDEO_CODECS.join(', ')} (default: x264; vp9 for .webm)` },
  crf: { type: 'string', description: 'Video quality (codec scale; default x264 18, x265 20, av1 26, vp9 24)' },
  preset: { type: 'string', description: 'Encoder speed preset (x264/x265 names; SVT-AV1 0-13; vp9 cpu-used)' },
  ffmpeg: { type: 'string', description: 'ffmpeg binary to use (ffprobe is looked for beside it)' },
  frames: { type: 'string', description: 'Video: only source frames FROM:TO (0-based, TO excluded; e.g. 0:240, 1000:)' },
  resume: {
    type: 'boolean',
    description:
      'Video: continue an interrupted run (Ctrl+C, SIGTERM, SIGHUP: exit 130, 143, 129; a second signal quits at once) from its checkpoint; only unsaved frames are inferred, and the output equals an uninterrupted run',
  },
  checkpoint: {
    type: 'string',
    description:
      'Video: frames per segment (default 240), each encoded on its own from a keyframe; a checkpoint is saved at each segment end and every 30 s (PARAGON_CHECKPOINT_SECONDS). Lossy codecs keep the open segment losslessly until it closes (240 frames at 1080p: ~1 GB)',
  },
  report: { type: 'string', description: 'Write a JSON report of the run to this file' },
  progress: { type: 'string', description: "'json': one JSON object per update on stdout; 'text' (default): a bar when stderr is a terminal" },
  threads: { type: 'string', description: 'CPU threads per operator (default: all cores)' },
  queue: { type: 'string', description: 'Video: upscale on a farm of `paragon worker`s through this Redis (redis://HOST:PORT[/DB]); see docs/farm.md' },
  storage: { type: 'string', description: "With --queue: the farm's shared folder as mounted here; the input (and a model file) must be inside it" },
  chunk: { type: 'string', description: `With --queue: most frames per chunk (default 600); chunks start at scene cuts where they can` },
  preroll: { type: 'string', description: 'With --queue: frames run before a chunk that starts inside a shot, to warm the temporal state (default 32)' },
  'redis-timeout': { type: 'string', description: 'With --queue: seconds Redis may be unreachable before the run gives up (default 30)' },
  priority: {
    type: 'string',
    description:
      "Video, Linux: idle (default: every thread but the model's, and ffmpeg, run only on cores the model leaves free — fastest on a machine left to the job, but paused while other programs keep every core busy) | nice (niceness 10: slower, never paused) | off",
  },
} as const;

export default defineCommand({
  meta: {
    name: 'upscale',
    description:
      'Upscale an image, a folder of images or a video. Images become PNG (16-bit in → 16-bit out, alpha kept); complete outputs are skipped. Videos keep their timestamps, audio and subtitles; the container follows the output extension (.mp4 .mkv .mov .webm).',
  },
  args: argsDef,
  async run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, argsDef);
    if (args.progress !== undefined && args.progress !== 'json' && args.progress !== 'text')
      throw usageError(`--progress ${args.progress}: expected json or text`);
    const tile = intFlag('tile', args.tile);
    const threads = intFlag('threads', args.threads, 1);
    const priority = args.priority ?? 'idle';
    if (priority !== 'idle' && priority !== 'nice' && priority !== 'off') throw usageError(`--priority ${priority}: expected idle, nice or off`);
    const crf = intFlag('crf', args.crf);
    const checkpoint = intFlag('checkpoint', args.checkpoint, 1);
    const w = historyWeight(args.temporal as string | boolean | undefined);
    if (args.codec !== undefined && !(VIDEO_CODECS as readonly string[]).includes(args.codec))
      throw usageError(`--codec ${args.codec}: expected one of ${VIDEO_CODECS.join(', ')}`);
    const frames = args.frames !== undefined ? parseFrames(args.frames) : undefined;
    const json = args.progress === 'json';
    const bar = !json && process.stderr.isTTY === true;
    // A reader of the JSON lines that goes away (`| head`) must not crash the run: the work goes on.
    let reader = true;
    const onStdoutError = (e: NodeJS.ErrnoException): void => {
      if (e.code !== 'EPIPE') throw e;
      reader = false;
    };
    process.stdout.on('error', onStdoutError);
    const farmOnly = (['storage', 'chunk', 'preroll', 'redis-timeout'] as const).filter((k) => args[k] !== undefined);
    if (args.queue === undefined && farmOnly.length > 0) throw usageError(`--${farmOnly[0]} needs --queue`);
    if (args.queue !== undefined && args.storage === undefined) throw usageError('--queue needs --storage DIR: the shared folder every worker mounts');
    if (args.queue !== undefined && checkpoint !== undefined) throw usageError('--checkpoint does not apply with --queue (chunks are the checkpoints)');
    const chunk = intFlag('chunk', args.chunk, 1);
    const preroll = intFlag('preroll', args.preroll);
    const redisTimeout = intFlag('redis-timeout', args['redis-timeout'], 1);
    const release = claimInterrupt();
    try {
      const say = (line: string): void => void process.stderr.write(`paragon: ${line}\n`);
      await upscale(args.input, args.output, {
        ...(args.model !== undefined ? { model: args.model } : {}),
        device: parseDevice(args.device),
        ...(tile !== undefined ? { tile } : {}),
        fp16: args.fp16 === true,
        ...(w !== undefined ? { historyWeight: w } : {}),
        recursive: args.recursive === true,
        ...(threads !== undefined ? { threads } : {}),
        ...(args.report !== undefined ? { report: args.report } : {}),
        ...(args.codec !== undefined ? { codec: args.codec as VideoCodec } : {}),
        ...(crf !== undefined ? { crf } : {}),
        ...(args.preset !== undefined ? { preset: args.preset } : {}),
        ...(args.ffmpeg !== undefined ? { ffmpeg: args.ffmpeg } : {}),
        ...(frames !== undefined ? { frames } : {}),
        ...(checkpoint !== undefined ? { checkpoint } : {}),
        resume: args.resume === true,
        // The CLI owns its process: the model's threads come first (runtime/priority.ts).
        priority,
        onNotice: say,
        ...(json ? { onProgress: (e) => void (reader && process.stdout.write(`${JSON.stringify(e)}\n`)) } : { onProgressLine: say }),
        ...(bar ? { progressBar: (text: string) => void process.stderr.write(text) } : {}),
        ...(args.queue !== undefined
          ? {
              farm: {
                queue: args.queue,
                storage: args.storage!,
                ...(chunk !== undefined ? { chunkFrames: chunk } : {}),
                ...(preroll !== undefined ? { preroll } : {}),
                ...(redisTimeout !== undefined ? { redisTimeout } : {}),
              },
            }
          : {}),
        signal: interrupted,
      });
    } finally {
      release();
    }
  },
});
