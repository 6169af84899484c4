/**
 * The browser player's sound and its `auto` history weight, in Debian's Chromium (see harness.ts):
 * - `temporal=auto` (the default): the frames the page draws on WASM and on WebGPU (SwiftShader)
 *   equal the Node engine's with `historyWeight: 'auto'` on the same decoded RGB (PSNR ≥ 45 dB),
 *   and are clearly closer to it than to frames without history, on a noisy panning clip (on clean
 *   input the estimator keeps no history at all, which would prove nothing; the pan makes the
 *   history move with the camera, through the same warp head as Node's).
 * - Sound: a clip with AAC audio plays its sound through Web Audio, which is the master clock:
 *   buffers are scheduled, the clock advances while playing and stops while paused, resumes where
 *   it stopped, restarts at a seek, and every frame is drawn on time against it. A clip without
 *   audio plays on the wall clock.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { ffmpeg, tmp } from '../helpers/media.ts';
import type { Captured } from '../../src/player/web/app.ts';
import { assertParity, nodeParity, skip, startPlayer, state, type PlayerSession } from './harness.ts';

const W = 64;
const H = 48;
const FPS = 12;
const SLOT = 1 / FPS;

let player: PlayerSession | undefined;
let noisy = '';
let silent = '';

/** Mean of the non-reset frames' history weights. */
const meanWeight = (frames: Captured[]) => {
  const h = frames.filter((f) => f.reset === null);
  return h.reduce((s, f) => s + f.weight, 0) / Math.max(1, h.length);
};

/**
 * Frames drawn while playing were drawn at their time on the master clock: never before their
 * timestamp, and no later than their slot plus the work spent on them since they were found not
 * to be late (upscaling holds the page's thread on WASM, so the clock moves on meanwhile) plus a
 * margin for timers and the audio clock's granularity. `onTime` (dropping late frames): most
 * frames are within their slot (the median), where the machine keeps up with the video.
 */
function assertInSync(sync: { lag: number; work: number }[], label: string, t: { diagnostic(m: string): void }, onTime: boolean): void {
  t.diagnostic(`${label}: lag/work ms ${sync.map((s) => `${(s.lag * 1000).toFixed(0)}/${(s.work * 1000).toFixed(0)}`).join(' ')}`);
  assert.ok(sync.length > 0, `${label}: frames drawn against the clock`);
  for (const [i, s] of sync.entries()) {
    // The audio clock moves in steps of the audio callback (tens of ms in headless Chromium's fake
    // output, more under load), so "on time" is judged to 40 ms: picture ahead of sound by less
    // than 45 ms is below what viewers detect (ITU-R BT.1359).
    assert.ok(s.lag >= -0.04, `${label} frame ${i}: drawn ${(-s.lag * 1000).toFixed(0)} ms before its time on the clock`);
    // Not dropping, a frame may start late by what the previous one overran (time then waits
    // for it: the overrun drains a slot per frame instead of growing).
    const carried = onTime || i === 0 ? 0 : Math.max(0, sync[i - 1]!.lag - SLOT);
    assert.ok(s.lag <= SLOT + s.work + carried + 0.05, `${label} frame ${i}: drawn ${(s.lag * 1000).toFixed(0)} ms after its time (work ${(s.work * 1000).toFixed(0)} ms)`);
  }
  const mid = (v: number[]): number => v.sort((a, b) => a - b)[v.length >> 1]!;
  const median = mid(sync.map((s) => s.lag));
  // "Mostly within the slot" holds only where the machine keeps up: when upscaling a frame takes
  // about a slot or more (a loaded CI machine), every drawn frame is late by its own work, which
  // the per-frame bound above already covers.
  const keepsUp = mid(sync.map((s) => s.work)) < 0.8 * SLOT;
  if (onTime && keepsUp) assert.ok(median <= SLOT + 0.03, `${label}: median lag ${(median * 1000).toFixed(0)} ms`);
  else if (onTime) t.diagnostic(`${label}: upscaling takes about a slot here; median lag ${(median * 1000).toFixed(0)} ms not judged`);
}

/** The master clock's media time, read twice `ms` apart. */
async function clockOver(page: Page, ms: number): Promise<[number, number]> {
  const a = (await state(page)).audio.time as number;
  await page.waitForTimeout(ms);
  return [a, (await state(page)).audio.time as number];
}

