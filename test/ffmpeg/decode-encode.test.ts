/**
 * Decode → encode round trips on generated clips: frame counts, exact timestamps (VFR kept), audio
 * and subtitles carried over with ≤ 1 frame of A/V drift, colour matrix and tags, 10-bit depth,
 * odd sizes, rotation applied exactly once, and bit-exact frames through lossless FFV1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFrames, type Frame } from '../../src/video/decode.ts';
import { createEncoder, type EncoderOptions } from '../../src/video/encode.ts';
import { framePlanes } from '../../src/video/frame.ts';
import { probeMedia, type MediaInfo } from '../../src/video/probe.ts';
import { lacking } from '../helpers/ffmpeg-features.ts';
import { clip, ffmpeg, ffprobe, streams, tmp, videoPts } from '../helpers/media.ts';
import { needShared, shared } from '../helpers/shared.ts';

/** Decode `src` and encode every frame to `out` with the source's streams; returns the notices. */
async function transcode(src: string, out: string, extra: Partial<EncoderOptions> = {}): Promise<{ info: MediaInfo; notices: string[]; frames: number }> {
  const info = await probeMedia(src);
  const notices: string[] = [];
  await using frames = decodeFrames(src, { info });
  const enc = await createEncoder(out, { ...(await frames.frameFormat()), source: info, onNotice: (l) => notices.push(l), ...extra });
  try {
    for await (const f of frames) await enc.write(f);
    await enc.finish();
  } finally {
    await enc.abort();
  }
  return { info, notices, frames: enc.frames };
}

async function decodeAll(file: string): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of decodeFrames(file)) out.push(f);
  return out;
}

/** End times (last packet pts + its duration) of the first video and audio streams. */
async function ends(file: string): Promise<{ video: number; audio: number }> {
  const end = async (sel: string): Promise<number> => {
    const out = await ffprobe(['-select_streams', sel, '-show_entries', 'packet=pts_time,duration_time', '-of', 'csv=p=0', file]);
    return Math.max(...out.split('\n').filter((l) => l.includes(',')).map((l) => l.split(',').map(Number)).map(([p, d]) => p! + (d || 0)));
  };
  return { video: await end('v:0'), audio: await end('a:0') };
}

test('CFR + audio → mp4: same frame count, same pts, audio copied, drift ≤ 1 frame, BT.709 tags', async () => {
  const src = await clip('cfr-audio.mp4');
  const out = tmp('cfr-out.mp4');
  const r = await transcode(src, out);
  assert.equal(r.frames, 50);
  assert.deepEqual(await videoPts(out), await videoPts(src));
  const [v, a] = await streams(out);
  assert.equal(a!.codec_name, 'aac');
  assert.deepEqual([v!.color_space, v!.color_primaries, v!.color_transfer, v!.color_range], ['bt709', 'bt709', 'bt709', 'tv']);
  assert.equal(v!.side_data_list, undefined);
  const [e0, e1] = [await ends(src), await ends(out)];
  assert.ok(Math.abs(e1.video - e1.audio - (e0.video - e0.audio)) <= 1 / 25 + 1e-6, `drift: ${JSON.stringify([e0, e1])}`);
  assert.deepEqual(r.notices, []);
});

test('VFR + audio: every timestamp survives into mp4 (exact) and mkv (1 ms ticks), still VFR', { skip: await lacking({ behaviour: 'mp4-enc-time-base' }) }, async () => {
  const src = await clip('vfr-audio.mp4');
  const srcPts = await videoPts(src);
  assert.equal(srcPts.length, 60);
  for (const ext of ['mp4', 'mkv']) {
    const out = tmp(`vfr-out.${ext}`);
    const r = await transcode(src, out);
    assert.equal(r.frames, 60);
    const pts = await videoPts(out);
    assert.equal(pts.length, 60, ext);
    // Matroska cannot start below 0, so the muxer shifts every stream by the AAC priming
    // (the source's audio starts at -23 ms); mp4 keeps the source's timeline as it is.
    const shift = pts[0]! - srcPts[0]!;
    assert.ok(ext === 'mkv' ? shift >= 0 && shift < 0.03 : shift === 0, `${ext} shift ${shift}`);
    const tol = ext === 'mp4' ? 1e-6 : 1.0001e-3;
    pts.forEach((t, i) => assert.ok(Math.abs(t - shift - srcPts[i]!) <= tol, `${ext} frame ${i}: ${t} vs ${srcPts[i]}`));
    const info = await probeMedia(out);
    assert.equal(info.vfr, true, ext);
    assert.equal(info.audio.length, 1);
    const [e0, e1] = [await ends(src), await ends(out)];
    // The longest frame interval of this clip is 100 ms.
    assert.ok(Math.abs(e1.video - e1.audio - (e0.video - e0.audio)) <= 0.1 + 1e-3, `${ext} drift: ${JSON.stringify([e0, e1])}`);
  }
});

