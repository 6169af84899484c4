/**
 * The segment writer's promise, on the encoders themselves (no model): a segment interrupted after
 * frame k and continued by a new writer from its spool is the same packets as the segment written
 * in one go, for x264, x265 and VP9 — while the same frames simply split into two encodes are not
 * (why the spool exists). And the spool gives back exactly the bytes it was given, 8- and 16-bit.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SegmentWriter } from '../../src/pipeline/segments.ts';
import type { SpoolPart } from '../../src/pipeline/manifest.ts';
import type { VideoCodec } from '../../src/video/containers.ts';
import { decodeFrames } from '../../src/video/decode.ts';
import { createEncoder } from '../../src/video/encode.ts';
import { locateFfmpeg } from '../../src/video/ffmpeg.ts';
import { packetHashes } from './upscale-helpers.ts';

const W = 64;
const H = 48;
const N = 24;
let dir = '';
const tools = locateFfmpeg();

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'paragon-segments-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Frame i: a moving gradient with pseudo-random noise (an encoder has something to decide about). */
function frame(i: number, depth: 8 | 16): Uint8Array | Uint16Array {
  const px = W * H * 3;
  const out = depth === 8 ? new Uint8Array(px) : new Uint16Array(px);
  const max = depth === 8 ? 255 : 65535;
  let seed = 1 + i * 7919;
  for (let p = 0; p < px; p++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const x = (p / 3) % W;
    const base = ((x * 4 + i * 6 + (p % 3) * 40) % 256) / 255;
    out[p] = Math.min(max, Math.max(0, Math.round((base + ((seed % 64) - 32) / 255) * max)));
  }
  return out;
}

const pts = (i: number): number => 10 + i * 0.04;

function open(file: string, first: number, codec: VideoCodec, spool: boolean, preload: SpoolPart[] = []): Promise<SegmentWriter> {
  return SegmentWriter.open({
    dir,
    file,
    first,
    tools,
    encoder: { width: W, height: H, bitDepth: 8, codec, preset: codec === 'vp9' ? '8' : 'ultrafast' },
    ...(spool ? { spool: { name: (f: number) => `${file}.spool-${f}.mkv`, preload } } : {}),
  });
}

for (const [codec, ext] of [['x264', '.mp4'], ['x265', '.mkv'], ['vp9', '.webm']] as const) {
  test(`${codec}: a segment continued from its spool is the same packets as one written in one go; a plain split is not`, async () => {
    const k = 9;
    const whole = await open(`whole-${codec}${ext}`, 0, codec, false);
    for (let i = 0; i < N; i++) await whole.write({ pts: pts(i), data: frame(i, 8) }, i);
    const ref = await whole.finish();

    // Interrupted after frame k: the spool part is kept, the encode itself thrown away.
    const first = await open(`resumed-${codec}${ext}`, 0, codec, true);
    for (let i = 0; i < k; i++) await first.write({ pts: pts(i), data: frame(i, 8) }, i);
    const part = await first.cutSpool()!;
    await first.abort();
    assert.deepEqual([part.first, part.frames, part.pts], [0, k, Array.from({ length: k }, (_, i) => pts(i))]);
    const again = await open(`resumed-${codec}${ext}`, 0, codec, true, [part]);
    assert.equal(again.reencoded, k);
    for (let i = k; i < N; i++) await again.write({ pts: pts(i), data: frame(i, 8) }, i);
    const resumed = await again.finish();
    assert.equal(resumed.frames, N);
    assert.deepEqual(await packetHashes(path.join(dir, resumed.file), 'v:0'), await packetHashes(path.join(dir, ref.file), 'v:0'));
    assert.equal(resumed.startUs, ref.startUs);

    // The same frames as two encodes cut at k: other packets (keyframe, lookahead, rate control).
    const a = await open(`a-${codec}${ext}`, 0, codec, false);
    for (let i = 0; i < k; i++) await a.write({ pts: pts(i), data: frame(i, 8) }, i);
    const b = await open(`b-${codec}${ext}`, k, codec, false);
    for (let i = k; i < N; i++) await b.write({ pts: pts(i), data: frame(i, 8) }, i);
    const split = [...(await packetHashes(path.join(dir, (await a.finish()).file), 'v:0')), ...(await packetHashes(path.join(dir, (await b.finish()).file), 'v:0'))];
    assert.notDeepEqual(split.map((l) => l.split(',').at(-1)), (await packetHashes(path.join(dir, ref.file), 'v:0')).map((l) => l.split(',').at(-1)));
  });
}

test('the lossless spool gives back exactly the bytes written, 8- and 16-bit', async () => {
  for (const depth of [8, 16] as const) {
    const file = path.join(dir, `spool-${depth}.mkv`);
    const enc = await createEncoder(file, { tools, width: W, height: H, bitDepth: depth, lossless: true, timeBase: [1, 1000] });
    for (let i = 0; i < 4; i++) await enc.write({ pts: i / 1000, data: frame(i, depth) });
    await enc.finish();
    let i = 0;
    for await (const f of decodeFrames(file, { tools, layout: 'packed', bitDepth: depth })) {
      assert.deepEqual(Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength), Buffer.from(frame(i, depth).buffer), `frame ${i} at ${depth} bits`);
      i++;
    }
    assert.equal(i, 4);
  }
  // Nothing but finished files (no temporary ones) left behind.
  assert.deepEqual((await readdir(dir)).filter((n) => n.includes('.partial')), []);
});
