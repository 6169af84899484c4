/**
 * `paragon upscale` on video through the real CLI: faithful media (every frame and timestamp, VFR,
 * audio and subtitles, colour tags, 10-bit, odd sizes, rotation), output identical to the frame
 * engine run by hand (state carried, reset at the scene cut), temporal smoothing visible, the
 * report and progress output; the shared film clip (cuts, rotation, audio) and Vid4 clips.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openUpscaler } from '../../src/temporal/open.ts';
import { packedFromPlanar } from '../../src/temporal/planes.ts';
import { SceneCutDetector } from '../../src/temporal/scene-cut.ts';
import { decodeFrames, type Frame } from '../../src/video/decode.ts';
import { framePlanes } from '../../src/video/frame.ts';
import { hdrFromSideData } from '../../src/video/hdr.ts';
import { probeMedia } from '../../src/video/probe.ts';
import { lacking } from '../helpers/ffmpeg-features.ts';
import { clip, ffmpeg, ffprobe, streams, videoPts } from '../helpers/media.ts';
import { needShared, ROOT, shared } from '../helpers/shared.ts';
import { decodeAll, ends, meanAbsDiff, needModel, shrink, upscale } from './upscale-helpers.ts';

let dir = '';
const at = (name: string): string => path.join(dir, name);

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'paragon-upvideo-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** No temp files, checkpoint folders or other leftovers beside the outputs. */
async function assertClean(): Promise<void> {
  const hidden = (await readdir(dir)).filter((n) => n.startsWith('.'));
  assert.deepEqual(hidden, [], 'leftovers in the output folder');
}

test('CFR + audio → mp4: 2×, same frames and timestamps, audio copied in sync, colour tags, report and JSON progress', { skip: needModel }, async () => {
  const src = await clip('cfr-audio.mp4');
  const r = await upscale([src, '-o', at('cfr.mp4'), '--preset', 'ultrafast', '--checkpoint', '20', '--progress', 'json', '--report', at('cfr.json')]);
  assert.equal(r.code, 0, r.stderr);
  const [v, a] = await streams(at('cfr.mp4'));
  assert.deepEqual([v!.codec_name, v!.width, v!.height, a!.codec_name], ['h264', 320, 180, 'aac']);
  assert.deepEqual([v!.color_space, v!.color_primaries, v!.color_transfer, v!.color_range], ['bt709', 'bt709', 'bt709', 'tv']);
  assert.deepEqual(await videoPts(at('cfr.mp4')), await videoPts(src));
  const [e0, e1] = [await ends(src), await ends(at('cfr.mp4'))];
  assert.ok(Math.abs(e1.video - e1.audio - (e0.video - e0.audio)) <= 1 / 25 + 1e-6, `drift: ${JSON.stringify([e0, e1])}`);
  // The report.
  const rep = JSON.parse(await readFile(at('cfr.json'), 'utf8'));
  assert.equal(rep.input, src);
  assert.equal(rep.output, at('cfr.mp4'));
  assert.equal(rep.frames, 50);
  assert.equal(rep.segments, 3);
  assert.equal(rep.device, 'cpu');
  assert.match(rep.model.file, /paragon-realtime-2x/);
  assert.deepEqual([rep.sceneCuts, rep.resets, rep.nanReruns, rep.historyWeight], [[], 0, 0, 'auto'], 'the default is --temporal auto');
  assert.ok(rep.fps > 0 && rep.elapsed > 0);
  for (const s of ['decode', 'infer', 'encode']) assert.ok(rep.stages[s] > 0, `stage ${s}: ${rep.stages[s]}`);
  // Stages overlap: their busy times add up to more than the run took... unless one dominates.
  assert.ok(rep.stages.decode + rep.stages.infer + rep.stages.encode <= 3 * rep.elapsed);
  // One JSON object per line on stdout: progress updates, then `done`.
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const last = events.at(-1);
  assert.deepEqual([last.event, last.frames], ['done', 50]);
  const final = events.filter((e) => e.event === 'progress').at(-1);
  assert.deepEqual([final.frames, final.total], [50, 50]);
  assert.ok(typeof final.fps === 'number' && typeof final.elapsed === 'number');
  await assertClean();
});

const hasScript = existsSync('/usr/bin/script') ? false : 'needs util-linux script (a pseudo-terminal)';

