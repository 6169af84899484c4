/**
 * Never lose work: a video run stopped by SIGINT, SIGTERM or SIGHUP finishes the frames in the
 * model, keeps every finished frame and exits 130/143/129 with one line and nothing at the output
 * path; one killed outright (SIGKILL) keeps what its last commit held (commits every few frames by
 * time, here every 50 ms) and leaves no ffmpeg running. `--resume` then infers only the frames the
 * checkpoint lacks and writes the same output as an uninterrupted run — the same packets with FFV1
 * and x264, audio included — wherever the run stopped: in the first segment, in a later one, on a
 * scene cut, during the join. Interruptions come at exact frames through the PARAGON_TEST_INTERRUPT
 * seam (src/pipeline/test-hook.ts): the run sends itself a real signal. A checkpoint is never thrown
 * away silently, and a damaged, foreign or mismatched one never makes a wrong video.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lacking } from '../helpers/ffmpeg-features.ts';
import { ffmpeg, ffprobe, videoPts } from '../helpers/media.ts';
import { ROOT } from '../helpers/shared.ts';
import { needModel, packetHashes } from './upscale-helpers.ts';

let dir = '';
let src = '';
const at = (name: string): string => path.join(dir, name);
const checkpointOf = (out: string): string => path.join(dir, '.paragon-resume', path.basename(out));
const X264 = ['--preset', 'ultrafast', '--checkpoint', '16'];
// A fixed blind blend for FFV1, so the state carried across the seam visibly matters (see the first test).
const FFV1 = ['--codec', 'ffv1', '--temporal', '0.2', '--checkpoint', '16'];

interface Run {
  code: number | null;
  signal: string | null;
  stderr: string;
}

/** `paragon upscale` with extra environment (never rejects: the exit is what is tested). */
function paragon(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin', 'paragon.js'), 'upscale', ...args], { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 16 << 20 }, (err, _out, stderr) => {
      const e = err as (Error & { code?: number; signal?: string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stderr });
    });
  });
}

/** Frames the checkpoint of `out` holds (0 when there is none). */
function saved(out: string): number {
  try {
    const m = JSON.parse(readFileSync(path.join(checkpointOf(out), 'progress.json'), 'utf8'));
    const parts = m.open?.parts ?? [];
    return [...m.segments, ...parts].reduce((n: number, s: { frames: number }) => n + s.frames, 0);
  } catch {
    return 0;
  }
}

/** Processes whose command line mentions this test's folder (ffmpeg children of a killed run). */
function ffmpegStillRunning(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (/ff(mpeg|probe)/.test(cmd) && cmd.includes(dir)) out.push(`${pid}: ${cmd.slice(0, 120)}`);
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** Hidden leftovers beside the outputs (temporary files of encodes or joins). */
const leftovers = async (): Promise<string[]> => (await readdir(dir)).filter((n) => n.startsWith('.') && n !== '.paragon-resume');

const refs: Record<string, { out: string; video: string[]; audio: string[] }> = {};

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'paragon-resume-'));
  src = at('clip.mp4');
  // 50 frames at 64×48 with audio; a cut at frame 30, inside the second segment of 16.
  await ffmpeg([
    '-f', 'lavfi', '-i', 'testsrc2=s=64x48:r=25:d=1.2', '-f', 'lavfi', '-i', 'mandelbrot=s=64x48:r=25,trim=duration=0.8',
    '-f', 'lavfi', '-i', 'sine=f=330:d=2.2',
    '-filter_complex', '[0][1]concat=n=2:v=1,format=yuv420p[v]', '-map', '[v]', '-map', '2',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', src,
  ]);
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The uninterrupted run of a codec's settings (made once). */
async function reference(codec: 'ffv1' | 'x264'): Promise<{ out: string; video: string[]; audio: string[] }> {
  if (refs[codec]) return refs[codec]!;
  const out = at(`ref-${codec}.${codec === 'ffv1' ? 'mkv' : 'mp4'}`);
  const r = await paragon([src, ...(codec === 'ffv1' ? FFV1 : X264), '-o', out, '--report', `${out}.json`]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(await readFile(`${out}.json`, 'utf8')).sceneCuts, [30]);
  refs[codec] = { out, video: await packetHashes(out, 'v:0'), audio: await packetHashes(out, 'a:0') };
  return refs[codec]!;
}

/**
 * Stop a run at `when` with `signals`, check how it ended, resume it and check the resumed run
 * redid only what was missing and wrote the reference's packets. Returns the resumed run's report.
 */
