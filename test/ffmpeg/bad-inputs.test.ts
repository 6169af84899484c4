/**
 * `paragon upscale` on bad video inputs and bad options: each fails with its documented exit code
 * and ONE stderr line naming the file and the cause, and leaves no output, temp file or checkpoint
 * behind. Names starting with `-` are files, never options.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { clip, ffmpeg } from '../helpers/media.ts';
import { needModel, upscale } from './upscale-helpers.ts';

let dir = '';
const at = (name: string): string => path.join(dir, name);
const outDir = (): string => path.join(dir, 'out');

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'paragon-bad-'));
  await mkdir(outDir());
  const good = await clip('cfr-audio.mp4');
  await writeFile(at('empty.mp4'), '');
  await writeFile(at('notes.mp4'), 'not a video at all\n');
  await ffmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'aac', at('audio-only.mp4')]);
  // Cut short: without its index (moov at the end), and with the index first but half the frames gone.
  const bytes = await readFile(good);
  await writeFile(at('truncated.mp4'), new Uint8Array(bytes.subarray(0, bytes.length >> 1)));
  await ffmpeg(['-i', good, '-c', 'copy', '-movflags', '+faststart', at('faststart.mp4')]);
  const fs = await readFile(at('faststart.mp4'));
  await writeFile(at('truncated-indexed.mp4'), new Uint8Array(fs.subarray(0, Math.floor(fs.length * 0.6))));
  await copyFile(good, at('-dash.mp4'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Run with the output in out/ and check: exit code, one stderr line naming `names`, nothing left in out/. */
async function fails(code: number, args: string[], out: string, pattern: RegExp): Promise<void> {
  const r = await upscale([...args, '-o', path.join(outDir(), out), '--preset', 'ultrafast'], dir);
  assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
  // Progress lines (every 10 s when stderr is not a terminal) are not errors.
  const lines = r.stderr.split('\n').filter((l) => l !== '' && !/ frames .* fps, /.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^paragon: /);
  assert.match(lines[0]!, pattern);
  assert.deepEqual(await readdir(outDir()), [], `${args.join(' ')} left files`);
}

test('unreadable inputs: exit 4, one line naming the file and the cause, nothing written', { skip: needModel }, async () => {
  await fails(4, ['empty.mp4'], 'a.mp4', /empty\.mp4: empty file \(0 bytes\)$/);
  await fails(4, ['notes.mp4'], 'a.mp4', /notes\.mp4: cannot read media: .*Invalid data/);
  await fails(4, ['audio-only.mp4'], 'a.mp4', /audio-only\.mp4: no video stream \(audio only\)$/);
  await fails(4, ['truncated.mp4'], 'a.mp4', /truncated\.mp4: cannot read media: moov atom not found/);
  await fails(4, ['missing.mp4'], 'a.mp4', /missing\.mp4: no such file/);
  // Frames decode until the cut, then the damage shows: the finished segments are not kept either.
  await fails(4, ['truncated-indexed.mp4', '--checkpoint', '5'], 'a.mp4', /truncated-indexed\.mp4: damaged or truncated: decoded \d+ of 50 frames/);
});

test('bad options: exit 2 before any work; a bad --ffmpeg exit 5; a bad --model exit 3', { skip: needModel }, async () => {
  const good = await clip('cfr-audio.mp4');
  await fails(2, [good], 'a.avi', /a\.avi: unsupported video output extension/);
  await fails(2, [good, '--codec', 'vp9'], 'a.mov', /--codec vp9 cannot go into \.mov/);
  await fails(2, [good, '--codec', 'h264'], 'a.mp4', /--codec h264: expected one of x264, x265, av1, vp9, ffv1, prores/);
  await fails(2, [good, '--frames', '9:3'], 'a.mp4', /--frames 9:3: expected FROM:TO/);
  await fails(2, [good, '--frames', '50:'], 'a.mp4', /has only 50 frames/);
  await fails(2, [good, '--crf', 'high'], 'a.mp4', /--crf high: expected an integer/);
  await fails(2, [good, '--checkpoint', '0'], 'a.mp4', /--checkpoint 0: expected an integer ≥ 1/);
  await fails(5, [good, '--ffmpeg', path.join(dir, 'no-ffmpeg')], 'a.mp4', /--ffmpeg .*no-ffmpeg: not an executable file/);
  await fails(3, [good, '--model', path.join(dir, 'none.safetensors')], 'a.mp4', /none\.safetensors: no such model file/);
  const r = await upscale([at('faststart.mp4'), '-o', at('faststart.mp4')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /faststart\.mp4: the output would replace the input/);
});

test('names starting with "-" are files after -- or as ./-name (a bare one is an option: exit 2); quotes and brackets in names work', { skip: needModel }, async () => {
  const a = await upscale(['-o', './out/-first.mp4', '--preset', 'ultrafast', '--frames', ':3', '--', '-dash.mp4'], dir);
  assert.equal(a.code, 0, a.stderr);
  const b = await upscale(['./-dash.mp4', '--output=out/-second.mkv', '--preset', 'ultrafast', '--frames', ':3'], dir);
  assert.equal(b.code, 0, b.stderr);
  // Quotes, spaces and brackets survive the segment list handed to ffmpeg's concat demuxer.
  const c = await upscale(['-dash.mp4', '-o', "out/it's a [test].mkv", '--preset', 'ultrafast', '--frames', ':6', '--checkpoint', '2'], dir);
  assert.equal(c.code, 2, 'a bare -dash.mp4 is an option');
  const d = await upscale(['./-dash.mp4', '-o', "out/it's a [test].mkv", '--preset', 'ultrafast', '--frames', ':6', '--checkpoint', '2'], dir);
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual((await readdir(outDir())).sort(), ['-first.mp4', '-second.mkv', "it's a [test].mkv"]);
  await rm(outDir(), { recursive: true });
  await mkdir(outDir());
});
