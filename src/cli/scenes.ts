/**
 * `paragon scenes VIDEO [--json]`: the hard cuts of a video, as found by the scene-cut detector the
 * upscaler uses to reset its temporal state. `frame` is the 0-based index of the first frame of
 * the new shot, `time` its timestamp in seconds.
 */
import { defineCommand, type ArgsDef } from 'citty';
import { detectScenes } from '../api/scenes.ts';
import { describeTools, locateFfmpeg } from '../video/ffmpeg.ts';
import { rejectUnknownFlags } from './args.ts';

const args = {
  video: { type: 'positional', required: true, description: 'Video file' },
  json: { type: 'boolean', description: 'Print {"cuts": [{"frame", "time"}, ...]} on stdout' },
  ffmpeg: { type: 'string', description: 'ffmpeg binary to use (ffprobe is looked for beside it)' },
  verbose: { type: 'boolean', description: 'Say which ffmpeg/ffprobe are used (stderr)' },
} as const satisfies ArgsDef;

/** Seconds as m:ss.mmm. */
const clock = (t: number): string => `${Math.floor(t / 60)}:${(t % 60).toFixed(3).padStart(6, '0')}`;

export default defineCommand({
  meta: { name: 'scenes', description: 'List the hard scene cuts of a video (the frames where temporal state is reset).' },
  args,
  async run({ args: a, rawArgs }) {
    rejectUnknownFlags(rawArgs, args);
    if (a.verbose) process.stderr.write(`paragon: ${describeTools(locateFfmpeg({ ffmpeg: a.ffmpeg }))}\n`);
    const { cuts, frames } = await detectScenes(a.video, a.ffmpeg !== undefined ? { ffmpeg: a.ffmpeg } : {});
    const rounded = cuts.map((c) => ({ frame: c.frame, time: Math.round(c.time * 1000) / 1000 }));
    if (a.json) {
      process.stdout.write(`${JSON.stringify({ cuts: rounded })}\n`);
      return;
    }
    const lines = [`${a.video}: ${frames} frames, ${cuts.length} cut${cuts.length === 1 ? '' : 's'}`];
    for (const c of cuts) lines.push(`  frame ${c.frame} at ${clock(c.time)} (score ${c.score.toFixed(2)})`);
    process.stdout.write(`${lines.join('\n')}\n`);
  },
});