test('on a terminal: a progress bar with frames, percentage, fps and ETA, redrawn in place', { skip: needModel || hasScript }, async () => {
  const src = await clip('cfr-audio.mp4');
  // `script` runs the CLI on a pseudo-terminal, so stderr is a TTY as for a user at a terminal.
  const cmd = [process.execPath, path.join(ROOT, 'bin', 'paragon.js'), 'upscale', src, '-o', at('tty.mkv'), '--preset', 'ultrafast'].map((a) => `'${a}'`).join(' ');
  const text = await new Promise<string>((resolve, reject) =>
    execFile('script', ['-qec', cmd, '/dev/null'], (err, stdout) => (err ? reject(new Error(`${err.message}\n${stdout}`)) : resolve(stdout))),
  );
  const draws = text.split('\r\x1b[2K').slice(1);
  assert.ok(draws.length >= 1, JSON.stringify(text));
  for (const d of draws) assert.match(d, /^\[[#.]{30}\] \d+\/50 frames \d+%, [\d.]+ fps, 0:\d\d elapsed(, ETA \d+:\d\d)?/);
  assert.match(draws.at(-1)!, /^\[#{30}\] 50\/50 frames 100%, [\d.]+ fps, 0:\d\d elapsed, ETA 0:00\r?\n/);
  assert.ok(existsSync(at('tty.mkv')));
});

test('frames equal the frame engine run by hand on the decoded frames (state carried, reset at the cut), bit for bit through FFV1', { skip: needModel }, async () => {
  const src = at('cut.mkv');
  // 12 frames of a moving test pattern, then 12 of colour bars: one hard cut, at frame 12.
  await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=96x64:r=25:d=0.48', '-f', 'lavfi', '-i', 'smptehdbars=s=96x64:r=25:d=0.48', '-filter_complex', '[0][1]concat=n=2:v=1,format=yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '0', src]);
  const r = await upscale([src, '-o', at('cut.2x.mkv'), '--codec', 'ffv1', '--device', 'cpu', '--temporal', '0.2', '--checkpoint', '5', '--report', at('cut.json')]);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(await readFile(at('cut.json'), 'utf8'));
  assert.deepEqual([rep.frames, rep.sceneCuts, rep.resets], [24, [12], 1]);
  const got = await decodeAll(at('cut.2x.mkv'));
  assert.equal(got.length, 24);

  const detector = new SceneCutDetector();
  await using up = await openUpscaler(undefined, { mode: 'video', historyWeight: 0.2, device: 'cpu' });
  await using noCut = await openUpscaler(undefined, { mode: 'video', historyWeight: 0.2, device: 'cpu' });
  let i = 0;
  for await (const f of decodeFrames(src)) {
    const frame = { width: f.width, height: f.height, rgb: framePlanes(f) };
    const cut = detector.push(f).cut;
    const want = packedFromPlanar((await up.process(frame, { cut })).rgb, 192, 128, 8);
    assert.deepEqual(got[i]!.data, want, `frame ${i}`);
    // Without the reset, the first frame of the new shot would carry the old shot's features.
    const carried = packedFromPlanar((await noCut.process(frame)).rgb, 192, 128, 8);
    if (i === 12) assert.ok(meanAbsDiff(carried, want) > 0.5, 'the reset at the cut changes the frame');
    i++;
  }
  assert.equal(i, 24);
  await assertClean();
});

test('temporal smoothing: on a still, noisy shot the output flickers less than with --no-temporal; auto (default) at least as little as the blind 0.5', { skip: needModel }, async () => {
  const src = at('noisy.mkv');
  await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=96x64:r=25:d=0.04,loop=loop=15:size=1:start=0,noise=alls=16:allf=t,format=yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '0', src]);
  const flicker = async (out: string, ...flags: string[]): Promise<number> => {
    const r = await upscale([src, '-o', out, '--codec', 'ffv1', ...flags]);
    assert.equal(r.code, 0, r.stderr);
    const frames = await decodeAll(out);
    assert.equal(frames.length, 16);
    return frames.slice(1).reduce((s, f, k) => s + meanAbsDiff(f.data, frames[k]!.data), 0) / 15;
  };
  const off = await flicker(at('noisy-off.mkv'), '--no-temporal');
  const on = await flicker(at('noisy-on.mkv'), '--temporal', '0.2');
  const strong = await flicker(at('noisy-strong.mkv'), '--temporal', '0.5');
  const auto = await flicker(at('noisy-auto.mkv')); // the default, --temporal auto
  const msg = `mean frame-to-frame change: off ${off}, W 0.2 ${on}, W 0.5 ${strong}, auto ${auto}`;
  assert.ok(on < 0.95 * off && strong < on, msg);
  // The goal for static noisy scenes: at least 25% below weight 0, no worse than the blind 0.5.
  assert.ok(auto < 0.75 * off && auto <= strong, msg);
});

test('VFR + audio: every timestamp kept in mp4 (exact) and mkv (1 ms), still VFR, audio in sync', { skip: needModel || (await lacking({ behaviour: 'mp4-enc-time-base' })) }, async () => {
  const src = await clip('vfr-audio.mp4');
  const srcPts = await videoPts(src);
  for (const ext of ['mp4', 'mkv']) {
    const out = at(`vfr.${ext}`);
    const r = await upscale([src, '-o', out, '--preset', 'ultrafast', '--checkpoint', '16']);
    assert.equal(r.code, 0, r.stderr);
    const pts = await videoPts(out);
    assert.equal(pts.length, 60, ext);
    // As in a plain transcode: Matroska starts every stream at ≥ 0, shifting by the AAC priming.
    const shift = pts[0]! - srcPts[0]!;
    assert.ok(ext === 'mkv' ? shift >= 0 && shift < 0.03 : shift === 0, `${ext} shift ${shift}`);
    pts.forEach((t, i) => assert.ok(Math.abs(t - shift - srcPts[i]!) <= (ext === 'mp4' ? 1e-6 : 1.0001e-3), `${ext} frame ${i}: ${t} vs ${srcPts[i]}`));
    const info = await probeMedia(out);
    assert.equal(info.vfr, true, ext);
    const [e0, e1] = [await ends(src), await ends(out)];
    // The longest frame interval of this clip is 100 ms.
    assert.ok(Math.abs(e1.video - e1.audio - (e0.video - e0.audio)) <= 0.1 + 1e-3, `${ext} drift: ${JSON.stringify([e0, e1])}`);
  }
});

test('subtitles and audio follow the container: copied into mkv, mov_text into mp4, AAC to Opus in webm (with notices)', { skip: needModel }, async () => {
  const src = await clip('subs.mkv');
  const mkv = await upscale([src, '-o', at('subs.mkv'), '--preset', 'ultrafast']);
  assert.equal(mkv.code, 0, mkv.stderr);
  assert.deepEqual((await streams(at('subs.mkv'))).map((s) => s.codec_name), ['h264', 'opus', 'subrip']);
  const mp4 = await upscale([src, '-o', at('subs.mp4'), '--preset', 'ultrafast']);
  assert.equal(mp4.code, 0, mp4.stderr);
  assert.deepEqual((await streams(at('subs.mp4'))).map((s) => s.codec_name), ['h264', 'opus', 'mov_text']);
  assert.match(mp4.stderr, /subtitle stream #2 \(subrip\) converted to mov_text/);
  // AAC cannot go into WebM: re-encoded to Opus, with a notice.
  const webm = await upscale([await clip('cfr-audio.mp4'), '-o', at('aac.webm'), '--frames', ':8', '--preset', '8']);
  assert.equal(webm.code, 0, webm.stderr);
  assert.deepEqual((await streams(at('aac.webm'))).map((s) => s.codec_name), ['vp9', 'opus']);
  assert.match(webm.stderr, /audio stream #1 \(aac\) cannot go into \.webm: re-encoded to Opus/);
});

test('10-bit source: 16-bit samples through the model, 10-bit x265 out; FFV1 keeps 16-bit samples', { skip: needModel }, async () => {
  const src = await clip('ten-bit.mkv');
  const r = await upscale([src, '-o', at('ten.mkv'), '--codec', 'x265', '--preset', 'ultrafast']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await streams(at('ten.mkv')))[0]!.pix_fmt, 'yuv420p10le');
  const lossless = await upscale([src, '-o', at('ten-ffv1.mkv'), '--codec', 'ffv1', '--frames', ':2']);
  assert.equal(lossless.code, 0, lossless.stderr);
  const [f] = await decodeAll(at('ten-ffv1.mkv'));
  assert.equal(f!.bitDepth, 16);
  // Not 8-bit values scaled up (multiples of 257): the model's 16-bit output is kept.
  let fine = 0;
  for (const s of f!.data) if (s % 257 !== 0) fine++;
  assert.ok(fine > f!.data.length / 2, `only ${fine} of ${f!.data.length} samples off the 8-bit grid`);
});

test('HDR (PQ) source: mastering display and light levels carried by x265 and SVT-AV1, a notice elsewhere', { skip: needModel || (await lacking({ encoder: 'libx265' }, { encoder: 'libsvtav1' })) }, async () => {
  const src = at('pq.mkv');
  const md = 'G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)';
  await ffmpeg([
    '-f', 'lavfi', '-i', 'testsrc2=s=64x64:r=10:d=0.4', '-pix_fmt', 'yuv420p10le', '-c:v', 'libx265',
    '-x265-params', `log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:master-display=${md}:max-cll=1000,400`,
    '-color_primaries', 'bt2020', '-color_trc', 'smpte2084', '-colorspace', 'bt2020nc', src,
  ]);
  const info = await probeMedia(src);
  assert.deepEqual(info.video.hdr, {
    masteringDisplay: { red: [0.68, 0.32], green: [0.265, 0.69], blue: [0.15, 0.06], whitePoint: [0.3127, 0.329], minLuminance: 0.0001, maxLuminance: 1000 },
    contentLight: { maxCll: 1000, maxFall: 400 },
  });
  const sideData = async (file: string): Promise<Record<string, unknown>[]> => {
    const out = await ffprobe(['-select_streams', 'v:0', '-read_intervals', '%+#1', '-show_frames', '-show_entries', 'frame=side_data_list', '-of', 'json', file]);
    return (JSON.parse(out) as { frames: { side_data_list?: Record<string, unknown>[] }[] }).frames[0]?.side_data_list ?? [];
  };
  const want = (await sideData(src)).filter((d) => /Mastering|light level/.test(String(d.side_data_type)));
  assert.equal(want.length, 2);
  for (const codec of ['x265', 'av1']) {
    const out = at(`pq.${codec}.mkv`);
    const r = await upscale([src, '-o', out, '--codec', codec, '--preset', codec === 'av1' ? '12' : 'ultrafast']);
    assert.equal(r.code, 0, r.stderr);
    // AV1 stores the values in its own fixed point (xy in 1/65536): equal to that precision.
    const got = hdrFromSideData(await sideData(out));
    const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= 1e-4 * Math.max(1, b), `${codec} ${what}: ${a} vs ${b}`);
    const m = got?.masteringDisplay;
    const e = info.video.hdr!.masteringDisplay!;
    assert.ok(m, `${codec} carries the mastering display`);
    for (const k of ['red', 'green', 'blue', 'whitePoint'] as const) for (const i of [0, 1]) close(m[k][i]!, e[k][i]!, `${k}[${i}]`);
    close(m.minLuminance, e.minLuminance, 'min luminance');
    close(m.maxLuminance, e.maxLuminance, 'max luminance');
    assert.deepEqual(got?.contentLight, { maxCll: 1000, maxFall: 400 }, `${codec} carries the light levels`);
    assert.equal((await streams(out))[0]!.color_transfer, 'smpte2084');
  }
  const vp9 = await upscale([src, '-o', at('pq.webm'), '--codec', 'vp9', '--frames', ':1']);
  assert.equal(vp9.code, 0, vp9.stderr);
  assert.match(vp9.stderr, /HDR mastering\/light-level metadata is not written by --codec vp9/);
});

test('odd size 97×55 and a 90°-rotated source: upright output of twice the size, no rotation tag', { skip: needModel }, async () => {
  const odd = at('odd.mkv');
  await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=96x54:r=10:d=0.5', '-vf', 'scale=97:55,format=yuv420p', '-c:v', 'ffv1', odd]);
  const r = await upscale([odd, '-o', at('odd.2x.mp4'), '--preset', 'ultrafast']);
  assert.equal(r.code, 0, r.stderr);
  const [o] = await streams(at('odd.2x.mp4'));
  assert.deepEqual([o!.width, o!.height, Number(o!.nb_frames)], [194, 110, 5]);

  const rot = await clip('rotated-90.mp4');
  const rr = await upscale([rot, '-o', at('rot.2x.mp4'), '--preset', 'ultrafast', '--crf', '10']);
  assert.equal(rr.code, 0, rr.stderr);
  const [v] = await streams(at('rot.2x.mp4'));
  assert.deepEqual([v!.width, v!.height, v!.side_data_list, v!.tags?.rotate], [192, 320, undefined, undefined]);
  // The stored top-left red marker is displayed bottom-left; the output shows it there too.
  const [g] = await decodeAll(at('rot.2x.mp4'));
  const px = (x: number, y: number): number[] => [0, 1, 2].map((c) => g!.data[(y * 192 + x) * 3 + c]!);
  const [red, blue] = [px(8, 320 - 8), px(192 - 8, 8)];
  assert.ok(red[0]! > 200 && red[2]! < 60, `bottom-left ${red}`);
  assert.ok(blue[2]! > 200 && blue[0]! < 60, `top-right ${blue}`);
});

/** The input frames [from, to) of a file, decoded. */
async function inputFrames(file: string, from: number, to: number): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of decodeFrames(file, { maxFrames: to })) if (f.index >= from) out.push(f);
  return out;
}

