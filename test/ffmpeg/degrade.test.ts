/**
 * `paragon degrade`: the output is lossless FFV1 holding exactly the in-memory degraded frames
 * (size, count, samples), the noise is reproducible from its seed and has the asked σ, the H.264
 * round trip is lossy but still stored as FFV1, and the CLI's flags and errors; `paragon eval`
 * reads the video back (noise of σ shows as the PSNR it must).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ROOT, needShared, shared } from '../helpers/shared.ts';
import { streams, tmp } from '../helpers/media.ts';
import { cropImage, readImage, toInterleaved, writePng, type RgbImage } from '../../src/image/io.ts';
import { decodeFrames } from '../../src/video/decode.ts';
import { degradeFrame, writeDegraded } from '../../src/eval/degrade.ts';
import { evaluateSequences } from '../../src/eval/evaluate.ts';
import { openSequence } from '../../src/eval/sequence.ts';

const skip = needShared('vid4', 'walk');
const FRAMES = 4;

let truth: Promise<{ dir: string; frames: RgbImage[] }> | undefined;
/** Ground truth: 120×96 crops of the first Vid4 walk frames, as a PNG folder (made once). */
function groundTruth() {
  truth ??= (async () => {
    const dir = tmp('gt');
    await mkdir(dir, { recursive: true });
    const frames: RgbImage[] = [];
    for (let i = 1; i <= FRAMES; i++) {
      const f = cropImage(await readImage(shared('vid4', 'walk', `00${i}.png`)), 300, 200, 120, 96);
      await writePng(path.join(dir, `${i}.png`), f);
      frames.push(f);
    }
    return { dir, frames };
  })();
  return truth;
}

async function decoded(file: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const f of decodeFrames(file, { bitDepth: 8 })) out.push(f.data as Uint8Array);
  return out;
}

function paragon(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin', 'paragon.js'), ...args], { cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('clean ×2: lossless FFV1 of exactly the MATLAB-bicubic frames, half size, every frame', { skip }, async () => {
  const { dir, frames } = await groundTruth();
  const out = tmp('clean.mkv');
  const r = await writeDegraded(dir, out, { scale: 2 });
  assert.deepEqual(r, { frames: FRAMES, width: 60, height: 48 });
  const [s] = await streams(out);
  assert.equal(s!.codec_name, 'ffv1');
  assert.deepEqual([s!.width, s!.height], [60, 48]);
  const got = await decoded(out);
  assert.equal(got.length, FRAMES);
  for (let i = 0; i < FRAMES; i++) assert.deepEqual(got[i], toInterleaved(degradeFrame(frames[i]!, i, { scale: 2 }), 8), `frame ${i + 1} bit-exact`);
});

test('noise: same seed, same frames; another seed, other noise; σ as asked', { skip }, async () => {
  const { dir } = await groundTruth();
  const [a, b, c, clean] = ['n5a.mkv', 'n5b.mkv', 'n6.mkv', 'clean0.mkv'].map(tmp) as [string, string, string, string];
  await writeDegraded(dir, a, { noise: 4, seed: 5 });
  await writeDegraded(dir, b, { noise: 4, seed: 5 });
  await writeDegraded(dir, c, { noise: 4, seed: 6 });
  await writeDegraded(dir, clean, {});
  const [fa, fb, fc, f0] = (await Promise.all([a, b, c, clean].map(decoded))) as [Uint8Array[], Uint8Array[], Uint8Array[], Uint8Array[]];
  assert.deepEqual(fa, fb, 'reproducible');
  assert.notDeepEqual(fa, fc, 'the seed matters');
  assert.notDeepEqual(fa[0], fa[1], 'each frame has its own noise');
  // Noise = noisy − clean, counted away from clipping (samples within 16 levels of 0 or 255 skipped).
  let sum = 0;
  let sq = 0;
  let n = 0;
  for (let i = 0; i < FRAMES; i++)
    for (let k = 0; k < f0[i]!.length; k++) {
      if (f0[i]![k]! < 16 || f0[i]![k]! > 239) continue;
      const d = fa[i]![k]! - f0[i]![k]!;
      sum += d;
      sq += d * d;
      n++;
    }
  assert.ok(n > 0.9 * FRAMES * f0[0]!.length, 'most samples away from clipping');
  const mean = sum / n;
  const sd = Math.sqrt(sq / n - mean * mean);
  // Rounding to 8 bits adds 1/12 of a level² of variance: √(16 + 1/12) ≈ 4.01.
  assert.ok(Math.abs(mean) < 0.1 && Math.abs(sd - 4.01) < 0.12, `noise mean ${mean}, σ ${sd}`);
  // Read back through eval: luma noise σ_Y = 4·√(65.481² + 128.553² + 24.966²)/255 ≈ 2.298 levels.
  const lrDir = tmp('lr-clean');
  await mkdir(lrDir, { recursive: true });
  const { frames } = await groundTruth();
  for (let i = 0; i < FRAMES; i++) await writePng(path.join(lrDir, `${i}.png`), degradeFrame(frames[i]!, i));
  const rep = await evaluateSequences(await openSequence(a), await openSequence(lrDir), { border: 0, ssim: false });
  const expected = 20 * Math.log10(255 / ((4.01 * Math.hypot(65.481, 128.553, 24.966)) / 255));
  assert.ok(Math.abs(rep.mean.psnr - expected) < 0.3, `PSNR ${rep.mean.psnr} vs ${expected}`);
});

