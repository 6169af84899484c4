/**
 * Image utilities on real data: our MATLAB-imresize reproduces the Set5 benchmark's LR images and
 * its published bicubic score; metric values are checked against hand-computed ones; file I/O keeps
 * 8/16-bit samples, alpha and EXIF orientation, and never leaves half-written files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { needShared, shared } from '../helpers/shared.ts';
import { ParagonError } from '../../src/errors.ts';
import { readImage, writePng, type RgbImage } from '../../src/image/io.ts';
import { imresize, imresizeBy } from '../../src/image/resize.ts';
import { psnrY, ssim, temporalError } from '../../src/image/metrics.ts';

const SET5 = ['baby', 'bird', 'butterfly', 'head', 'woman'];

/** Top-left crop of a planar image. */
function crop(img: RgbImage, h: number, w: number): RgbImage {
  const n = img.width * img.height;
  const rgb = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < h; y++) rgb.set(img.rgb.subarray(c * n + y * img.width, c * n + y * img.width + w), c * h * w + y * w);
  return { width: w, height: h, rgb };
}

const flat = (w: number, h: number, level: number): RgbImage => ({
  width: w,
  height: h,
  rgb: new Float32Array(3 * w * h).fill(level / 255),
});

test('imresize kernel: hand-computed MATLAB bicubic weights, symmetric edges', () => {
  // Downscale x2 (antialiased): the 8-tap kernel 0.5·cubic(0.5·d) at d = ±0.5, ±1.5, ±2.5, ±3.5.
  const row = new Float32Array(16);
  row[4] = 1; // impulse at MATLAB index 5
  const down = imresize(row, 1, 1, 16, 1, 8);
  assert.equal(down[2], 0.43359375); // output 3 sits at u = 5.5
  assert.equal(down[1], 0.11328125); // u = 3.5: distance 1.5
  assert.equal(down[3], -0.03515625); // u = 7.5: distance 2.5
  assert.equal(down[0], -0.01171875); // u = 1.5: distance 3.5
  const edge = new Float32Array(16);
  edge[0] = 1; // index 1 is also seen mirrored at index 0: weights for distances 0.5 and 1.5 add up
  assert.equal(imresize(edge, 1, 1, 16, 1, 8)[0], 0.43359375 + 0.11328125);
  // Upscale x2: cubic(d) at u = x/2 + 0.25.
  const up = imresize(row, 1, 1, 16, 1, 32);
  assert.equal(up[8], 0.8671875); // x = 9: u = 4.75, distance 0.25
  assert.equal(up[9], 0.8671875); // x = 10: u = 5.25
  assert.equal(up[7], 0.2265625); // x = 8: u = 4.25, distance 0.75
  assert.equal(up[10], 0.2265625); // x = 11: u = 5.75, distance 0.75
  assert.equal(up[11], -0.0703125); // x = 12: u = 6.25, distance 1.25
});

test('imresize keeps constants, and sizes follow MATLAB (ceil of in × scale)', () => {
  const c = new Float32Array(2 * 9 * 13).fill(0.3);
  for (const [h, w] of [[4, 6], [18, 26], [5, 20]] as const)
    for (const v of imresize(c, 2, 9, 13, h, w)) assert.ok(Math.abs(v - 0.3) < 1e-6);
  const r = imresizeBy(new Float32Array(10 * 7), 1, 10, 7, 0.75);
  assert.deepEqual([r.height, r.width], [8, 6]);
});

