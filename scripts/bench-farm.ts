/**
 * The farm on one machine: the same video through `paragon upscale` alone, then through a Redis
 * queue and 1, 2, 3… `paragon worker` processes, with the coordinator's own work (planning: one
 * full decode with scene-cut detection; joining: a stream copy) and the workers' per-chunk costs
 * (model load, seeking decode, pre-roll frames) measured, from which the scaling on N machines
 * follows (docs/farm.md).
 *
 *   npx tsx scripts/bench-farm.ts [--clip FILE] [--size 640x272] [--workers 1,2,3] [--chunk 60]
 *                                 [--preroll 32] [--threads N] [--codec x264] [--temporal auto]
 *                                 [--noisy]
 *
 * The clip (default) is the film clip of ../shared (cuts at 90 and 210) scaled to --size, audio
 * and rotation kept; without ../shared, a generated clip with two cuts. Each worker gets
 * --threads ORT threads (default: the cores divided among the workers), so the machine's cores
 * are shared as a farm of small machines would have them.
 *
 * Each farm output is also compared with the single-process one, frame by frame (RGB 8-bit):
 * the worst frame's PSNR and the largest sample difference (∞ and 0 where every frame is equal,
 * as with FFV1 and chunks that start at cuts). `--noisy` makes the clip a single noisy, nearly
 * still shot of 120 frames at --size (Mandelbrot under σ 12 temporal noise), the case where a
 * pre-roll converges slowest under `--temporal auto`: run it with `--codec ffv1` to measure what
 * `--preroll` gives (docs/farm.md).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { VideoReport } from '../src/pipeline/video.ts';
import { locateFfmpeg } from '../src/video/ffmpeg.ts';

const { values: a } = parseArgs({
  options: {
    clip: { type: 'string' },
    size: { type: 'string', default: '640x272' },
    workers: { type: 'string', default: '1,2,3' },
    chunk: { type: 'string', default: '60' },
    preroll: { type: 'string', default: '32' },
    threads: { type: 'string' },
    codec: { type: 'string', default: 'x264' },
    temporal: { type: 'string', default: 'auto' },
    noisy: { type: 'boolean', default: false },
  },
});

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'paragon.js');
const cores = os.availableParallelism?.() ?? os.cpus().length;
const work = mkdtempSync(path.join(os.tmpdir(), 'paragon-bench-farm-'));
const tools = locateFfmpeg();
const ff = tools.ffmpeg;

/** The clip: given, the film clip scaled, or a generated one. */
function clip(): string {
  if (a.clip) return path.resolve(a.clip);
  if (a.noisy) {
    const noisy = path.join(work, 'noisy.mkv');
    execFileSync(ff, ['-v', 'error', '-f', 'lavfi', '-i', `mandelbrot=size=${a.size}:rate=24,noise=alls=12:allf=t+u`, '-frames:v', '120', '-c:v', 'ffv1', noisy]);
    return noisy;
  }
  const out = path.join(work, 'clip.mp4');
  const film = path.resolve(ROOT, '..', 'shared', 'video', 'issue-134-rotate.mp4');
  const [w, h] = a.size!.split('x');
  if (existsSync(film)) execFileSync(ff, ['-v', 'error', '-noautorotate', '-i', film, '-vf', `scale=${w}:${h}`, '-c:v', 'libx264', '-crf', '18', '-c:a', 'copy', out]);
  else
    execFileSync(ff, ['-v', 'error', ...['testsrc2', 'mandelbrot', 'smptebars'].flatMap((s) => ['-f', 'lavfi', '-i', `${s}=s=${a.size}:r=24:d=4`]),
      '-filter_complex', '[0][1][2]concat=n=3:v=1,format=yuv420p', '-c:v', 'libx264', '-crf', '18', out]);
  return out;
}

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });

/** Run `paragon …` and return its --report. */
function run(args: string[], report: string): Promise<VideoReport> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args, '--report', report], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (code) => (code === 0 ? resolve(JSON.parse(readFileSync(report, 'utf8')) as VideoReport) : reject(new Error(`paragon ${args.join(' ')}: exit ${code}\n${err}`))));
  });
}