test('--crf: an H.264 round trip, stored as FFV1; a higher CRF loses more', { skip }, async () => {
  const { dir } = await groundTruth();
  const clean = tmp('clean1.mkv');
  await writeDegraded(dir, clean, {});
  const f0 = await decoded(clean);
  const psnrOf = async (crf: number) => {
    const lossy = tmp(`crf${crf}.mkv`);
    const r = await writeDegraded(dir, lossy, { crf });
    assert.equal(r.frames, FRAMES);
    const [s] = await streams(lossy);
    assert.equal(s!.codec_name, 'ffv1');
    const f1 = await decoded(lossy);
    assert.equal(f1.length, FRAMES);
    let se = 0;
    let max = 0;
    for (let i = 0; i < FRAMES; i++)
      for (let k = 0; k < f0[i]!.length; k++) {
        const d = f1[i]![k]! - f0[i]![k]!;
        se += d * d;
        max = Math.max(max, Math.abs(d));
      }
    return { psnr: 10 * Math.log10((255 * 255) / (se / (FRAMES * f0[0]!.length))), max };
  };
  const [q18, q35] = [await psnrOf(18), await psnrOf(35)];
  assert.ok(q35.max > 4 && q18.max > 0, 'compression changed the frames');
  assert.ok(q18.psnr > q35.psnr + 3, `RGB PSNR ${q18.psnr} at CRF 18, ${q35.psnr} at 35`);
  assert.ok(q35.psnr > 15, 'still the same pictures');
});

test('paragon degrade: the library output from the CLI; bad flags exit 2, a missing folder 4', { skip }, async () => {
  const { dir } = await groundTruth();
  const out = tmp('cli.mkv');
  const ok = await paragon(['degrade', dir, '-o', out, '--noise', '4', '--seed', '5']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /4 frames 60x48/);
  const lib = tmp('lib.mkv');
  await writeDegraded(dir, lib, { noise: 4, seed: 5 });
  assert.deepEqual(await decoded(out), await decoded(lib));
  for (const [args, code] of [
    [['--noise', '-1'], 2],
    [['--scale', '1.5'], 2],
    [['--crf', '60'], 2],
    [['--bogus'], 2],
  ] as const) {
    const r = await paragon(['degrade', dir, '-o', tmp('bad.mkv'), ...args]);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
  const mp4 = await paragon(['degrade', dir, '-o', tmp('x.mp4')]);
  assert.equal(mp4.code, 2, 'FFV1 cannot go into .mp4');
  const missing = await paragon(['degrade', tmp('nope'), '-o', tmp('y.mkv')]);
  assert.equal(missing.code, 4);
  assert.match(missing.stderr, /nope: no such file or folder/);
});
