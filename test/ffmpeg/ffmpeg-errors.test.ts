/**
 * Failure paths: bad inputs while decoding (exit 4), ffmpeg failing (exit 5, its own words in one
 * line), aborts (exit 130), usage mistakes (exit 2) — and in every case nothing at the output path
 * and no temporary file left beside it. Also file names ffmpeg would misread (`-x`, `a:b`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isParagonError } from '../../src/errors.ts';
import { decodeFrames } from '../../src/video/decode.ts';
import { createEncoder, type EncoderOptions } from '../../src/video/encode.ts';
import { locateFfmpeg } from '../../src/video/ffmpeg.ts';
import { probeMedia } from '../../src/video/probe.ts';
import { clip, ffmpeg, mediaDir, tmp } from '../helpers/media.ts';

/** A fresh empty folder for one test's outputs. */
function outDir(name: string): string {
  const d = path.join(mediaDir(), name);
  mkdirSync(d, { recursive: true });
  return d;
}

const isCode = (code: number, re?: RegExp) => (e: unknown): boolean => {
  assert.ok(isParagonError(e), `not a ParagonError: ${e}`);
  assert.equal(e.code, code, e.message);
  assert.ok(!e.message.includes('\n'));
  if (re) assert.match(e.message, re);
  return true;
};

/** Decode `src` into an encoder for `out`, the way the pipeline does: abort the encoder on any error. */
async function pipe(src: string, out: string, extra: Partial<EncoderOptions> = {}): Promise<void> {
  const info = await probeMedia(src);
  await using frames = decodeFrames(src, { info });
  await using enc = await createEncoder(out, { ...(await frames.frameFormat()), source: info, ...extra });
  for await (const f of frames) await enc.write(f);
  await enc.finish();
}

async function drain(file: string): Promise<number> {
  let n = 0;
  for await (const _ of decodeFrames(file)) n++;
  return n;
}

test('decoding bad inputs: media errors (exit 4) naming the file', async () => {
  const empty = tmp('e-empty.mkv');
  writeFileSync(empty, '');
  await assert.rejects(drain(empty), isCode(4, /e-empty\.mkv: empty file/));
  const junk = tmp('e-junk.mp4');
  writeFileSync(junk, 'x'.repeat(5000));
  await assert.rejects(drain(junk), isCode(4, /e-junk\.mp4: cannot read media/));
  const audio = tmp('e-audio.ogg');
  await ffmpeg(['-f', 'lavfi', '-i', 'sine=d=0.3', '-c:a', 'libopus', audio]);
  await assert.rejects(drain(audio), isCode(4, /no video stream/));
});

test('a truncated file whose index survived: frames until the damage, then exit 4, and no output', async () => {
  const whole = tmp('e-faststart.mp4');
  await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=160x90:r=25:d=2', '-c:v', 'libx264', '-preset', 'ultrafast', '-movflags', '+faststart', whole]);
  const bytes = new Uint8Array(readFileSync(whole));
  const cut = tmp('e-truncated.mp4');
  writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
  const dir = outDir('truncated-out');
  const out = path.join(dir, 'out.mp4');
  await assert.rejects(pipe(cut, out), isCode(4, /e-truncated\.mp4: damaged or truncated: decoded \d+ of 50 frames/));
  assert.deepEqual(readdirSync(dir), []);
});

test('a truncated Matroska file (no frame count, only a duration): exit 4 naming how far it got, and no output', async () => {
  const whole = tmp('e-whole.mkv');
  await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=160x90:r=25:d=2', '-c:v', 'libx264', '-preset', 'ultrafast', whole]);
  const bytes = new Uint8Array(readFileSync(whole));
  const cut = tmp('e-truncated.mkv');
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  const dir = outDir('truncated-mkv-out');
  await assert.rejects(pipe(cut, path.join(dir, 'out.mkv')), isCode(4, /e-truncated\.mkv: damaged or truncated: decoded \d+ frames, up to [\d.]+ s of 2\.000 s \((.*ended prematurely|Read error)\)/));
  assert.deepEqual(readdirSync(dir), []);
  // The whole file decodes without complaint.
  assert.equal(await drain(whole), 50);
});

test('ffmpeg failing mid-setup: exit 5 with its own reason, nothing left behind', async () => {
  const dir = outDir('bad-preset');
  await assert.rejects(pipe(await clip('no-audio.mkv'), path.join(dir, 'out.mp4'), { preset: 'no-such-preset' }), isCode(5, /ffmpeg failed: .*preset/i));
  assert.deepEqual(readdirSync(dir), []);
});

