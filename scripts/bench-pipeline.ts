/**
 * End-to-end video throughput of `paragon upscale` beside the throughput of the frame engine alone,
 * on the same clip with the same settings: how much of the model's speed the pipeline keeps.
 *
 *   npx tsx scripts/bench-pipeline.ts [--size 640x360] [--frames 240] [--model M] [--device cpu]
 *                                      [--threads N] [--codec x264] [--preset medium] [--crf N]
 *                                      [--temporal auto|W] [--clip FILE] [--rounds 3]
 *
 * Model only, two ways, the clip's frames decoded and converted into memory first:
 * - "model": the ONNX session alone in its worker, frames fed back to back, the feature state
 *   carried from run to run inside the worker, no padding, no copies, no checks — the fastest the
 *   model runs with these settings, and the number the pipeline is held to;
 * - "engine": the same frames through the TemporalUpscaler one after the other (awaiting each),
 *   state carried, scene cuts from the same detector.
 * Pipeline: the real
 * `paragon upscale` command (probe, decode, infer, encode in segments, join with the audio), timed
 * two ways: end to end (everything, model loading included) and steady: the rate between its
 * progress reports at 10% and at 90% of the frames, so that neither the first frames (loading,
 * ORT's first-run allocations, which the model-alone number leaves out too) nor the last (the
 * encoder's lookahead flushed, the join with the audio) count. Each round measures the model
 * alone right before and right after the pipeline and holds the pipeline to the mean of the two,
 * so a machine whose speed drifts (a shared VM's does, by 10–25% over tens of seconds) hurts both
 * alike. CPU per frame: the model alone (all threads of its
 * process) and the whole `paragon upscale` run with its ffmpeg processes (loading included).
 * The clip (default) is generated: a moving test pattern with audio, H.264, at --size.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { backToBack } from './back-to-back.ts';
import { resolveModel } from '../src/runtime/model.ts';
import { ModelSession } from '../src/runtime/session.ts';
import { wire } from '../src/runtime/tensor.ts';
import { rolesOf } from '../src/temporal/roles.ts';
import type { VideoReport } from '../src/pipeline/video.ts';
import { parseDevice } from '../src/runtime/devices.ts';
import { openUpscaler } from '../src/temporal/open.ts';
import { SceneCutDetector } from '../src/temporal/scene-cut.ts';
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
    temporal: { type: 'string', default: 'auto' },
    clip: { type: 'string' },
    rounds: { type: 'string', default: '3' },
  },
});
const size = a.size ?? '640x360';
const [W, H] = size.split('x').map(Number) as [number, number];
const count = Number(a.frames);
const weight: number | 'auto' = a.temporal === 'auto' ? 'auto' : Number(a.temporal);
const cpu = a.threads !== undefined ? { intraOpThreads: Number(a.threads) } : {};
const device = parseDevice(a.device);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
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

type Decoded = { width: number; height: number; rgb: Float32Array; cut: boolean };
const frames: Decoded[] = [];
{
  const detector = new SceneCutDetector();
  for await (const f of decodeFrames(clip, { maxFrames: count })) frames.push({ width: f.width, height: f.height, rgb: framePlanes(f), cut: detector.push(f).cut });
}

/** The session alone: frames back to back, the state kept in the worker (see back-to-back.ts). */
async function modelAlone(): Promise<{ fps: number; cpuMs: number }> {
  const resolved = await resolveModel(a.model, { mode: weight === 0 ? 'standard' : 'video' });
  await using s = await ModelSession.create(resolved.bytes, { device, cpu });
  const roles = rolesOf(resolved.info.file, s.inputs, s.outputs);
  const video = roles.mode === 'video';
  const feeds = (f: Decoded, first: boolean) => {
    const dims = [1, 3, f.height, f.width];
    const fd: Record<string, ReturnType<typeof wire>> = { [roles.input]: wire(f.rgb.slice(), dims, roles.types[roles.input]) };
    if (video) {
      // 'auto' feeds a per-pixel map (its values do not change the work); W a scalar.
      fd[roles.alpha!] =
        weight === 'auto' && !first
          ? wire(new Float32Array(f.width * f.height).fill(0.5), [1, 1, f.height, f.width], roles.types[roles.alpha!])
          : wire(Float32Array.of(first || weight === 'auto' ? 0 : weight), [1, 1, 1, 1], roles.types[roles.alpha!]);
      if (first) fd[roles.prev!] = wire(new Float32Array(resolved.info.channels! * f.width * f.height), [1, resolved.info.channels!, f.height, f.width], roles.types[roles.prev!]);
    }
    return fd;
  };
  const carry = video ? { input: roles.prev!, output: roles.feature! } : undefined;
  await s.runCarried(feeds(frames[0]!, true), carry); // warm-up (first-run allocations), not timed
  const m = await backToBack(s, frames.map((f, i) => feeds(f, i === 0)), carry);
  return { fps: 1000 / m.ms, cpuMs: m.cpuMs };
}

