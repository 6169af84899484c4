/**
 * `paragon eval OUTPUT TRUTH`: score an upscaled video or frame folder against ground-truth frames,
 * per frame and on average: PSNR-Y, SSIM and temporal error (see src/eval/evaluate.ts). Prints
 * the means; `--json` prints the whole report, `--report` writes it, `--chart` draws it as SVG.
 */
import { writeFile } from 'node:fs/promises';
import { defineCommand, type ArgsDef } from 'citty';
import { ParagonError, usageError } from '../errors.ts';
import { chartSvg } from '../eval/chart.ts';
import { evaluateSequences, reportJson } from '../eval/evaluate.ts';
import { openSequence } from '../eval/sequence.ts';
import { locateFfmpeg } from '../video/ffmpeg.ts';
import { rejectUnknownFlags } from './args.ts';
import { claimInterrupt, interrupted } from './interrupt.ts';

const args = {
  output: { type: 'positional', required: true, description: 'Upscaled video file or folder of frames' },
  truth: { type: 'positional', required: true, description: 'Ground-truth video file or folder of frames (same count)' },
  border: { type: 'string', default: '4', description: 'Pixels cropped from each edge before measuring' },
  roundY: { type: 'boolean', description: 'Round Y to integers (MATLAB rgb2ycbcr on uint8) instead of BasicSR unrounded Y' },
  ssim: { type: 'boolean', default: true, description: 'Compute SSIM (--no-ssim: faster)' },
  json: { type: 'boolean', description: 'Print the full JSON report (per-frame and mean) on stdout' },
  report: { type: 'string', description: 'Write the JSON report to this file' },
  chart: { type: 'string', description: 'Write an SVG chart of per-frame PSNR-Y and temporal error to this file' },
  ffmpeg: { type: 'string', description: 'ffmpeg binary to use for video inputs' },
} as const satisfies ArgsDef;

async function save(file: string, text: string): Promise<void> {
  await writeFile(file, text).catch((e: NodeJS.ErrnoException) => {
    throw new ParagonError(e.code === 'ENOSPC' ? 'resources' : 'media', `cannot write: ${e.code ?? e.message}`, { file, cause: e });
  });
}

export default defineCommand({
  meta: { name: 'eval', description: 'Score an upscaled video or frame folder against ground truth: PSNR-Y, SSIM, temporal error.' },
  args,
  async run({ args: a, rawArgs }) {
    rejectUnknownFlags(rawArgs, args);
    const border = Number(a.border);
    if (!Number.isInteger(border) || border < 0) throw usageError(`--border ${a.border}: expected an integer ≥ 0`);
    const tools = a.ffmpeg !== undefined ? locateFfmpeg({ ffmpeg: a.ffmpeg }) : undefined;
    const release = claimInterrupt();
    try {
      const tool = { tools, signal: interrupted };
      const report = await evaluateSequences(await openSequence(a.output, tool), await openSequence(a.truth, tool), {
        border,
        roundY: a.roundY === true,
        ssim: a.ssim !== false,
      });
      const json = reportJson(report);
      if (a.report !== undefined) await save(a.report, `${json}\n`);
      if (a.chart !== undefined) await save(a.chart, chartSvg([{ label: a.output, frames: report.perFrame }], `${a.output} vs ${a.truth}`));
      if (a.json) {
        process.stdout.write(`${json}\n`);
        return;
      }
      const m = report.mean;
      const parts = [`PSNR-Y ${m.psnr.toFixed(3)} dB`];
      if (m.ssim !== undefined) parts.push(`SSIM ${m.ssim.toFixed(4)}`);
      if (m.temporalError !== undefined) parts.push(`temporal error ${m.temporalError.toFixed(3)}`);
      process.stdout.write(`${a.output}: ${report.frames} frames ${report.width}x${report.height}, border ${border}: ${parts.join(', ')}\n`);
    } finally {
      release();
    }
  },
});