test('Set5 x2: our downscale of HR reproduces the benchmark LR images within 1 level', { skip: needShared('images', 'set5') }, async () => {
  for (const name of SET5) {
    const hr = await readImage(shared('images', 'set5', 'hr', `${name}.png`));
    const lr = await readImage(shared('images', 'set5', 'x2', `${name}.png`));
    const src = crop(hr, lr.height * 2, lr.width * 2);
    const ours = imresize(src.rgb, 3, src.height, src.width, lr.height, lr.width, { uint8: true });
    let max = 0;
    let differ = 0;
    for (let i = 0; i < ours.length; i++) {
      const d = Math.abs(Math.round(ours[i]! * 255) - Math.round(lr.rgb[i]! * 255));
      max = Math.max(max, d);
      if (d) differ++;
    }
    assert.ok(max <= 1, `${name}: max difference ${max} levels`);
    // Measured: 0.1–0.6% of samples differ by one level, mostly values within 0.1 of a .5 rounding
    // boundary; a real mismatch (kernel, edges, pass order, no 8-bit intermediate) gives 10–18%.
    assert.ok(differ / ours.length < 0.01, `${name}: ${differ} of ${ours.length} samples differ`);
  }
});

test('Set5 x2: bicubic upscale scores the published 33.64 dB PSNR-Y and 0.930 SSIM', { skip: needShared('images', 'set5') }, async () => {
  let p = 0;
  let s = 0;
  for (const name of SET5) {
    const hr = await readImage(shared('images', 'set5', 'hr', `${name}.png`));
    const lr = await readImage(shared('images', 'set5', 'x2', `${name}.png`));
    const gt = crop(hr, lr.height * 2, lr.width * 2);
    const up = { width: gt.width, height: gt.height, rgb: imresize(lr.rgb, 3, lr.height, lr.width, gt.height, gt.width) };
    p += psnrY(up, gt, { border: 2, roundY: true });
    s += ssim(up, gt, { border: 2, roundY: true });
  }
  assert.ok(Math.abs(p / 5 - 33.64) <= 0.05, `PSNR-Y ${(p / 5).toFixed(3)} dB`);
  // Published bicubic Set5 x2 SSIM (Kim et al., VDSR, Table 2): 0.9299.
  assert.ok(Math.abs(s / 5 - 0.9299) <= 0.003, `SSIM ${(s / 5).toFixed(4)}`);
});

test('metrics: hand-computed PSNR, SSIM and temporal error', () => {
  const w = 24;
  const h = 20;
  const a = flat(w, h, 128); // Y = round(16 + 219·128/255) = round(125.93) = 126
  assert.equal(psnrY(a, a), Infinity);
  assert.equal(ssim(a, a), 1);
  // Checkerboard of ±1 level on every channel: Y 127 (129: 126.79) / 125 (127: 125.07), error ±1.
  const b = flat(w, h, 128);
  const n = w * h;
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) b.rgb[c * n + i] = ((i % w) + Math.floor(i / w)) % 2 ? 129 / 255 : 127 / 255;
  // MATLAB convention (Y rounded): the error is exactly ±1, MSE 1.
  assert.ok(Math.abs(psnrY(a, b, { roundY: true }) - 20 * Math.log10(255)) < 1e-9);
  assert.ok(Math.abs(psnrY(a, b, { border: 3, roundY: true }) - 20 * Math.log10(255)) < 1e-9);
  // BasicSR convention (default, Y unrounded): one RGB level moves Y by 219/255.
  const step = 219 / 255;
  assert.ok(Math.abs(psnrY(a, b) - 20 * Math.log10(255 / step)) < 1e-9);
  // Two flat images, Y 126 and 127 (rounded): variances vanish, SSIM = (2·126·127 + C1) / (126² + 127² + C1).
  const c1 = (0.01 * 255) ** 2;
  const flatSsim = (y0: number, y1: number) => (2 * y0 * y1 + c1) / (y0 ** 2 + y1 ** 2 + c1);
  assert.ok(Math.abs(ssim(a, flat(w, h, 129), { border: 2, roundY: true }) - flatSsim(126, 127)) < 1e-12);
  const y128 = 16 + (219 * 128) / 255;
  assert.ok(Math.abs(ssim(a, flat(w, h, 129), { border: 2 }) - flatSsim(y128, y128 + step)) < 1e-12);
  assert.ok(ssim(a, b) < 0.999);
  // Output brightens by one level while the ground truth stays: error one Y step. Same motion: error 0.
  assert.equal(temporalError(flat(w, h, 129), a, a, a, { roundY: true }), 1);
  assert.ok(Math.abs(temporalError(flat(w, h, 129), a, a, a) - step) < 1e-9);
  assert.equal(temporalError(flat(w, h, 129), a, flat(w, h, 129), a), 0);
  assert.throws(() => psnrY(a, flat(w + 1, h, 0)), /different sizes/);
});

