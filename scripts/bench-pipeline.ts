/**
 * End-to-end video throughput of `paragon upscale` beside the throughput of the frame engine alone,
 * on the same clip with the same settings: how much of the model's speed the pipeline keeps.
 *
 *   npx tsx scripts/bench-pipeline.ts [--size 640x360] [--frames 240] [--model M] [--device cpu]
 *                                      [--threads N] [--codec x264] [--preset medium] [--crf N]
 *                                      [--temporal 0.2] [--clip FILE] [--rounds 2]
 *
 * Model-only: the clip's frames decoded into memory first, then run one after the other through
 * the same TemporalUpscaler (state carried, scene cuts from the same detector). Pipeline: the real
 * `paragon upscale` path (probe, decode, infer, encode in segments, join with the audio), timed
 * two ways: end to end (everything, model loading included) and steady (first to last frame
 * out). Rounds alternate model-only and pipeline so a busy machine hurts both alike.
 * The clip (default) is generated: a moving test pattern with audio, H.264, at --size.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runUpscale } from '../src/pipeline/job.ts';
import type { VideoReport } from '../src/pipeline/video.ts';
import { parseDevice } from '../src/runtime/devices.ts';
import { openUpscaler } from '../src/temporal/open.ts';
import { SceneCutDetector } from '../src/temporal/scene-cut.ts';
import type { VideoCodec } from '../src/video/containers.ts';
import { decodeFrames } from '../src/video/decode.ts';
import { locateFfmpeg } from '../src/video/ffmpeg.ts';
import { framePlanes } from '../src/video/frame.ts';

const { values: a } = parseArgs({
  options: {
    size: { type: 'string', default: '640x360' },
    frames: { type: 'string', default: '240' },
    model: { type: 'string' },
    device: { type: 'string', default: 'cpu' },
    threads: { type: 'string' },
    codec: { type: 'string', default: 'x264' },
    preset: { type: 'string' },
    crf: { type: 'string' },
    temporal: { type: 'string', default: '0.2' },
    clip: { type: 'string' },
    rounds: { type: 'string', default: '2' },
  },
});
const size = a.size ?? '640x360';
const [W, H] = size.split('x').map(Number) as [number, number];
const count = Number(a.frames);
const weight = Number(a.temporal);
const cpu = a.threads !== undefined ? { intraOpThreads: Number(a.threads) } : {};
const device = parseDevice(a.device);
const dir = mkdtempSync(path.join(os.tmpdir(), 'paragon-bench-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

let clip = a.clip;
if (!clip) {
  clip = path.join(dir, 'clip.mp4');
  const d = (count / 24).toFixed(3);
  execFileSync(locateFfmpeg().ffmpeg, [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=s=${W}x${H}:r=24:d=${d}`, '-f', 'lavfi', '-i', `sine=f=440:d=${d}`,
    '-vf', 'format=yuv420p', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-c:a', 'aac', clip,
  ]);
}

/** The frame engine alone: frames already decoded and converted, run back to back. */
async function modelOnly(): Promise<number> {
  const frames: { width: number; height: number; rgb: Float32Array; cut: boolean }[] = [];
  const detector = new SceneCutDetector();
  for await (const f of decodeFrames(clip!, { maxFrames: count })) frames.push({ width: f.width, height: f.height, rgb: framePlanes(f), cut: detector.push(f).cut });
  await using up = await openUpscaler(a.model, { mode: 'video', historyWeight: weight, device, cpu });
  await up.process(frames[0]!); // warm-up (first-run allocations), not timed
  const t = performance.now();
  for (const f of frames) await up.process(f, { cut: f.cut });
  return frames.length / ((performance.now() - t) / 1000);
}

/** The real pipeline; returns end-to-end and steady fps. */
async function pipeline(round: number): Promise<{ endToEnd: number; steady: number; report: VideoReport }> {
  let first: { frames: number; t: number } | undefined;
  let last: { frames: number; t: number } | undefined;
  const report = (await runUpscale({
    input: clip!,
    output: path.join(dir, `out-${round}.${a.codec === 'vp9' ? 'webm' : 'mkv'}`),
    ...(a.model !== undefined ? { model: a.model } : {}),
    device,
    cpu,
    historyWeight: weight,
    codec: a.codec as VideoCodec,
    ...(a.preset !== undefined ? { preset: a.preset } : {}),
    ...(a.crf !== undefined ? { crf: Number(a.crf) } : {}),
    frames: { from: 0, to: count },
    progress: (e) => {
      if (e.event !== 'progress') return;
      const p = { frames: e.frames as number, t: performance.now() };
      first ??= p;
      last = p;
    },
  })) as VideoReport;
  const steady = first && last && last.frames > first.frames ? (last.frames - first.frames) / ((last.t - first.t) / 1000) : report.fps;
  return { endToEnd: report.fps, steady, report };
}

const f = (v: number): string => v.toFixed(2).padStart(7);
console.log(`load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${os.availableParallelism()} cores; clip ${clip} (${size}), ${count} frames`);
console.log(`model ${a.model ?? 'bundled default'}, device ${a.device}, threads ${a.threads ?? 'all'}, W ${weight}, codec ${a.codec} ${a.preset ?? '(default preset)'}`);
console.log('round  model-only fps  pipeline fps (end to end)  (steady)  steady/model  stages decode/infer/encode s');
const ratios: number[] = [];
for (let r = 0; r < Number(a.rounds); r++) {
  const m = await modelOnly();
  const p = await pipeline(r);
  const ratio = p.steady / m;
  ratios.push(ratio);
  const s = p.report.stages;
  console.log(`${String(r + 1).padStart(5)}  ${f(m)}         ${f(p.endToEnd)}                   ${f(p.steady)}   ${(100 * ratio).toFixed(1).padStart(6)} %     ${s.decode.toFixed(1)}/${s.infer.toFixed(1)}/${s.encode.toFixed(1)}`);
}
const best = Math.max(...ratios);
console.log(`pipeline keeps ${(100 * best).toFixed(1)} % of the model-only throughput (best round; target ≥ 90 %)`);