const FILM = shared('video', 'issue-134-rotate.mp4');

test('film clip (rotation, audio, cuts at 90 and 210), two 12-frame excerpts: cuts found and reset, upright, audio kept', { skip: needModel || needShared('video', 'issue-134-rotate.mp4') }, async () => {
  for (const [from, cut] of [[84, 90], [204, 210]] as const) {
    const out = at(`film-${from}.mp4`);
    const r = await upscale([FILM, '-o', out, '--frames', `${from}:${from + 12}`, '--preset', 'ultrafast', '--report', at('film.json')]);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(await readFile(at('film.json'), 'utf8'));
    assert.deepEqual([rep.frames, rep.sceneCuts, rep.resets, rep.range], [12, [cut], 1, { from, to: from + 12 }]);
    const [v, a] = await streams(out);
    assert.deepEqual([v!.width, v!.height, v!.side_data_list, a!.codec_name], [1088, 2560, undefined, 'aac']);
    // The excerpt starts at 0 and its audio spans its 12 frames.
    const pts = await videoPts(out);
    assert.deepEqual(pts.map((t) => Math.round(t * 24000)), pts.map((_, i) => i * 1001));
    const e = await ends(out);
    assert.ok(Math.abs(e.audio - e.video) <= 1001 / 24000 + 1e-3, `audio ends at ${e.audio}, video at ${e.video}`);
    // Upright and unsheared: each output frame, averaged back down, is its input frame.
    const input = await inputFrames(FILM, from, from + 12);
    const output = await decodeAll(out);
    for (const k of [0, 6, 11]) {
      const d = meanAbsDiff(shrink(output[k]!, 2), input[k]!.data);
      assert.ok(d < 6, `frame ${from + k}: mean difference ${d} from its input`);
    }
  }
});

test('Vid4 walk + calendar (downscaled ×4): one cut at the junction, every frame kept', { skip: needModel || needShared('vid4', 'walk') || needShared('vid4', 'calendar') }, async () => {
  const src = at('vid4.mkv');
  const inputs = ['walk', 'calendar'].flatMap((s) => ['-framerate', '24', '-i', shared('vid4', s, '%03d.png')]);
  await ffmpeg([...inputs, '-filter_complex', '[0]scale=180:120,setsar=1[a];[1]scale=180:120,setsar=1[b];[a][b]concat=n=2:v=1,format=yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '12', src]);
  const r = await upscale([src, '-o', at('vid4.2x.mkv'), '--preset', 'ultrafast', '--report', at('vid4.json')]);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(await readFile(at('vid4.json'), 'utf8'));
  assert.deepEqual([rep.frames, rep.sceneCuts, rep.resets], [88, [47], 1]);
  assert.deepEqual(await videoPts(at('vid4.2x.mkv')), await videoPts(src));
  assert.ok(!existsSync(path.join(dir, '.paragon-resume')));
});
