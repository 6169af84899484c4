/**
 * ffprobe → MediaInfo on generated clips and the shared film clip; bad inputs are media errors
 * (exit 4) naming the file; binary lookup reports where ffmpeg came from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isParagonError } from '../../src/errors.ts';
import { describeTools, locateFfmpeg } from '../../src/video/ffmpeg.ts';
import { probeMedia } from '../../src/video/probe.ts';
import { clip, ffmpeg, mediaDir, tmp } from '../helpers/media.ts';
import { needShared, shared } from '../helpers/shared.ts';

const ROTATE = shared('video', 'issue-134-rotate.mp4');

test('CFR clip with audio: size, rate, time base, colour tags, audio stream', async () => {
  const info = await probeMedia(await clip('cfr-audio.mp4'));
  const v = info.video;
  assert.equal(info.container.includes('mp4'), true);
  assert.deepEqual([v.width, v.height, v.storedWidth, v.storedHeight, v.rotation], [160, 90, 160, 90, 0]);
  assert.deepEqual(v.avgFrameRate, [25, 1]);
  assert.equal(v.nbFrames, 50);
  assert.equal(v.bitDepth, 8);
  assert.equal(v.pixFmt, 'yuv420p');
  assert.deepEqual([v.colorSpace, v.colorPrimaries, v.colorTransfer, v.colorRange], ['bt709', 'bt709', 'bt709', 'tv']);
  assert.equal(info.vfr, false);
  assert.equal(info.audio.length, 1);
  assert.equal(info.audio[0]!.codec, 'aac');
  assert.ok(Math.abs(info.duration! - 2) < 0.1);
});

test('VFR clip is flagged variable-rate; CFR Matroska (1 ms ticks) is not', async () => {
  assert.equal((await probeMedia(await clip('vfr-audio.mp4'))).vfr, true);
  const mkv = await probeMedia(await clip('no-audio.mkv'));
  assert.deepEqual(mkv.video.timeBase, [1, 1000]);
  assert.equal(mkv.vfr, false);
  assert.equal(mkv.audio.length, 0);
});

test('10-bit, odd size and subtitle streams', async () => {
  const ten = await probeMedia(await clip('ten-bit.mkv'));
  assert.equal(ten.video.bitDepth, 10);
  assert.equal(ten.video.pixFmt, 'yuv420p10le');
  const odd = await probeMedia(await clip('odd-321x181.mkv'));
  assert.deepEqual([odd.video.width, odd.video.height], [321, 181]);
  const subs = await probeMedia(await clip('subs.mkv'));
  assert.deepEqual(subs.subtitles.map((s) => [s.codec, s.text]), [['subrip', true]]);
  assert.deepEqual(subs.audio.map((a) => a.codec), ['opus']);
});

test('rotation from the display matrix: display size is the stored size turned', { skip: needShared('video', 'issue-134-rotate.mp4') }, async () => {
  const info = await probeMedia(ROTATE);
  const v = info.video;
  assert.deepEqual([v.storedWidth, v.storedHeight], [1280, 544]);
  assert.equal(v.rotation, 90);
  assert.deepEqual([v.width, v.height], [544, 1280]);
  assert.equal(v.nbFrames, 240);
  assert.deepEqual(v.timeBase, [1, 24000]);
  assert.deepEqual(v.avgFrameRate, [24000, 1001]);
  const gen = await probeMedia(await clip('rotated-90.mp4'));
  assert.equal(gen.video.rotation, 270);
  assert.deepEqual([gen.video.width, gen.video.height], [96, 160]);
});

/** Assert that `p` rejects with a ParagonError of exit code `code` naming `file`. */
async function rejectsWith(p: Promise<unknown>, code: number, file: string, why: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isParagonError(e), `not a ParagonError: ${e}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.includes(file), `message does not name ${file}: ${e.message}`);
    assert.match(e.message, why);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
}

test('bad inputs are media errors (exit 4) that name the file', async () => {
  const empty = tmp('empty.mp4');
  writeFileSync(empty, '');
  await rejectsWith(probeMedia(empty), 4, empty, /empty/);
  const text = tmp('not-a-video.mp4');
  writeFileSync(text, 'this is not a video\n'.repeat(50));
  await rejectsWith(probeMedia(text), 4, text, /cannot read media: .*Invalid data/);
  // Truncated without its index (moov at the end): nothing to read.
  const whole = new Uint8Array(readFileSync(await clip('cfr-audio.mp4')));
  const cut = tmp('truncated.mp4');
  writeFileSync(cut, whole.subarray(0, whole.length >> 1));
  await rejectsWith(probeMedia(cut), 4, cut, /moov atom not found/);
  const audio = tmp('audio-only.m4a');
  await ffmpeg(['-f', 'lavfi', '-i', 'sine=d=0.5', audio]);
  await rejectsWith(probeMedia(audio), 4, audio, /no video stream \(audio only\)/);
  await rejectsWith(probeMedia(tmp('missing.mp4')), 4, tmp('missing.mp4'), /no such file/);
  await rejectsWith(probeMedia(mediaDir()), 4, mediaDir(), /folder/);
});

test('names with a leading dash and a colon are files, not options or protocols', async () => {
  const src = await clip('no-audio.mkv');
  const sub = path.join(mediaDir(), 'names');
  mkdirSync(sub, { recursive: true });
  const cwd = process.cwd();
  process.chdir(sub);
  try {
    for (const name of ['-weird:name.mkv', 'file:colon.mkv', '-i']) {
      copyFileSync(src, name);
      const info = await probeMedia(name);
      assert.deepEqual([info.video.width, info.video.height], [160, 90], name);
    }
  } finally {
    process.chdir(cwd);
  }
});

test('ffmpeg lookup: PATH first, npm-shipped binaries without PATH, clear errors for bad paths', () => {
  const sys = locateFfmpeg();
  assert.match(describeTools(sys), /ffmpeg .* \((PATH|npm installer package|PARAGON_FFMPEG)\)/);
  const savedPath = process.env.PATH;
  const savedEnv = process.env.PARAGON_FFMPEG;
  try {
    delete process.env.PARAGON_FFMPEG;
    process.env.PATH = '';
    const npm = locateFfmpeg();
    assert.equal(npm.source, 'npm');
    assert.equal(npm.probeSource, 'npm');
    assert.match(execFileSync(npm.ffmpeg, ['-version']).toString(), /^ffmpeg version/);
    assert.match(execFileSync(npm.ffprobe, ['-version']).toString(), /^ffprobe version/);
    process.env.PATH = savedPath;
    process.env.PARAGON_FFMPEG = npm.ffmpeg;
    const env = locateFfmpeg();
    assert.equal(env.source, 'env');
    assert.equal(env.ffmpeg, npm.ffmpeg);
    process.env.PARAGON_FFMPEG = '/nonexistent/ffmpeg';
    assert.throws(() => locateFfmpeg(), (e: unknown) => isParagonError(e, 'ffmpeg') && /PARAGON_FFMPEG \/nonexistent\/ffmpeg/.test(e.message));
    assert.throws(() => locateFfmpeg({ ffmpeg: '/nonexistent/ffmpeg' }), (e: unknown) => isParagonError(e, 'ffmpeg') && /install ffmpeg/.test(e.message));
  } finally {
    process.env.PATH = savedPath;
    if (savedEnv === undefined) delete process.env.PARAGON_FFMPEG;
    else process.env.PARAGON_FFMPEG = savedEnv;
  }
});
