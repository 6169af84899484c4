/**
 * Sequence evaluation: per-frame PSNR-Y / SSIM / temporal error against hand-computed values on
 * flat frames, real Vid4 frames (a frozen output's temporal error is the ground truth's own
 * frame-to-frame change), ground truth cropped to the output size, count and size mismatches,
 * the JSON report and the SVG chart, and `paragon eval` on frame folders.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { ROOT, needShared, shared } from '../helpers/shared.ts';
import { isParagonError } from '../../src/errors.ts';
import { readImage, writePng, type RgbImage } from '../../src/image/io.ts';
import { lumaY } from '../../src/image/metrics.ts';
import { SequenceScorer, evaluateSequences, reportJson } from '../../src/eval/evaluate.ts';
import { openSequence, listFrames } from '../../src/eval/sequence.ts';
import { chartSvg } from '../../src/eval/chart.ts';

const flat = (w: number, h: number, level: number): RgbImage => ({ width: w, height: h, rgb: new Float32Array(3 * w * h).fill(level / 255) });
const vid4 = (n: number) => shared('vid4', 'walk', `${String(n).padStart(3, '0')}.png`);

function paragon(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin', 'paragon.js'), ...args], { cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('flat frames: PSNR, SSIM and temporal error match hand-computed values', () => {
  // Grey level v has Y = 16 + 219·v/255 (the BT.601 weights sum to 219), so a k-level offset is
  // a Y difference of 219k/255.
  const s = new SequenceScorer({ border: 2 });
  const gt = flat(20, 16, 100);
  const f1 = s.push(flat(20, 16, 103), gt);
  const dy = (219 * 3) / 255;
  assert.ok(Math.abs(f1.psnr - 10 * Math.log10((255 * 255) / (dy * dy))) < 1e-9);
  assert.equal(f1.temporalError, undefined, 'no temporal error on the first frame');
  assert.ok(Math.abs(f1.ssim! - 1) < 1e-3 && f1.ssim! < 1, 'a small offset of a flat frame barely moves SSIM');
  // The output flickers (+3 then −3 levels) while the truth stands still: |−6 levels| in Y.
  const f2 = s.push(flat(20, 16, 97), gt);
  assert.ok(Math.abs(f2.temporalError! - (219 * 6) / 255) < 1e-9);
  // Output and truth both step up 5 levels: the change matches, temporal error 0.
  const f3 = s.push(flat(20, 16, 102), flat(20, 16, 105));
  assert.ok(Math.abs(f3.temporalError!) < 1e-9);
  const m = s.mean;
  assert.ok(Math.abs(m.temporalError! - (219 * 6) / 255 / 2) < 1e-9, 'mean over frames 2…n');
  assert.ok(Math.abs(m.psnr - (f1.psnr + f2.psnr + f3.psnr) / 3) < 1e-12);
});

test('real frames: identical output is perfect; a frozen output scores the truth’s own motion', { skip: needShared('vid4', 'walk') }, async () => {
  const gts = await Promise.all([1, 2, 3].map((n) => readImage(vid4(n))));
  const same = new SequenceScorer({ border: 4 });
  for (const g of gts) same.push(g, g);
  assert.equal(same.mean.psnr, Infinity);
  assert.equal(same.mean.ssim, 1);
  assert.equal(same.mean.temporalError, 0);
  // Output stuck on frame 1: o_t − o_{t−1} = 0, so the error is mean |g_t − g_{t−1}| on cropped Y.
  const frozen = new SequenceScorer({ border: 4, ssim: false });
  for (const g of gts) frozen.push(gts[0]!, g);
  const { width: w, height: h } = gts[0]!;
  const ys = gts.map((g) => lumaY(g));
  for (const t of [1, 2]) {
    let sum = 0;
    for (let y = 4; y < h - 4; y++) for (let x = 4; x < w - 4; x++) sum += Math.abs(ys[t]![y * w + x]! - ys[t - 1]![y * w + x]!);
    const expected = sum / ((w - 8) * (h - 8));
    assert.ok(expected > 1, 'walk moves');
    assert.ok(Math.abs(frozen.perFrame[t]!.temporalError! - expected) < 1e-9);
  }
  assert.ok(frozen.perFrame[1]!.psnr < 40 && frozen.perFrame[0]!.psnr === Infinity);
});

test('ground truth a few pixels larger is cropped top-left; other sizes are a one-line media error', () => {
  const s = new SequenceScorer();
  const gt: RgbImage = { width: 13, height: 11, rgb: new Float32Array(3 * 13 * 11) };
  // Top-left 12×10 of the truth is 0.5, the extra row and column 0: equal to the output once cropped.
  for (let c = 0; c < 3; c++) for (let y = 0; y < 10; y++) for (let x = 0; x < 12; x++) gt.rgb[c * 143 + y * 13 + x] = 0.5;
  assert.equal(s.push({ width: 12, height: 10, rgb: new Float32Array(360).fill(0.5) }, gt).psnr, Infinity);
  assert.throws(
    () => s.push(flat(12, 10, 1), flat(24, 20, 1), { output: 'up.mkv', truth: 'gt' }),
    (e: unknown) => isParagonError(e, 'media') && /^up\.mkv: frame 2 is 12x10, the ground truth \(gt\) 24x20$/.test((e as Error).message),
  );
});

test('folders: natural frame order, count mismatch named, JSON report, SVG chart renders', { skip: needShared('vid4', 'walk') }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'paragon-eval-'));
  try {
    const gtDir = path.join(dir, 'gt');
    const outDir = path.join(dir, 'out');
    await mkdir(gtDir);
    await mkdir(outDir);
    const gts = await Promise.all([1, 2, 3].map((n) => readImage(vid4(n))));
    // Names that sort wrongly as text (f10 < f9): natural order must pair them right.
    for (const [i, n] of [9, 10, 11].entries()) {
      await writePng(path.join(gtDir, `f${n}.png`), gts[i]!);
      await writePng(path.join(outDir, `f${n}.png`), i === 1 ? flat(gts[i]!.width, gts[i]!.height, 128) : gts[i]!);
    }
    assert.deepEqual((await listFrames(gtDir)).map((f) => path.basename(f)), ['f9.png', 'f10.png', 'f11.png']);
    const r = await evaluateSequences(await openSequence(outDir), await openSequence(gtDir), { border: 4 });
    assert.equal(r.frames, 3);
    assert.deepEqual(r.perFrame.map((f) => f.psnr === Infinity), [true, false, true], 'only the middle frame differs');
    const json = JSON.parse(reportJson(r));
    assert.equal(json.perFrame[0].psnr, null, 'an infinite PSNR is written as null');
    assert.equal(json.y, 'basicsr');
    assert.ok(json.perFrame[1].temporalError > 0 && json.perFrame[0].temporalError === null);
    const svg = chartSvg([{ label: 'a & b', frames: r.perFrame }, { label: 'two', frames: r.perFrame }]);
    assert.equal(svg.match(/<polyline/g)?.length, 4, 'one line per series in each panel');
    assert.ok(svg.includes('a &amp; b'));
    const png = await sharp(Buffer.from(svg)).png().toBuffer({ resolveWithObject: true });
    assert.equal(png.info.width, 640);
    // Extra output frame: a one-line media error naming both counts.
    await writePng(path.join(outDir, 'f12.png'), gts[0]!);
    await assert.rejects(evaluateSequences(await openSequence(outDir), await openSequence(gtDir)), /4 frames to compare with 3 ground-truth frames/);
    // The CLI: means on stdout, the report as JSON; exit 4 on the count mismatch.
    const bad = await paragon(['eval', outDir, gtDir]);
    assert.equal(bad.code, 4, bad.stderr);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    await rm(path.join(outDir, 'f12.png'));
    const chart = path.join(dir, 'c.svg');
    const ok = await paragon(['eval', outDir, gtDir, '--json', '--no-ssim', '--round-y', '--chart', chart]);
    assert.equal(ok.code, 0, ok.stderr);
    const rep = JSON.parse(ok.stdout);
    assert.equal(rep.y, 'matlab-rounded');
    assert.equal(rep.mean.ssim, null);
    assert.equal(rep.perFrame.length, 3);
    assert.ok((await readFile(chart, 'utf8')).startsWith('<svg'));
    const usage = await paragon(['eval', outDir, gtDir, '--border', '-1']);
    assert.equal(usage.code, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
