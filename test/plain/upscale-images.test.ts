/**
 * `paragon upscale` on images and folders, through the real entry (bin/paragon.js, which also
 * proves the inference worker loads outside `node --import tsx`), with the bundled model.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { readImage, imresize } from '../../src/image/index.ts';
import { resolveModel, MODELS_DIR, DEFAULT_MODEL } from '../../src/runtime/model.ts';
import { ModelSession } from '../../src/runtime/session.ts';
import { ROOT } from '../helpers/shared.ts';

const skip = existsSync(path.join(MODELS_DIR, `${DEFAULT_MODEL}.safetensors`)) ? false : 'needs the bundled default model';
let dir = '';
const inDir = () => path.join(dir, 'in');
const outDir = () => path.join(dir, 'out');

/** Run the CLI; never rejects (the exit code is part of what is tested). */
function paragon(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin', 'paragon.js'), 'upscale', ...args], { cwd: dir }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Interleaved 8- or 16-bit samples of a small synthetic picture. */
function picture(w: number, h: number, ch: number, max: number, seed: number): number[] {
  const px: number[] = [];
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < ch; c++) {
        const v = c === 3 ? x / (w - 1) : 0.5 + 0.4 * Math.sin((x * (c + 1) + y * 2 + seed) / 3) * Math.cos((y - x) / 5);
        px.push(Math.round(v * max));
      }
  return px;
}

async function allFiles(d: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) out.push(...(await allFiles(p)));
    else out.push(p);
  }
  return out;
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'paragon-upscale-'));
  await mkdir(path.join(inDir(), 'sub'), { recursive: true });
  await sharp(Buffer.from(picture(24, 20, 4, 255, 1)), { raw: { width: 24, height: 20, channels: 4 } }).png().toFile(path.join(inDir(), 'rgba.png'));
  const deep = new Uint16Array(picture(20, 16, 3, 65535, 2));
  await sharp(Buffer.from(deep.buffer), { raw: { width: 20, height: 16, channels: 3, premultiplied: false } })
    .toColourspace('rgb16')
    .png()
    .toFile(path.join(inDir(), 'deep16.png'));
  await sharp(Buffer.from(picture(32, 24, 3, 255, 3)), { raw: { width: 32, height: 24, channels: 3 } }).jpeg().toFile(path.join(inDir(), 'photo.jpg'));
  await sharp(Buffer.from(picture(16, 16, 3, 255, 4)), { raw: { width: 16, height: 16, channels: 3 } }).webp({ lossless: true }).toFile(path.join(inDir(), 'sub', 'pic.webp'));
  await writeFile(path.join(inDir(), 'bad.png'), 'this is not a png');
  await writeFile(path.join(inDir(), 'notes.txt'), 'ignored');
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('folder: outputs mirrored, alpha and 16 bits kept, one bad file reported in one line, exit 4', { skip }, async () => {
  const report = path.join(dir, 'report.json');
  const r = await paragon('in', '-o', 'out', '--recursive', '--report', report);
  assert.equal(r.code, 4, r.stderr);
  const errLines = r.stderr.split('\n').filter((l) => l.includes('bad.png'));
  assert.equal(errLines.length, 1, r.stderr);
  assert.match(errLines[0]!, /^paragon: .*bad\.png: cannot read image/);
  const rep = JSON.parse(await readFile(report, 'utf8'));
  assert.deepEqual(rep.counts, { total: 5, written: 4, skipped: 0, failed: 1 });
  const files = (await allFiles(outDir())).map((f) => path.relative(outDir(), f)).sort();
  assert.deepEqual(files, ['deep16.png', 'photo.png', 'rgba.png', path.join('sub', 'pic.png')], 'no temp files left, nothing for bad.png');

  // RGB: what the model gives on the decoded input; alpha: bicubic of the input alpha.
  const src = await readImage(path.join(inDir(), 'rgba.png'));
  const out = await readImage(path.join(outDir(), 'rgba.png'));
  assert.deepEqual([out.width, out.height, out.bitDepth], [48, 40, 8]);
  const model = await resolveModel(undefined, { mode: 'standard' });
  await using s = await ModelSession.create(model.bytes, { device: 'cpu' });
  const direct = (await s.run({ input: { type: 'float32', data: src.rgb.slice(), dims: [1, 3, 20, 24] } })).output!.data as Float32Array;
  const level = (a: number, b: number, max: number) => Math.abs(Math.round(Math.min(1, Math.max(0, a)) * max) - Math.round(b * max));
  assert.ok(direct.every((v, i) => level(v, out.rgb[i]!, 255) <= 1), 'RGB = model output');
  const alpha = imresize(src.alpha!, 1, 20, 24, 40, 48);
  assert.ok(out.alpha && alpha.every((v, i) => level(v, out.alpha![i]!, 255) <= 1), 'alpha = bicubic of the input alpha');

  const deepIn = await readImage(path.join(inDir(), 'deep16.png'));
  const deepOut = await readImage(path.join(outDir(), 'deep16.png'));
  assert.equal(deepIn.bitDepth, 16);
  assert.equal(deepOut.bitDepth, 16, '16-bit in → 16-bit out');
  const d16 = (await s.run({ input: { type: 'float32', data: deepIn.rgb.slice(), dims: [1, 3, 16, 20] } })).output!.data as Float32Array;
  assert.ok(d16.every((v, i) => level(v, deepOut.rgb[i]!, 65535) <= 1), 'full 16-bit precision');
  const pic = await sharp(path.join(outDir(), 'sub', 'pic.png')).metadata();
  assert.deepEqual([pic.width, pic.height], [32, 32]);
});