describe('browser player: sound and auto temporal weight', { skip }, () => {
  before(async () => {
    // A smooth pattern under noise, panning by 2/3 of a pixel a frame each way for its first 10
    // frames (the estimator keeps history where noise explains the change, moved with the camera),
    // with a 440 Hz tone, 4 s; and a clean clip without audio.
    noisy = tmp('player-noisy.mp4');
    silent = tmp('player-silent.mp4');
    await ffmpeg([
      '-f', 'lavfi', '-i', `nullsrc=s=${4.5 * W}x${4.5 * H}:r=${FPS}:d=4,format=yuv444p,geq=lum='128+40*sin(X/17)*sin(Y/13)+20*sin((X+2*Y)/23)':cb='128+30*sin(Y/29)':cr=128,crop=${3 * W}:${3 * H}:x='min(n\\,10)*2':y='min(n\\,10)*2',scale=${W}:${H}:flags=bicubic,noise=alls=12:allf=t,format=yuv420p`,
      '-f', 'lavfi', '-i', 'sine=f=440:d=4',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'baseline', '-crf', '12', '-c:a', 'aac', '-shortest', noisy,
    ]);
    await ffmpeg(['-f', 'lavfi', '-i', `testsrc2=s=${W}x${H}:r=${FPS}:d=1,format=yuv420p`, '-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'baseline', '-an', silent]);
    player = await startPlayer([noisy, silent]);
  });

  after(async () => {
    await player?.close();
  });

  test('temporal auto (the default) on WASM: frames match the Node engine with historyWeight auto', { timeout: 120_000 }, async (t) => {
    const page = await player!.openPage('backend=wasm&capture=10&drop=0');
    const s0 = await state(page);
    assert.equal(s0.backend, 'wasm');
    assert.equal(s0.temporal, 'auto', 'auto is the default');
    assert.equal(await page.textContent('#temporal-value'), 'auto');
    await page.click('#play');
    await page.waitForFunction(() => (globalThis as any).__paragon.captured.length >= 10, null, { timeout: 90_000 });
    await page.click('#play');
    const s = await state(page);
    const frames = (s.captured as Captured[]).slice(0, 10);
    assert.deepEqual(frames.map((f) => f.reset), ['first', ...Array(9).fill(null)]);
    assert.deepEqual(frames.map((f) => Math.round(f.timestamp * FPS)), [...Array(10).keys()], 'no frame dropped with drop=0');
    // Noise keeps history (the map is on), and the map is per pixel: the page's frames are
    // clearly closer to Node's auto than to Node's fixed weight at the map's ceiling.
    const mean = meanWeight(frames);
    t.diagnostic(`mean auto weights: ${frames.map((f) => f.weight.toFixed(3)).join(' ')}`);
    t.diagnostic(`history moved by: ${frames.map((f) => `${f.shift.dx.toFixed(2)},${f.shift.dy.toFixed(2)}`).join(' ')}`);
    assert.ok(mean > 0.1, `mean auto weight ${mean.toFixed(3)}`);
    assert.ok(frames.filter((f) => Math.abs(f.shift.dx - 2 / 3) < 0.15 && Math.abs(f.shift.dy - 2 / 3) < 0.15).length >= 5, 'the history followed the pan');
    await assertParity(t, 'WASM auto', frames, 'auto');
    const auto = await nodeParity(frames, 'auto');
    const fixed = await nodeParity(frames, 0.9);
    t.diagnostic(`vs Node auto / Node W=0.9, PSNR dB: ${auto.map((p, i) => `${p.toFixed(1)}/${fixed[i]!.toFixed(1)}`).join(' ')}`);
    for (const [i, f] of frames.entries()) if (f.reset === null) assert.ok(auto[i]! > fixed[i]! + 3, `frame ${i}: ${auto[i]!.toFixed(1)} dB vs auto, ${fixed[i]!.toFixed(1)} dB vs W=0.9`);
    // Not dropping: time (the sound) waits for late frames, so every frame is still on time.
    assertInSync(s.sync, 'WASM auto, drop=0', t, false);
    await page.close();
  });

  test('temporal auto on WebGPU: the map reaches the GPU session too', { timeout: 150_000 }, async (t) => {
    const page = await player!.openPage('backend=webgpu&capture=3&drop=0&temporal=auto');
    assert.equal((await state(page)).backend, 'webgpu');
    await page.click('#play');
    await page.waitForFunction(() => (globalThis as any).__paragon.captured.length >= 3, null, { timeout: 120_000 });
    await page.click('#play');
    const frames = ((await state(page)).captured as Captured[]).slice(0, 3);
    assert.deepEqual(frames.map((f) => f.reset), ['first', null, null]);
    assert.ok(meanWeight(frames) > 0.1, `mean auto weight ${meanWeight(frames).toFixed(3)}`);
    await assertParity(t, 'WebGPU auto', frames, 'auto');
    await page.close();
  });

  test('sound: the audio track plays and is the master clock through pause, resume and seek', { timeout: 120_000 }, async (t) => {
    const page = await player!.openPage('backend=wasm&temporal=0.2');
    let s = await state(page);
    assert.equal(s.video, path.basename(noisy));
    assert.equal(s.audio.track, true, `audio track played; notices: ${s.notices}`);
    assert.equal(s.audio.clock, 'audio');
    assert.match((await page.textContent('#overlay')) ?? '', /sound .*audio clock/);

    // Volume and mute reach the output gain.
    await page.evaluate(() => {
      const v = document.getElementById('volume') as HTMLInputElement;
      v.value = '0.5';
      v.dispatchEvent(new Event('input'));
    });
    assert.equal((await state(page)).audio.gain, 0.5);
    await page.click('#mute');
    assert.equal((await state(page)).audio.gain, 0);
    await page.click('#mute');
    assert.equal((await state(page)).audio.gain, 0.5);

    await page.click('#play');
    await page.waitForFunction(() => (globalThis as any).__paragon.audio.time > 0.6, null, { timeout: 30_000 });
    const [a, b] = await clockOver(page, 300);
    assert.ok(b - a > 0.15 && b - a < 0.6, `audio clock advanced ${(b - a).toFixed(3)} s in 0.3 s`);
    assert.ok((await state(page)).audio.buffers > 0, 'audio buffers scheduled');

    // Pause: the clock stops; resume: it goes on from there (the sound did not run on).
    await page.click('#play');
    assert.equal((await state(page)).playing, false, 'paused (not ended and restarted)');
    await page.waitForTimeout(100);
    const [p, q] = await clockOver(page, 700);
    assert.ok(Math.abs(q - p) < 0.005, `clock stopped while paused (${p.toFixed(3)} → ${q.toFixed(3)})`);
    await page.click('#play');
    await page.waitForFunction((x) => (globalThis as any).__paragon.audio.time > x + 0.2, q, { timeout: 30_000 });
    const resumed = (await state(page)).audio.time as number;
    assert.ok(resumed < q + 0.8, `resumed from ${q.toFixed(3)}, clock at ${resumed.toFixed(3)}`);
    await page.waitForFunction(() => (globalThis as any).__paragon.ended, null, { timeout: 60_000 });
    s = await state(page);
    t.diagnostic(`shown ${s.shown}, dropped ${s.dropped}, ${s.audio.buffers} audio buffers (${s.audio.seconds.toFixed(2)} s)`);
    assertInSync(s.sync, 'sound', t, true);
    assert.ok(s.audio.seconds > 3, `${s.audio.seconds} s of sound scheduled for a 4 s clip`);

    // Seek to 1 s and play: the sound restarts there.
    await page.evaluate(() => {
      const seek = document.getElementById('seek') as HTMLInputElement;
      seek.value = '0.25';
      seek.dispatchEvent(new Event('input'));
    });
    await page.waitForFunction(() => Math.abs((globalThis as any).__paragon.time - 1) < 0.1, null, { timeout: 30_000 });
    await page.click('#play');
    await page.waitForFunction(() => (globalThis as any).__paragon.audio.time > 1.2, null, { timeout: 30_000 });
    const after = (await state(page)).audio.time as number;
    assert.ok(after < 1.9, `clock at ${after.toFixed(3)} s after seeking to 1 s`);
    await page.close();
  });

  test('a file without audio plays on the wall clock', { timeout: 90_000 }, async (t) => {
    const page = await player!.openPage('backend=wasm&temporal=0.2');
    const id = await page.$$eval('#videos option', (os, name) => (os as HTMLOptionElement[]).find((o) => o.textContent === name)?.value, path.basename(silent));
    assert.ok(id, 'the silent clip is offered');
    await page.selectOption('#videos', id);
    await page.waitForFunction((n) => (globalThis as any).__paragon.video === n && !(globalThis as any).__paragon.busy, path.basename(silent), { timeout: 30_000 });
    let s = await state(page);
    assert.equal(s.audio.track, false);
    assert.equal(s.audio.clock, 'wall');
    await page.click('#play');
    await page.waitForFunction(() => (globalThis as any).__paragon.ended, null, { timeout: 60_000 });
    s = await state(page);
    assert.ok(s.shown > 1, `frames shown: ${s.shown}`);
    assert.equal(s.audio.buffers, 0);
    assert.ok(s.audio.time > 0.8, `wall clock reached ${s.audio.time}`);
    assertInSync(s.sync, 'no sound', t, true);
    assert.match((await page.textContent('#overlay')) ?? '', /no sound · wall clock/);
    await page.close();
  });
});