/** Frames of a video as 8-bit RGB. */
function rgbFrames(file: string): Buffer[] {
  const probe = execFileSync(tools.ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', file]).toString().trim();
  const [w, h] = probe.split(',').map(Number) as [number, number];
  const raw = execFileSync(ff, ['-v', 'error', '-noautorotate', '-i', file, '-map', '0:v:0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 2 ** 31 - 1 });
  const size = w * h * 3;
  return Array.from({ length: raw.length / size }, (_, i) => raw.subarray(i * size, (i + 1) * size));
}

/** The worst frame's PSNR (dB) and the largest sample difference of `file` against `ref`. */
function fidelity(file: string, ref: Buffer[]): string {
  const got = rgbFrames(file);
  if (got.length !== ref.length) return `${got.length} frames against ${ref.length}`;
  let worst = Infinity;
  let max = 0;
  got.forEach((g, i) => {
    const r = ref[i]!;
    let se = 0;
    for (let k = 0; k < g.length; k++) {
      const d = Math.abs(g[k]! - r[k]!);
      if (d > max) max = d;
      se += d * d;
    }
    if (se > 0) worst = Math.min(worst, 10 * Math.log10((255 * 255 * g.length) / se));
  });
  return `${worst === Infinity ? '∞' : worst.toFixed(1)} dB, ${max}`;
}

/** Start n workers; each logs `done in S s (F fps)` per chunk. */
async function workers(n: number, url: string, threads: number): Promise<{ procs: ChildProcess[]; logs: string[] }> {
  const procs: ChildProcess[] = [];
  const logs: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = spawn(process.execPath, [BIN, 'worker', '--queue', url, '--storage', work, '--threads', String(threads), '--name', `w${i}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    logs.push('');
    c.stderr!.on('data', (d: Buffer) => (logs[i] += d.toString()));
    procs.push(c);
  }
  for (let i = 0; i < n; i++) while (!logs[i]!.includes('waiting for chunks')) await new Promise((r) => setTimeout(r, 50));
  return { procs, logs };
}

const src = clip();
const port = await freePort();
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', work, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
const url = `redis://127.0.0.1:${port}`;
await new Promise((r) => setTimeout(r, 300));
const common = ['--codec', a.codec!, '--temporal', a.temporal!];
const load = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');
try {
  console.log(`clip ${src}, ${cores} cores, load ${load()}`);
  const single = await run(['upscale', src, '-o', path.join(work, 'single.mkv'), ...common], path.join(work, 'single.json'));
  console.log(`single process: ${single.frames} frames in ${single.elapsed.toFixed(1)} s = ${single.fps.toFixed(2)} fps`);
  const reference = rgbFrames(path.join(work, 'single.mkv'));
  console.log('workers | threads each | wall s | fps | vs single | plan s | join s | chunks | pre-roll frames | chunk s (mean) | chunk fps (mean) | worst frame vs single, largest difference | load');
  for (const n of a.workers!.split(',').map(Number)) {
    const threads = a.threads !== undefined ? Number(a.threads) : Math.max(1, Math.floor(cores / n));
    const w = await workers(n, url, threads);
    const out = path.join(work, `farm-${n}.mkv`);
    const r = await run(['upscale', src, '-o', out, ...common, '--queue', url, '--storage', work, '--chunk', a.chunk!, '--preroll', a.preroll!], path.join(work, `farm-${n}.json`));
    for (const p of w.procs) p.kill('SIGKILL');
    const chunks = w.logs.flatMap((l) => [...l.matchAll(/done in ([\d.]+) s \(([\d.]+) fps\)/g)].map((m) => [Number(m[1]), Number(m[2])] as const));
    const mean = (k: 0 | 1): number => chunks.reduce((s, c) => s + c[k], 0) / Math.max(1, chunks.length);
    const f = r.farm!;
    console.log(
      `${n} | ${threads} | ${r.elapsed.toFixed(1)} | ${r.fps.toFixed(2)} | ${((100 * r.fps) / single.fps).toFixed(0)}% | ${f.planSeconds.toFixed(2)} | ${f.joinSeconds.toFixed(2)} | ${f.chunks} | ${f.prerollFrames} | ${mean(0).toFixed(2)} | ${mean(1).toFixed(2)} | ${fidelity(out, reference)} | ${load()}`,
    );
  }
} finally {
  redis.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