test('rerun skips complete outputs and redoes truncated or wrong-size ones', { skip }, async () => {
  const p = (f: string) => path.join(outDir(), f);
  // Run after the folder test: damage two outputs.
  await truncate(p('photo.png'), (await stat(p('photo.png'))).size - 20);
  await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).png().toFile(p(path.join('sub', 'pic.png')));
  const before = (await stat(p('rgba.png'))).mtimeMs;
  const r = await paragon('in', '-o', 'out', '-r', '--progress', 'json');
  assert.equal(r.code, 4);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const status = Object.fromEntries(events.filter((e) => e.event === 'item').map((e) => [path.basename(e.input), e.status]));
  assert.deepEqual(status, { 'bad.png': 'failed', 'deep16.png': 'skipped', 'photo.jpg': 'written', 'pic.webp': 'written', 'rgba.png': 'skipped' });
  assert.equal(events.at(-1).event, 'done');
  assert.equal((await stat(p('rgba.png'))).mtimeMs, before, 'complete output untouched');
  assert.deepEqual(await sharp(p(path.join('sub', 'pic.png'))).metadata().then((m) => [m.width, m.height]), [32, 32]);
  await sharp(p('photo.png')).stats(); // decodes completely again
  assert.ok(!(await allFiles(outDir())).some((f) => f.endsWith('.tmp')));
});

test('single image: --device cuda falls back to cpu with one notice; -o names the file', { skip }, async () => {
  const r = await paragon(path.join('in', 'photo.jpg'), '-o', path.join('single', 'x.png'), '--device', 'cuda');
  assert.equal(r.code, 0, r.stderr);
  const notices = r.stderr.split('\n').filter((l) => /cuda/.test(l));
  assert.equal(notices.length, 1, r.stderr);
  assert.match(notices[0]!, /^paragon: device cuda unavailable \(.*\); using cpu$/);
  const m = await sharp(path.join(dir, 'single', 'x.png')).metadata();
  assert.deepEqual([m.width, m.height, m.format], [64, 48, 'png']);
});

test('usage and input errors exit with their codes before any work', { skip }, async () => {
  const missing = await paragon('nope.png', '-o', 'x');
  assert.equal(missing.code, 4);
  assert.match(missing.stderr, /^paragon: nope\.png: no such file or folder\n$/);
  const temporal = await paragon(path.join('in', 'photo.jpg'), '-o', 'x', '--temporal', '2');
  assert.equal(temporal.code, 2);
  const priority = await paragon(path.join('in', 'photo.jpg'), '-o', 'x', '--priority', 'high');
  assert.equal(priority.code, 2);
  assert.match(priority.stderr, /^paragon: --priority high: expected idle, nice or off\n$/);
  const model = await paragon(path.join('in', 'photo.jpg'), '-o', 'x', '--model', 'no-such-model');
  assert.equal(model.code, 3);
  assert.match(model.stderr, /no-such-model: not a model file nor a bundled model/);
});
