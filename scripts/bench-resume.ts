/**
 * What an interruption costs: a 750-frame clip (30 s at 25 fps, 320×180, with audio, two shots)
 * upscaled fresh, then upscaled again but stopped half-way (a real SIGINT after frame 374, through
 * the PARAGON_TEST_INTERRUPT seam) and resumed. Prints the wall time of each run, the frames the
 * resumed run inferred and encoded again, and checks that the resumed output has the fresh run's
 * packets. Also the spool's own price for lossy codecs: one core's time to write the frames
 * losslessly (FFVHuff) at the output size.
 *
 *   npx tsx scripts/bench-resume.ts [--codecs ffv1,x264] [--frames 750] [--size 320x180] [--priority idle|nice|off]
 *
 * The CLI runs as the user runs it (bin/paragon.js); the machine's load average is printed before
 * and after, since a shared machine moves every number.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { locateFfmpeg } from '../src/video/ffmpeg.ts';

const { values: a } = parseArgs({
  options: {
    codecs: { type: 'string', default: 'ffv1,x264' },
    frames: { type: 'string', default: '750' },
    size: { type: 'string', default: '320x180' },
    priority: { type: 'string', default: 'idle' },
  },
});
const N = Number(a.frames);
const [W, H] = a.size!.split('x').map(Number) as [number, number];
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { ffmpeg } = locateFfmpeg();
const dir = mkdtempSync(path.join(os.tmpdir(), 'paragon-bench-resume-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const load = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');

function run(bin: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; seconds: number; stderr: string }> {
  const t = performance.now();
  return new Promise((resolve) => {
    execFile(bin, args, { env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (err, _out, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, seconds: (performance.now() - t) / 1000, stderr }),
    );
  });
}

const paragon = (args: string[], env?: Record<string, string>) =>
  run(process.execPath, [path.join(root, 'bin', 'paragon.js'), 'upscale', ...args, '--priority', a.priority!], env);

/** One line per packet (pts, size, md5) of a stream. */
async function packets(file: string, stream: string): Promise<string> {
  const r = spawnSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-i', file, '-map', `0:${stream}`, '-c', 'copy', '-f', 'framemd5', '-'], { maxBuffer: 256 << 20 });
  return r.stdout.toString().split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',').slice(2).join(',')).join('\n');
}

console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load average ${load()}`);
const src = path.join(dir, 'clip.mp4');
const half = N / 2;
const gen = await run(ffmpeg, [
  '-hide_banner', '-loglevel', 'error', '-y',
  '-f', 'lavfi', '-i', `testsrc2=s=${W}x${H}:r=25:d=${half / 25}`, '-f', 'lavfi', '-i', `mandelbrot=s=${W}x${H}:r=25,trim=duration=${(N - half) / 25}`,
  '-f', 'lavfi', '-i', `sine=f=330:d=${N / 25}`,
  '-filter_complex', '[0][1]concat=n=2:v=1,format=yuv420p[v]', '-map', '[v]', '-map', '2', '-c:v', 'libx264', '-preset', 'fast', '-c:a', 'aac', src,
]);
if (gen.code !== 0) throw new Error(gen.stderr);

const rows: string[] = [];
for (const codec of a.codecs!.split(',')) {
  const ext = codec === 'ffv1' ? 'mkv' : 'mp4';
  const settings = [src, '--codec', codec, ...(codec === 'ffv1' ? [] : ['--preset', 'medium'])];
  const fresh = await paragon([...settings, '-o', path.join(dir, `fresh-${codec}.${ext}`)]);
  if (fresh.code !== 0) throw new Error(fresh.stderr);
  const out = path.join(dir, `resumed-${codec}.${ext}`);
  const stopped = await paragon([...settings, '-o', out], { PARAGON_TEST_INTERRUPT: `frame=${half - 1}:SIGINT` });
  if (stopped.code !== 130) throw new Error(`expected exit 130, got ${stopped.code}: ${stopped.stderr}`);
  const report = path.join(dir, `resumed-${codec}.json`);
  const resumed = await paragon([...settings, '-o', out, '--resume', '--report', report]);
  if (resumed.code !== 0) throw new Error(resumed.stderr);
  const rep = JSON.parse(readFileSync(report, 'utf8'));
  const same = (await packets(out, 'v:0')) === (await packets(path.join(dir, `fresh-${codec}.${ext}`), 'v:0'));
  rows.push(
    `| ${codec} | ${fresh.seconds.toFixed(1)} | ${stopped.seconds.toFixed(1)} | ${rep.resumedFrames} | ${resumed.seconds.toFixed(1)} | ${((100 * resumed.seconds) / fresh.seconds).toFixed(0)}% | ${rep.inferredFrames} | ${rep.reencodedFrames} | ${same ? 'yes' : '**no**'} |`,
  );
  console.log(rows.at(-1));
}

// The spool's price: the output frames written losslessly by one core (what a lossy run adds).
const t = performance.now();
const spool = await run(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=s=${2 * W}x${2 * H}:r=25,noise=alls=6:allf=t`, '-frames:v', '200', '-pix_fmt', 'gbrp', '-c:v', 'ffvhuff', '-threads', '1', path.join(dir, 'spool.mkv')]);
if (spool.code !== 0) throw new Error(spool.stderr);
const spoolMs = (performance.now() - t) / 200;

console.log(`\n| codec | fresh s | stopped after s | frames saved | resumed s | resumed/fresh | inferred on resume | encoded again | same packets |`);
console.log(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |`);
for (const r of rows) console.log(r);
console.log(`\nspool (FFVHuff, one thread) at ${2 * W}x${2 * H}: ${spoolMs.toFixed(2)} ms a frame, lavfi source included`);
console.log(`load average after: ${load()}`);