test('abort through an AbortSignal: exit 130, no output, no temp file', async () => {
  const dir = outDir('aborted');
  const src = await clip('cfr-audio.mp4');
  const ac = new AbortController();
  const info = await probeMedia(src);
  const enc = await createEncoder(path.join(dir, 'out.mkv'), { width: 160, height: 90, bitDepth: 8, source: info, signal: ac.signal });
  let n = 0;
  await assert.rejects(
    (async () => {
      for await (const f of decodeFrames(src, { info })) {
        await enc.write(f);
        if (++n === 10) ac.abort();
      }
    })(),
    isCode(130),
  );
  await enc.abort();
  assert.deepEqual(readdirSync(dir), []);
});

test('dispose without finish discards the partial file; finish publishes it atomically', async () => {
  const dir = outDir('disposed');
  const src = await clip('no-audio.mkv');
  const out = path.join(dir, 'out.mkv');
  {
    await using enc = await createEncoder(out, { width: 160, height: 90, bitDepth: 8 });
    for await (const f of decodeFrames(src, { maxFrames: 5 })) await enc.write(f);
    assert.equal(existsSync(out), false);
  }
  assert.deepEqual(readdirSync(dir), []);
  await pipe(src, out);
  assert.deepEqual(readdirSync(dir), ['out.mkv']);
});

test('usage errors: codec not allowed in the container, unknown extension, no frames', async () => {
  const dir = outDir('usage');
  await assert.rejects(createEncoder(path.join(dir, 'a.mp4'), { width: 16, height: 16, bitDepth: 8, codec: 'prores' }), isCode(2, /prores cannot go into \.mp4/));
  await assert.rejects(createEncoder(path.join(dir, 'a.avi'), { width: 16, height: 16, bitDepth: 8 }), isCode(2, /unsupported video output extension/));
  const enc = await createEncoder(path.join(dir, 'b.mkv'), { width: 16, height: 16, bitDepth: 8 });
  await assert.rejects(enc.finish(), isCode(4, /no frames/));
  assert.deepEqual(readdirSync(dir), []);
});

test('an ffmpeg that cannot run is exit 5 saying what to install', async () => {
  const notExec = tmp('ffmpeg-not-executable');
  writeFileSync(notExec, '#!/bin/sh\n');
  const tools = { ...locateFfmpeg(), ffmpeg: notExec };
  const src = await clip('no-audio.mkv');
  await assert.rejects(drain2(src, tools), isCode(5, /cannot run ffmpeg .*install ffmpeg/));
});

async function drain2(file: string, tools: ReturnType<typeof locateFfmpeg>): Promise<void> {
  for await (const _ of decodeFrames(file, { tools })) void _;
}

test('file names with a leading dash and a colon work as input and output', async () => {
  const dir = outDir('names');
  const src = await clip('no-audio.mkv');
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    writeFileSync('-in:put.mkv', new Uint8Array(readFileSync(src)));
    await pipe('-in:put.mkv', '-out:put.mp4');
    // As many frames as the same file under a plain name: an older ffmpeg (the npm-installed
    // build) ends an mp4 it writes from a pipe before the last frame, names or not.
    await pipe('-in:put.mkv', 'plain.mp4');
    const plain = await drain('plain.mp4');
    assert.ok(plain >= 24, `${plain} frames in plain.mp4`);
    assert.equal(await drain('-out:put.mp4'), plain);
    await pipe('-in:put.mkv', 'file:out.mkv');
    assert.equal(await drain('file:out.mkv'), 25);
    assert.deepEqual(readdirSync('.').sort(), ['-in:put.mkv', '-out:put.mp4', 'file:out.mkv', 'plain.mp4']);
  } finally {
    process.chdir(cwd);
  }
});

test('decoding: an abort signal ends iteration with exit 130; leaving the loop early stops ffmpeg', async () => {
  const src = await clip('cfr-audio.mp4');
  const ac = new AbortController();
  let n = 0;
  await assert.rejects(
    (async () => {
      for await (const _ of decodeFrames(src, { signal: ac.signal })) if (++n === 3) ac.abort();
    })(),
    isCode(130),
  );
  assert.equal(n, 3);
  // ffmpeg blocks on a full stdout pipe once nobody reads: only a kill lets the loop end.
  const t0 = Date.now();
  for await (const f of decodeFrames(src)) if (f.index === 1) break;
  assert.ok(Date.now() - t0 < 5000);
});