async function stopAndResume(
  codec: 'ffv1' | 'x264',
  name: string,
  when: string,
  signals: string,
  expect: { code: number | null; signal?: string; line: RegExp; savedAtLeast: number },
  env: Record<string, string> = {},
  afterStop?: (out: string) => Promise<void>,
): Promise<Record<string, any>> {
  const ref = await reference(codec);
  const settings = codec === 'ffv1' ? FFV1 : X264;
  const out = at(`${name}${path.extname(ref.out)}`);
  const stopped = await paragon([src, ...settings, '-o', out], { PARAGON_TEST_INTERRUPT: `${when}:${signals}`, ...env });
  assert.equal(stopped.code, expect.code, stopped.stderr);
  if (expect.signal) assert.equal(stopped.signal, expect.signal);
  assert.match(stopped.stderr, expect.line);
  assert.ok(!existsSync(out), 'nothing at the output path');
  const kept = saved(out);
  assert.ok(kept >= expect.savedAtLeast && kept <= 50, `${kept} frames saved, expected at least ${expect.savedAtLeast}`);
  if (stopped.signal === 'SIGKILL') {
    // Orphaned ffmpeg processes end by themselves (end of their pipes): none runs on.
    for (let i = 0; i < 50 && ffmpegStillRunning().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(ffmpegStillRunning(), []);
  }
  await afterStop?.(out);

  const report = `${out}.json`;
  const resumed = await paragon([src, ...settings, '-o', out, '--resume', '--report', report]);
  assert.equal(resumed.code, 0, resumed.stderr);
  const rep = JSON.parse(await readFile(report, 'utf8'));
  // Only the frames the checkpoint lacked went through the model.
  assert.deepEqual([rep.frames, rep.resumedFrames, rep.inferredFrames], [50, kept, 50 - kept]);
  assert.deepEqual(rep.sceneCuts, [30]);
  assert.deepEqual(await packetHashes(out, 'v:0'), ref.video, 'video packets equal the uninterrupted run\'s');
  assert.deepEqual(await packetHashes(out, 'a:0'), ref.audio, 'audio packets too');
  assert.ok(!existsSync(path.join(dir, '.paragon-resume', path.basename(out))), 'checkpoint removed after success');
  assert.deepEqual(await leftovers(), []);
  return rep;
}

const savedLine = (name: string): RegExp => new RegExp(`^paragon: .*${name}\\.\\w+: stopped; \\d+ frames saved in .*: rerun with --resume to continue\\n$`);

test('SIGINT inside the first segment (FFV1): exit 130, one line, every finished frame kept; the resume equals the uninterrupted run', { skip: needModel }, async () => {
  const rep = await stopAndResume('ffv1', 'first', 'frame=5', 'SIGINT', { code: 130, line: savedLine('first'), savedAtLeast: 6 });
  // The whole input is read once (the finished frames replay through the scene-cut detector).
  assert.equal(rep.decodedFrames, 50);
  assert.equal(rep.reencodedFrames, 0, 'FFV1 files end at any frame: nothing to encode again');
  // The equality is not trivial: without the saved feature state the frames after the seam differ.
  const kept = rep.resumedFrames as number;
  const fresh = await paragon([src, ...FFV1, '--frames', `${kept}:`, '-o', at('fresh.mkv')]);
  assert.equal(fresh.code, 0, fresh.stderr);
  const [a, b] = [await packetHashes(at('fresh.mkv'), 'v:0'), (await packetHashes(at('first.mkv'), 'v:0')).slice(kept)];
  assert.notEqual(a[0]!.split(',').at(-1), b[0]!.split(',').at(-1), 'the first frame after the seam uses the saved state');
});

// The last segment here is 2 frames: an mp4 muxer that ends the edit list before the last frame
// (the npm-installed 2018 ffmpeg) drops one of them, in the uninterrupted run as well.
const editList = await lacking({ behaviour: 'mp4-enc-time-base' });

test('SIGTERM right after the scene cut, inside a later segment (x264): exit 143; the open segment is encoded again from its lossless spool, same packets', { skip: needModel || editList }, async () => {
  const rep = await stopAndResume('x264', 'later', 'frame=30', 'SIGTERM', { code: 143, line: savedLine('later'), savedAtLeast: 31 });
  assert.equal(rep.reencodedFrames, rep.resumedFrames % 16, 'the frames of the open segment came from the spool');
  // The reset after the cut survives the resume.
  assert.equal(rep.resets, JSON.parse(await readFile(`${(await reference('x264')).out}.json`, 'utf8')).resets);
  // Each segment still opens on a keyframe, at the same frames as in the uninterrupted run.
  const out = at('later.mp4');
  const flags = (await ffprobe(['-select_streams', 'v:0', '-show_entries', 'packet=pts,flags', '-of', 'csv=p=0', out]))
    .trim().split('\n').map((l) => l.split(',')).sort((x, y) => Number(x[0]) - Number(y[0]));
  for (const k of [0, 16, 32, 48]) assert.match(flags[k]![1]!, /K/, `frame ${k} is a keyframe`);
  // Every frame and timestamp of the source (the last segment is 2 frames long).
  assert.deepEqual(await videoPts(out), await videoPts(src));
});

test('SIGKILL inside a segment (x264, commits by time): the last commit stands, no ffmpeg is left running, the resume equals', { skip: needModel }, async () => {
  await stopAndResume('x264', 'killed', 'frame=40', 'SIGKILL', { code: null, signal: 'SIGKILL', line: /^/, savedAtLeast: 0 }, { PARAGON_CHECKPOINT_SECONDS: '0.02' }, async (out) => {
    // Commits came between the segments' ends too (the spool of an open segment).
    const m = JSON.parse(await readFile(path.join(checkpointOf(out), 'progress.json'), 'utf8'));
    assert.ok(m.commits > m.segments.length, `${m.commits} commits for ${m.segments.length} segments`);
  });
});

test('SIGHUP, then a second signal (x264): quits at once with 129, the last commit stands and the resume equals', { skip: needModel }, async () => {
  await stopAndResume('x264', 'twice', 'frame=20', 'SIGHUP,SIGINT', { code: 129, line: /paragon: interrupted again \(SIGINT\): quit at once\n$/, savedAtLeast: 0 });
});

test('killed outright during the join: every frame is kept, the resume only joins and removes the orphaned temporary file', { skip: needModel }, async () => {
  const rep = await stopAndResume('x264', 'joinkill', 'join', 'SIGKILL', { code: null, signal: 'SIGKILL', line: /^/, savedAtLeast: 50 }, {}, async () => {
    assert.match((await leftovers()).join(), /^\.joinkill\.\d+-[0-9a-f]+\.partial\.mp4$/, 'the join\'s ffmpeg finished its file after paragon died');
  });
  assert.deepEqual([rep.decodedFrames, rep.inferredFrames], [0, 0]);
});

test('stopped during the join (FFV1); a checkpoint is never discarded silently, and a damaged, foreign or mismatched one never makes a wrong video', { skip: needModel }, async () => {
  const ref = await reference('ffv1');
  const out = at('kept.mkv');
  const cp = checkpointOf(out);
  const common = [src, ...FFV1, '-o', out];
  // Stopped during the join: every frame is kept.
  const stopped = await paragon(common, { PARAGON_TEST_INTERRUPT: 'join:SIGINT' });
  assert.equal(stopped.code, 130, stopped.stderr);
  assert.match(stopped.stderr, /^paragon: .*kept\.mkv: stopped while joining; every frame is saved in .*: rerun with --resume to finish\n$/);
  const kept = saved(out);
  assert.equal(kept, 50);

  // Rerun without --resume, with other settings, from another input: usage errors, checkpoint untouched.
  const again = await paragon(common);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /^paragon: .*kept\.mkv: an interrupted run left \d+ finished frames in .*; add --resume to continue it, or delete that folder to start over\n$/);
  const other = await paragon([...common, '--resume', '--temporal', '0.5']);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /^paragon: .*cannot resume \(historyWeight was 0\.2 \(now 0\.5\)\); delete .* to start over\n$/);
  await copyFile(src, at('other.mp4'));
  const foreign = await paragon([at('other.mp4'), ...FFV1, '-o', out, '--resume']);
  assert.equal(foreign.code, 2);
  assert.match(foreign.stderr, /cannot resume \(input was .*clip\.mp4\)/);

  // A truncated segment file: one line naming it (exit 4), nothing written, nothing removed.
  const seg = path.join(cp, 'seg-000000.mkv');
  const whole = await readFile(seg);
  await truncate(seg, 1000);
  const cut = await paragon([...common, '--resume']);
  assert.equal(cut.code, 4);
  assert.match(cut.stderr, /^paragon: .*seg-000000\.mkv: damaged checkpoint file \(1000 of \d+ bytes\); delete .* to start over\n$/);
  assert.ok(!existsSync(out));
  await writeFile(seg, new Uint8Array(whole));
  assert.equal(saved(out), kept, 'the checkpoint is still there');

  // An unreadable progress.json: a notice, a clean restart, the right video.
  await writeFile(path.join(cp, 'progress.json'), '{"version": 2, "segm');
  const restarted = await paragon([...common, '--resume', '--report', at('kept.json')]);
  assert.equal(restarted.code, 0, restarted.stderr);
  assert.match(restarted.stderr, /progress\.json: unusable checkpoint \(not JSON\); starting over/);
  assert.equal(JSON.parse(await readFile(at('kept.json'), 'utf8')).inferredFrames, 50);
  assert.deepEqual(await packetHashes(out, 'v:0'), ref.video);
  assert.deepEqual(await leftovers(), []);
});
