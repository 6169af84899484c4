/**
 * `paragon degrade TRUTH -o LR.mkv [--scale 2] [--noise SIGMA --seed S] [--crf Q]`: make a test
 * input from ground-truth frames (MATLAB bicubic downscale, seeded Gaussian noise, optional H.264
 * round trip), stored losslessly as FFV1 so only the chosen degradation is measured.
 */
import { defineCommand, type ArgsDef } from 'citty';
import { usageError } from '../errors.ts';
import { writeDegraded } from '../eval/degrade.ts';
import { locateFfmpeg } from '../video/ffmpeg.ts';
import { rejectUnknownFlags } from './args.ts';
import { claimInterrupt, interrupted } from './interrupt.ts';

const args = {
  truth: { type: 'positional', required: true, description: 'Folder of ground-truth frames (or a video)' },
  output: { type: 'string', alias: 'o', required: true, description: 'Output video (.mkv or .mov; FFV1, lossless RGB)' },
  scale: { type: 'string', default: '2', description: 'Downscale factor (MATLAB bicubic, antialiased)' },
  noise: { type: 'string', description: 'Gaussian noise σ on the 0–255 scale, added to each downscaled frame' },
  seed: { type: 'string', description: 'Noise seed (default 1; same seed, same noise)' },
  crf: { type: 'string', description: 'Lossy H.264 round trip at this CRF after the noise' },
  fps: { type: 'string', default: '25', description: 'Frame rate written' },
  ffmpeg: { type: 'string', description: 'ffmpeg binary to use' },
} as const satisfies ArgsDef;

/** A numeric flag, or undefined when absent. */
function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw usageError(`--${name} ${v}: expected a number`);
  return n;
}

export default defineCommand({
  meta: { name: 'degrade', description: 'Make a low-resolution test video from ground-truth frames (downscale, noise, compression), stored losslessly.' },
  args,
  async run({ args: a, rawArgs }) {
    rejectUnknownFlags(rawArgs, args);
    const fps = num('fps', a.fps) ?? 25;
    if (!(fps > 0 && fps <= 1000)) throw usageError(`--fps ${a.fps}: expected a rate in (0, 1000]`);
    const tools = a.ffmpeg !== undefined ? locateFfmpeg({ ffmpeg: a.ffmpeg }) : undefined;
    const release = claimInterrupt();
    try {
      const r = await writeDegraded(a.truth, a.output, {
        scale: num('scale', a.scale) ?? 2,
        noise: num('noise', a.noise) ?? 0,
        seed: num('seed', a.seed) ?? 1,
        crf: num('crf', a.crf),
        fps,
        tools,
        signal: interrupted,
        onNotice: (line) => process.stderr.write(`paragon: ${line}\n`),
      });
      process.stdout.write(`${a.output}: ${r.frames} frames ${r.width}x${r.height}\n`);
    } finally {
      release();
    }
  },
});