test('no audio is fine; decoded pts match the container exactly', async () => {
  const src = await clip('no-audio.mkv');
  const out = tmp('no-audio-out.mkv');
  await transcode(src, out);
  assert.deepEqual((await streams(out)).map((s) => s.codec_type), ['video']);
  const frames = await decodeAll(src);
  assert.deepEqual(frames.map((f) => f.pts), await videoPts(src));
  assert.deepEqual(frames.map((f) => f.index), [...Array(25).keys()]);
});

test('subtitles and audio follow the container: copied to mkv, mov_text in mp4, webvtt/opus in webm', async () => {
  const src = await clip('subs.mkv');
  const mkv = await transcode(src, tmp('subs-out.mkv'));
  assert.deepEqual((await streams(tmp('subs-out.mkv'))).map((s) => s.codec_name), ['h264', 'opus', 'subrip']);
  assert.deepEqual(mkv.notices, []);
  const mp4 = await transcode(src, tmp('subs-out.mp4'));
  assert.deepEqual((await streams(tmp('subs-out.mp4'))).map((s) => s.codec_name), ['h264', 'opus', 'mov_text']);
  assert.equal(mp4.notices.length, 1);
  assert.match(mp4.notices[0]!, /subtitle stream #2 \(subrip\) converted to mov_text/);
  const webm = await transcode(await clip('cfr-audio.mp4'), tmp('aac-out.webm'), { codec: 'vp9', preset: '8' });
  assert.deepEqual((await streams(tmp('aac-out.webm'))).map((s) => s.codec_name), ['vp9', 'opus']);
  assert.match(webm.notices.join('\n'), /audio stream #1 \(aac\) cannot go into \.webm: re-encoded to Opus/);
});

test('odd size 321×181: H.264 goes 4:4:4 with a notice, FFV1 keeps every pixel', async () => {
  const src = await clip('odd-321x181.mkv');
  const x264 = await transcode(src, tmp('odd-out.mp4'));
  const [v] = await streams(tmp('odd-out.mp4'));
  assert.deepEqual([v!.width, v!.height, v!.pix_fmt], [321, 181, 'yuv444p']);
  assert.match(x264.notices.join('\n'), /odd frame size 321×181/);
  await transcode(src, tmp('odd-out.mkv'), { codec: 'ffv1' });
  const [a, b] = [await decodeAll(src), await decodeAll(tmp('odd-out.mkv'))];
  assert.equal(b.length, a.length);
  assert.deepEqual(b[3]!.data, a[3]!.data);
});

test('FFV1 round trip is bit-exact RGB, tagged as RGB', async () => {
  const src = await clip('cfr-audio.mp4');
  const out = tmp('lossless.mkv');
  await transcode(src, out, { codec: 'ffv1' });
  const [a, b] = [await decodeAll(src), await decodeAll(out)];
  assert.equal(b.length, 50);
  for (const i of [0, 17, 49]) assert.deepEqual(b[i]!.data, a[i]!.data, `frame ${i}`);
  const [v] = await streams(out);
  // FFV1 stores 8-bit RGB as 0RGB32 (ffprobe: bgr0).
  assert.match(v!.pix_fmt, /^(gbrp|bgr0)$/);
  assert.equal(v!.color_space, 'gbr');
});

test('10-bit source decodes to 16-bit samples and encodes 10-bit where the codec can', async () => {
  const src = await clip('ten-bit.mkv');
  const frames = await decodeAll(src);
  const f = frames[0]!;
  assert.equal(f.bitDepth, 16);
  assert.ok(f.data instanceof Uint16Array);
  // Not 8-bit values scaled up: 8→16-bit expansion gives only multiples of 257.
  let fine = 0;
  for (const s of f.data) if (s % 257 !== 0) fine++;
  assert.ok(fine > f.data.length / 2, `only ${fine} samples off the 8-bit grid`);
  await transcode(src, tmp('ten-out.mkv'), { codec: 'x265', preset: 'ultrafast' });
  assert.equal((await streams(tmp('ten-out.mkv')))[0]!.pix_fmt, 'yuv420p10le');
  await transcode(src, tmp('ten-out.mp4'), { codec: 'x264', preset: 'ultrafast' });
  assert.equal((await streams(tmp('ten-out.mp4')))[0]!.pix_fmt, 'yuv420p');
  await transcode(src, tmp('ten-ffv1.mkv'), { codec: 'ffv1' });
  const back = await decodeAll(tmp('ten-ffv1.mkv'));
  assert.equal(back[0]!.bitDepth, 16);
  assert.deepEqual(back[0]!.data, f.data);
});

test("layout 'gbrp': ffmpeg's planar samples, the same frames as packed (8-bit 4:2:0 with audio, 10-bit)", async () => {
  for (const name of ['cfr-audio.mp4', 'ten-bit.mkv'] as const) {
    const src = await clip(name);
    const packed = await decodeAll(src);
    const planar: Frame[] = [];
    for await (const f of decodeFrames(src, { layout: 'gbrp' })) planar.push(f);
    assert.equal(planar.length, packed.length, name);
    for (const [i, f] of planar.entries()) {
      const p = packed[i]!;
      assert.deepEqual([f.layout, f.pts, f.bitDepth, f.width, f.height], ['gbrp', p.pts, p.bitDepth, p.width, p.height], `${name} frame ${i}`);
      assert.deepEqual(framePlanes(f), framePlanes(p), `${name} frame ${i}`);
    }
  }
});

/** Mean RGB of a rectangle of a frame, on the 8-bit scale. */
function meanRgb(f: Frame, x0: number, y0: number, w: number, h: number): [number, number, number] {
  const k = f.bitDepth === 16 ? 257 : 1;
  const s = [0, 0, 0];
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) for (let c = 0; c < 3; c++) s[c]! += f.data[(y * f.width + x) * 3 + c]! / k;
  return s.map((v) => v / (w * h)) as [number, number, number];
}

const near = (got: number[], want: number[], tol: number, what: string): void =>
  assert.ok(got.every((g, i) => Math.abs(g - want[i]!) <= tol), `${what}: ${got.map((g) => g.toFixed(1))} vs ${want}`);

test('YUV→RGB uses the stream matrix: tagged BT.709, untagged HD (guessed 709) and untagged SD (601)', async () => {
  const want = [200, 60, 40];
  const cases: [string, string, string[]][] = [
    ['tagged-709.mkv', '64x64', ['-colorspace', 'bt709', '-color_range', 'tv']],
    ['untagged-hd.mkv', '1280x720', []],
    ['untagged-sd.mkv', '64x64', []],
  ];
  for (const [name, size, tags] of cases) {
    const matrix = name === 'untagged-sd.mkv' ? 'bt601' : 'bt709';
    await ffmpeg(['-f', 'lavfi', '-i', `color=c=0xC83C28:s=${size}:r=5:d=0.4`, '-vf', `scale=out_color_matrix=${matrix}:out_range=tv,format=yuv444p`, ...tags, '-c:v', 'ffv1', tmp(name)]);
    const [f] = await decodeAll(tmp(name));
    near(meanRgb(f!, 8, 8, 16, 16), want, 2, name);
  }
  // And through a lossy round trip, the colour and its tags survive.
  await transcode(tmp('tagged-709.mkv'), tmp('colour-out.mp4'));
  const [g] = await decodeAll(tmp('colour-out.mp4'));
  near(meanRgb(g!, 8, 8, 16, 16), want, 3, 'x264 round trip');
});

test('rotation is applied once: display-oriented frames, no rotation tag written', async () => {
  const src = await clip('rotated-90.mp4');
  const [f] = await decodeAll(src);
  assert.deepEqual([f!.width, f!.height], [96, 160]);
  // Stored top-left marker, displayed turned 90° anticlockwise → bottom-left.
  near(meanRgb(f!, 2, 160 - 14, 12, 12), [255, 0, 0], 12, 'bottom-left is the marker');
  near(meanRgb(f!, 96 - 14, 2, 12, 12), [0, 0, 255], 12, 'top-right is background');
  const out = tmp('rotated-out.mp4');
  await transcode(src, out);
  const [v] = await streams(out);
  assert.deepEqual([v!.width, v!.height, v!.side_data_list, v!.tags?.rotate], [96, 160, undefined, undefined]);
  const [g] = await decodeAll(out);
  near(meanRgb(g!, 2, 160 - 14, 12, 12), [255, 0, 0], 12, 'marker still bottom-left after the round trip');
});

test('the shared 1280×544 clip with rotation metadata decodes as 544×1280, exactly like ffmpeg autorotation', { skip: needShared('video', 'issue-134-rotate.mp4') }, async () => {
  const file = shared('video', 'issue-134-rotate.mp4');
  const ref = tmp('rotate-ref.rgb');
  // ffmpeg's own autorotation (default on), with the BT.709 matrix of an HD source named explicitly.
  await ffmpeg(['-i', file, '-frames:v', '1', '-vf', 'scale=in_color_matrix=bt709:in_range=tv:flags=bicubic+accurate_rnd+full_chroma_int,format=rgb24', '-f', 'rawvideo', ref]);
  const { readFileSync } = await import('node:fs');
  const want = new Uint8Array(readFileSync(ref));
  const frames: Frame[] = [];
  for await (const f of decodeFrames(file, { maxFrames: 12 })) frames.push(f);
  assert.deepEqual([frames[0]!.width, frames[0]!.height], [544, 1280]);
  assert.deepEqual(frames[0]!.data, want);
  assert.deepEqual(frames.map((f) => Math.round(f.pts * 24000)), frames.map((_, i) => i * 1001));
});
