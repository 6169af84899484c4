/**
 * The public Node API (src/index.ts) on images and frames, with the bundled model: a job's events
 * come through both the iterator and the callback, in order, the same the CLI prints; cancelling
 * (cancel(), an AbortSignal, leaving an `await using` block) stops a folder after the image in
 * flight with code 130 and no partial file; the wrong kind of input and bad values are usage
 * errors; openModel gives a frame engine that carries state and releases its worker.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { ExitCode, ParagonError, SceneCutDetector, convert, inspect, openModel, planarFromPacked, upscaleImage, upscaleVideo, type UpscaleEvent } from '../../src/index.ts';
import { DEFAULT_MODEL, MODELS_DIR } from '../../src/runtime/model.ts';

const skip = existsSync(path.join(MODELS_DIR, `${DEFAULT_MODEL}.safetensors`)) ? false : 'needs the bundled default model';
let dir = '';

/** A folder of `n` small distinct PNGs. */
async function folder(name: string, n: number): Promise<string> {
  const d = path.join(dir, name);
  await mkdir(d, { recursive: true });
  for (let i = 0; i < n; i++) {
    const px = Buffer.alloc(24 * 16 * 3);
    for (let k = 0; k < px.length; k++) px[k] = (k * (i + 3) * 7) % 256;
    await sharp(px, { raw: { width: 24, height: 16, channels: 3 } }).png().toFile(path.join(d, `img${i}.png`));
  }
  return d;
}

const interrupted = (e: unknown): boolean => e instanceof ParagonError && e.code === ExitCode.interrupted;
const usage = (e: unknown): boolean => e instanceof ParagonError && e.code === ExitCode.usage;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'paragon-api-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('upscaleImage on a folder: item events then done, through the iterator and the callback alike, and the report', { skip }, async () => {
  const src = await folder('three', 3);
  const seen: UpscaleEvent[] = [];
  const job = upscaleImage(src, path.join(dir, 'three-out'), { device: 'cpu', onProgress: (e) => seen.push(e) });
  const iterated: UpscaleEvent[] = [];
  for await (const e of job) iterated.push(e);
  const report = await job;
  assert.deepEqual(iterated, seen);
  assert.deepEqual(iterated.map((e) => e.event), ['item', 'item', 'item', 'done']);
  assert.deepEqual(iterated.slice(0, 3).map((e) => (e.event === 'item' ? [e.index, e.total, e.status, e.width, e.height] : [])), [1, 2, 3].map((i) => [i, 3, 'written', 48, 32]));
  assert.deepEqual(report.counts, { total: 3, written: 3, skipped: 0, failed: 0 });
  // A second iteration of a finished job replays its events.
  const again: UpscaleEvent[] = [];
  for await (const e of job) again.push(e);
  assert.deepEqual(again, iterated);
});

test('cancelling: cancel(), an AbortSignal, or leaving an `await using` block stop a folder after the image in flight with code 130', { skip }, async () => {
  const src = await folder('five', 5);
  const written = async (out: string) => ((await readdir(out).catch(() => [])) as string[]).filter((f) => f.endsWith('.png')).length;
  const hidden = async (out: string) => ((await readdir(out).catch(() => [])) as string[]).filter((f) => f.startsWith('.'));

  const job = upscaleImage(src, path.join(dir, 'c1'), { device: 'cpu' });
  // The iteration ends with the job, throwing its error; awaiting the job gives the same.
  await assert.rejects(async () => {
    for await (const e of job) if (e.event === 'item') job.cancel();
  }, interrupted);
  await assert.rejects(job.result, interrupted);
  assert.ok((await written(path.join(dir, 'c1'))) < 5);
  assert.deepEqual(await hidden(path.join(dir, 'c1')), [], 'no temporary files left');

  const ac = new AbortController();
  ac.abort();
  await assert.rejects(upscaleImage(src, path.join(dir, 'c2'), { signal: ac.signal }).result, interrupted);
  assert.equal(await written(path.join(dir, 'c2')), 0);

  let outer: ReturnType<typeof upscaleImage> | undefined;
  {
    await using j = upscaleImage(src, path.join(dir, 'c3'), { device: 'cpu' });
    outer = j;
    for await (const e of j) if (e.event === 'item') break;
  }
  await assert.rejects(outer.result, interrupted);
  assert.ok((await written(path.join(dir, 'c3'))) < 5);
});

test('wrong inputs and values are usage errors (code 2), raised by the job', { skip }, async () => {
  const png = path.join(await folder('one', 1), 'img0.png');
  const mp4 = path.join(dir, 'clip.mp4');
  await writeFile(mp4, '');
  await assert.rejects(upscaleVideo(png, path.join(dir, 'x.mkv')).result, (e: unknown) => usage(e) && /not a video/.test((e as Error).message));
  await assert.rejects(upscaleImage(mp4, path.join(dir, 'x')).result, (e: unknown) => usage(e) && /not an image or a folder/.test((e as Error).message));
  await assert.rejects(upscaleImage(png, path.join(dir, 'y.png'), { tile: -1 }).result, usage);
  await assert.rejects(upscaleVideo(mp4, path.join(dir, 'y.mkv'), { historyWeight: 1 }).result, usage);
  await assert.rejects(openModel(undefined, { historyWeight: 1.5 }), usage);
  await assert.rejects(convert(path.join(MODELS_DIR, `${DEFAULT_MODEL}.safetensors`), { output: path.join(dir, 'm.bin') }), usage);
  await assert.rejects(convert(path.join(MODELS_DIR, `${DEFAULT_MODEL}.safetensors`), { scale: 3 }), usage);
  await assert.rejects(inspect(png), usage);
});

test('openModel: a frame engine for your own frames, state carried, reset at a cut, released on dispose', { skip }, async () => {
  const w = 32;
  const h = 24;
  const frame = (shift: number) => {
    const px = new Uint8Array(w * h * 3);
    for (let i = 0; i < px.length; i++) px[i] = (i * 5 + shift * 17) % 256;
    return { width: w, height: h, data: px, bitDepth: 8 as const };
  };
  const detector = new SceneCutDetector();
  let engine: Awaited<ReturnType<typeof openModel>> | undefined;
  {
    await using up = await openModel(undefined, { device: 'cpu', historyWeight: 0.5 });
    engine = up;
    assert.equal(up.historyWeight, 0.5);
    for (const f of [frame(0), frame(1), frame(2)]) {
      const { cut } = detector.push(f);
      const out = await up.process({ width: w, height: h, rgb: planarFromPacked(f.data, w, h) }, { cut });
      assert.deepEqual([out.width, out.height], [2 * w, 2 * h]);
    }
    assert.equal(up.stats.frames, 3);
    // The history reached the picture: the same frame with and without it differs.
    const f = frame(3);
    const withHistory = await up.process({ width: w, height: h, rgb: planarFromPacked(f.data, w, h) });
    const fresh = await up.process({ width: w, height: h, rgb: planarFromPacked(f.data, w, h) }, { cut: true });
    let diff = 0;
    for (let i = 0; i < fresh.rgb.length; i++) diff = Math.max(diff, Math.abs(withHistory.rgb[i]! - fresh.rgb[i]!));
    assert.ok(diff > 1 / 255, `history changed the output by ${diff}`);
    assert.equal(up.stats.resets, 1);
  }
  // Leaving the block closed the session and ended its worker.
  await assert.rejects(engine.process({ width: w, height: h, rgb: new Float32Array(3 * w * h) }), /closed/);
});