/** The frame engine alone: frames already decoded and converted, one after the other. */
async function engineAlone(): Promise<number> {
  await using up = await openUpscaler(a.model, { mode: 'video', historyWeight: weight, device, cpu });
  await up.process(frames[0]!); // warm-up (first-run allocations), not timed
  const t = performance.now();
  for (const f of frames) await up.process(f, { cut: f.cut });
  return frames.length / ((performance.now() - t) / 1000);
}

/**
 * The real `paragon upscale` command in a process of its own, as a user runs it (the CLI lowers
 * the priority of everything but the model's threads, which a process can do only once);
 * returns end-to-end and steady fps, from its JSON progress lines and its report.
 */
async function pipeline(round: number): Promise<{ endToEnd: number; steady: number; cpuMs: number; report: VideoReport }> {
  const out = path.join(dir, `out-${round}.${a.codec === 'vp9' ? 'webm' : 'mkv'}`);
  const reportFile = path.join(dir, `report-${round}.json`);
  const args = [
    'bin/paragon.js', 'upscale', clip!, '-o', out, '--device', a.device ?? 'cpu', '--progress', 'json', '--report', reportFile,
    '--frames', `0:${count}`, '--codec', a.codec ?? 'x264', '--temporal', String(weight),
    ...(a.model !== undefined ? ['--model', a.model] : []),
    ...(a.threads !== undefined ? ['--threads', a.threads] : []),
    ...(a.preset !== undefined ? ['--preset', a.preset] : []),
    ...(a.crf !== undefined ? ['--crf', a.crf] : []),
  ];
  const c0 = childCpu();
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  // Progress reports inside the middle 80% of the frames (see the module comment).
  let first: { frames: number; t: number } | undefined;
  let last: { frames: number; t: number } | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    const e = JSON.parse(line) as { event: string; frames?: number };
    if (e.event !== 'progress' || e.frames === undefined) continue;
    const p = { frames: e.frames, t: performance.now() };
    if (p.frames >= 0.1 * frames.length) first ??= p;
    if (p.frames <= 0.9 * frames.length) last = p;
  }
  const code = await new Promise<number | null>((r) => child.on('close', r));
  const cpuMs = ((childCpu() - c0) * 1000) / frames.length;
  if (code !== 0) throw new Error(`paragon upscale exited with ${code}`);
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as VideoReport;
  const steady = first && last && last.frames > first.frames ? (last.frames - first.frames) / ((last.t - first.t) / 1000) : report.fps;
  return { endToEnd: report.fps, steady, cpuMs, report };
}

/**
 * CPU seconds of this process's finished children and theirs (Linux: cutime + cstime of
 * /proc/self/stat, in clock ticks of 1/100 s), so the pipeline's ffmpeg processes count too; 0
 * elsewhere.
 */
function childCpu(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return 0;
  }
}
const f = (v: number): string => v.toFixed(2).padStart(7);
console.log(`load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${os.availableParallelism()} cores; clip ${clip} (${size}), ${frames.length} frames`);
console.log(`model ${a.model ?? 'bundled default'}, device ${a.device}, threads ${a.threads ?? 'all'}, W ${weight}, codec ${a.codec} ${a.preset ?? '(default preset)'}`);
console.log('round  model fps (before/after)  engine fps  pipeline fps (end to end)  (steady)  steady/model  cpu ms/frame model/pipeline  stages decode/infer/encode s');
const ratios: number[] = [];
for (let r = 0; r < Number(a.rounds); r++) {
  // The model alone right before and right after the pipeline, against the machine's drift.
  const before = await modelAlone();
  const e = await engineAlone();
  const p = await pipeline(r);
  const after = await modelAlone();
  const m = (before.fps + after.fps) / 2;
  const ratio = p.steady / m;
  ratios.push(ratio);
  const st = p.report.stages;
  const cpu = `${((before.cpuMs + after.cpuMs) / 2).toFixed(0)}/${p.cpuMs.toFixed(0)}`;
  console.log(
    `${String(r + 1).padStart(5)}  ${f(before.fps)} / ${f(after.fps).trim().padEnd(6)}         ${f(e)}     ${f(p.endToEnd)}                   ${f(p.steady)}   ${(100 * ratio).toFixed(1).padStart(6)} %     ${cpu.padStart(9)}                      ${st.decode.toFixed(1)}/${st.infer.toFixed(1)}/${st.encode.toFixed(1)}`,
  );
}
const sorted = [...ratios].sort((x, y) => x - y);
const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
console.log(`pipeline keeps ${(100 * median).toFixed(1)} % of the model-alone throughput (median of ${ratios.length} rounds; best ${(100 * sorted.at(-1)!).toFixed(1)} %; target ≥ 90 %)`);