test('io: 8-bit and 16-bit PNG round trips are exact, alpha kept, no temp files left', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'paragon-img-'));
  try {
    const w = 7;
    const h = 5;
    const n = w * h;
    const rgb = new Float32Array(3 * n).map((_, i) => ((i * 37) % 256) / 255);
    const alpha = new Float32Array(n).map((_, i) => ((i * 11) % 256) / 255);
    await writePng(path.join(dir, 'a.png'), { width: w, height: h, rgb, alpha });
    const back = await readImage(path.join(dir, 'a.png'));
    assert.deepEqual([back.width, back.height, back.bitDepth], [w, h, 8]);
    assert.deepEqual(back.rgb, rgb);
    assert.deepEqual(back.alpha, alpha);

    const deep = new Float32Array(3 * n).map((_, i) => ((i * 4099) % 65536) / 65535);
    await writePng(path.join(dir, 'b.png'), { width: w, height: h, rgb: deep }, { bitDepth: 16 });
    const meta = await sharp(path.join(dir, 'b.png')).metadata();
    assert.equal(meta.depth, 'ushort');
    const back16 = await readImage(path.join(dir, 'b.png'));
    assert.equal(back16.bitDepth, 16);
    assert.equal(back16.alpha, undefined);
    assert.deepEqual(back16.rgb, deep);
    assert.deepEqual((await readdir(dir)).sort(), ['a.png', 'b.png']);

    // Grey PNG: expanded to three equal planes.
    const grey = Buffer.from(Array.from({ length: 6 }, (_, i) => i * 40));
    await sharp(grey, { raw: { width: 3, height: 2, channels: 1 } }).png().toFile(path.join(dir, 'g.png'));
    const g = await readImage(path.join(dir, 'g.png'));
    assert.deepEqual([...g.rgb.subarray(6, 12)].map((v) => Math.round(v * 255)), [0, 40, 80, 120, 160, 200]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('io: EXIF orientation is applied', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'paragon-img-'));
  try {
    // Stored 32x16: left half red, right half blue. Orientation 6 = display rotated 90° clockwise,
    // so the stored left column becomes the top row: top half red, bottom half blue, 16x32.
    const px = Buffer.alloc(32 * 16 * 3);
    for (let y = 0; y < 16; y++) for (let x = 0; x < 32; x++) px[(y * 32 + x) * 3 + (x < 16 ? 0 : 2)] = 255;
    const file = path.join(dir, 'o.jpg');
    await sharp(px, { raw: { width: 32, height: 16, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toFile(file);
    const img = await readImage(file);
    assert.deepEqual([img.width, img.height], [16, 32]);
    const n = 16 * 32;
    const at = (c: number, x: number, y: number) => img.rgb[c * n + y * 16 + x]!;
    assert.ok(at(0, 8, 2) > 0.9 && at(2, 8, 2) < 0.1, 'top is red');
    assert.ok(at(2, 8, 29) > 0.9 && at(0, 8, 29) < 0.1, 'bottom is blue');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('io: unreadable input and unwritable output are media errors naming the file', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'paragon-img-'));
  try {
    const bad = path.join(dir, 'bad.png');
    await writeFile(bad, Uint8Array.from(Buffer.from('\x89PNG\r\n\x1a\nnot really a png', 'latin1')));
    for (const f of [bad, path.join(dir, 'missing.png')])
      await assert.rejects(readImage(f), (e: unknown) => e instanceof ParagonError && e.code === 4 && e.message.startsWith(`${f}: `));
    const out = path.join(dir, 'nope', 'x.png');
    await assert.rejects(writePng(out, flat(2, 2, 10)), (e: unknown) => e instanceof ParagonError && e.code === 4 && e.message.includes(out));
    assert.deepEqual((await readdir(dir)).sort(), ['bad.png']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
