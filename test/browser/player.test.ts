/**
 * The browser player end to end: the real `paragon player` CLI serves the page, Debian's Chromium
 * (driven by playwright-core) opens a small H.264 clip with a hard cut, plays it on WebGPU
 * (SwiftShader here: slow but correct, so the clip is tiny) and on WASM, and every captured
 * upscaled frame — the pixels the page drew — is compared with the Node frame engine
 * (onnxruntime-node, CPU) run on the very RGB the page decoded, with the page's reset decisions.
 * Only the backend differs, so PSNR must be ≥ 45 dB. Also: the server's gate (foreign Host or
 * Origin, missing token, traversal), export to MP4 with the audio kept, frame dropping when the
 * upscaler is slower than the video, and a screenshot in test-artifacts/ for a human to look at.
 */
import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ffmpeg, streams, tmp } from '../helpers/media.ts';
import type { Captured } from '../../src/player/web/app.ts';
import { isSoftwareAdapter } from '../../src/player/web/webgpu.ts';
import { ARTIFACTS, MODEL, assertParity, skip, startPlayer, state, type PlayerSession } from './harness.ts';

const W = 64;
const H = 48;
const FPS = 12;
const CUT = 6; // first frame of the second shot

let player: PlayerSession | undefined;
let port = 0;
let token = '';
let clipFile = '';

/** A raw request to the server, with exactly these headers (Node's client does not normalise the path). */
function request(p: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method, headers }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const openPage = (query: string) => player!.openPage(query);

describe('browser player', { skip }, () => {
  before(async () => {
    // Two shots (a test pattern, then colour bars), H.264 + AAC: WebCodecs in Debian's Chromium
    // decodes H.264 (checked by the playback below). Noise that changes every frame, so the history
    // must show in every frame: at this size testsrc2's first frames are identical and smptebars
    // never moves, and a frame blended with its own features is the frame without history.
    clipFile = tmp('player-clip.mp4');
    const d = CUT / FPS;
    await ffmpeg([
      '-f', 'lavfi', '-i', `testsrc2=s=${W}x${H}:r=${FPS}:d=${d}`,
      '-f', 'lavfi', '-i', `smptebars=s=${W}x${H}:r=${FPS}:d=${d}`,
      '-f', 'lavfi', '-i', `sine=f=440:d=${2 * d}`,
      '-filter_complex', '[0:v][1:v]concat=n=2:v=1:a=0,noise=alls=12:allf=t,format=yuv420p[v]', '-map', '[v]', '-map', '2:a',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'baseline', '-c:a', 'aac', '-shortest', clipFile,
    ]);
    player = await startPlayer([clipFile]);
    ({ port, token } = player);
  });

  after(async () => {
    await player?.close();
  });

  test('the server refuses foreign hosts and origins, requests without the token and path tricks', async () => {
    const page = `/s/${token}/`;
    const ok = await request(page);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(ok.headers['cross-origin-embedder-policy'], 'require-corp');
    assert.equal(ok.headers['access-control-allow-origin'], undefined);
    assert.match(String(ok.headers['content-security-policy']), /default-src 'self'/);
    for (const host of [`evil.example:${port}`, `evil.example`, `127.0.0.1:${port + 1}`, `127.0.0.1.nip.io:${port}`])
      assert.equal((await request(page, { Host: host })).status, 403, `Host ${host}`);
    for (const origin of ['http://evil.example', `http://127.0.0.1:${port + 1}`, 'null', `https://127.0.0.1:${port}`])
      assert.equal((await request(page, { Origin: origin })).status, 403, `Origin ${origin}`);
    assert.equal((await request(page, { Origin: `http://127.0.0.1:${port}` })).status, 200, 'own origin');
    assert.equal((await request(page, { 'Sec-Fetch-Site': 'cross-site' })).status, 403, 'cross-site fetch');
    for (const p of ['/', '/s/', '/s//', '/api/catalog', `/s/${token.slice(1)}/`, `/s/${token}x/api/catalog`, '/files/v0', '/favicon.ico'])
      assert.equal((await request(p)).status, 403, `no token: ${p}`);
    for (const p of [
      'files/../../package.json', 'files/..%2f..%2fpackage.json', '%2e%2e/%2e%2e/package.json', '../package.json', 'ort/../../../package.json',
      'ort/..%2F..%2Fpackage.json', 'models/m0/../../package.json', 'files/v0%00', 'files/v9', 'files/', 'ort/jsep.mjs/..', 'api/catalog/..', './app.js', 'src/player/web/app.ts',
    ]) {
      const r = await request(`/s/${token}/${p}`);
      assert.equal(r.status, 404, `traversal ${p}`);
      assert.doesNotMatch(r.body, /"name": "paragon"/);
    }
    assert.equal((await request(page, {}, 'POST')).status, 405);
    const file = await request(`/s/${token}/files/v0`, { Range: 'bytes=0-9' });
    assert.equal(file.status, 206);
    assert.equal(file.headers['content-range'], `bytes 0-9/${statSync(clipFile).size}`);
    assert.equal(file.body.length, 10);
  });

  test('WebGPU: upscaled frames match the Node engine (PSNR ≥ 45 dB), state fed back on the GPU', { timeout: 150_000 }, async (t) => {
    const page = await openPage('backend=webgpu&capture=4&drop=0&temporal=0.2');
    const s0 = await state(page);
    assert.equal(s0.backend, 'webgpu', `backend: ${s0.backendLabel}; notices: ${s0.notices}`);
    assert.equal(s0.video, path.basename(clipFile));
    await page.click('#play');
    await page.waitForFunction(() => (globalThis as any).__paragon.captured.length >= 4, null, { timeout: 120_000 });
    await page.click('#play'); // pause
    const frames = (await state(page)).captured.slice(0, 4) as Captured[];
    assert.deepEqual(frames.map((f) => f.reset), ['first', null, null, null]);
    assert.deepEqual(frames.map((f) => f.alpha), [0, 0.2, 0.2, 0.2]);
    assert.deepEqual(frames.map((f) => Math.round(f.timestamp * FPS)), [0, 1, 2, 3], 'no frame dropped with drop=0');
    assert.deepEqual([frames[0]!.outWidth, frames[0]!.outHeight], [2 * W, 2 * H]);
    await assertParity(t, 'WebGPU', frames, 0.2);

    // Graceful degradation: from the start again with dropping on; SwiftShader is far slower
    // than 12 fps, so late frames are skipped and the overlay says so.
    await page.click('#drop');
    await page.evaluate(() => {
      const seek = document.getElementById('seek') as HTMLInputElement;
      seek.value = '0';
      seek.dispatchEvent(new Event('input'));
    });
    await page.click('#play');
    await page.waitForFunction(() => (globalThis as any).__paragon.ended, null, { timeout: 120_000 });
    const s = await state(page);
    assert.ok(s.dropped > 0, `frames dropped: ${s.dropped}`);
    assert.match((await page.textContent('#overlay')) ?? '', /dropped [1-9][\s\S]*dropping late frames/);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'player-webgpu.png') });
    await page.close();
  });

  test('WebGPU: the canvas render shader, drawn offscreen, matches the Node engine too', { timeout: 90_000 }, async (t) => {
    // Presenting a WebGPU canvas fails on SwiftShader, so the shader real GPUs draw with renders
    // into a texture here and is read back: the same pipeline, checked to the pixel.
    const page = await openPage('backend=webgpu&present=offscreen&capture=2&drop=0&temporal=0.2');
    assert.equal((await state(page)).present, 'offscreen');
    await page.click('#play');
    await page.waitForFunction(() => (globalThis as any).__paragon.captured.length >= 2, null, { timeout: 60_000 });
    await page.click('#play');
    const frames = (await state(page)).captured.slice(0, 2) as Captured[];
    assert.deepEqual(frames.map((f) => f.alpha), [0, 0.2]);
    await assertParity(t, 'WebGPU render shader', frames, 0.2);
    await page.close();
  });

  test('auto backend: WASM on a software WebGPU adapter (SwiftShader here), with the reason; WebGPU on a real one', { timeout: 90_000 }, async () => {
    const page = await openPage('backend=auto&temporal=0.2');
    const info = await page.evaluate(async () => {
      const a = await (navigator as any).gpu?.requestAdapter();
      return a ? { isFallbackAdapter: a.isFallbackAdapter === true, ...(a.info ? { vendor: a.info.vendor, architecture: a.info.architecture, device: a.info.device, description: a.info.description, isFallbackAdapter: a.info.isFallbackAdapter === true || a.isFallbackAdapter === true } : {}) } : null;
    });
    const s = await state(page);
    if (info && !isSoftwareAdapter(info)) assert.equal(s.backend, 'webgpu', `hardware adapter ${JSON.stringify(info)}: ${s.backendLabel}`);
    else {
      assert.equal(s.backend, 'wasm', `adapter ${JSON.stringify(info)}: ${s.backendLabel}`);
      assert.ok(s.notices.some((n: string) => /(software adapter here|no adapter|not available).*using WASM/.test(n)), `notices: ${s.notices.join(' | ')}`);
    }
    await page.close();
  });

  test('WASM: every frame matches the Node engine, the hard cut resets the history, export keeps the audio', { timeout: 120_000 }, async (t) => {
    const page = await openPage('backend=wasm&capture=12&drop=0&temporal=0.3');
    const s0 = await state(page);
    assert.equal(s0.backend, 'wasm');
    assert.match(s0.backendLabel, /WASM \(\d+ threads?\)/);
    await page.click('#play');
    await page.waitForFunction(() => (globalThis as any).__paragon.ended, null, { timeout: 60_000 });
    const s = await state(page);
    const frames = s.captured as Captured[];
    assert.equal(frames.length, 2 * CUT);
    assert.deepEqual(s.cuts.map((t: number) => Math.round(t * FPS)), [CUT], 'the scene-cut detector finds the cut');
    assert.deepEqual(frames.map((f) => f.reset), frames.map((_, i) => (i === 0 ? 'first' : i === CUT ? 'cut' : null)));
    await assertParity(t, 'WASM', frames, 0.3);
    mkdirSync(ARTIFACTS, { recursive: true });

    // Export to MP4: H.264 at twice the size, every frame, the AAC audio copied over.
    const download = page.waitForEvent('download', { timeout: 60_000 });
    await page.selectOption('#container', 'mp4');
    await page.click('#export');
    const file = path.join(ARTIFACTS, 'player-export.mp4');
    await (await download).saveAs(file);
    const st = await streams(file);
    const v = st.find((x) => x.codec_type === 'video');
    const a = st.find((x) => x.codec_type === 'audio');
    assert.equal(v?.codec_name, 'h264');
    assert.deepEqual([v?.width, v?.height], [2 * W, 2 * H]);
    assert.equal(Number(v?.nb_frames), 2 * CUT);
    assert.equal(a?.codec_name, 'aac', 'audio kept');

    // Switching the model redraws the frame on screen with the new one (the bundled default
    // model, which also makes the screenshot meaningful to a human eye).
    const bundled = await page.$$eval('#models option', (os) => os.map((o) => [(o as HTMLOptionElement).value, o.textContent ?? '']));
    const other = bundled.find(([, name]) => name === 'paragon-realtime-2x.safetensors');
    if (other && path.basename(MODEL) !== other[1]) {
      const shown = (await state(page)).shown as number;
      await page.selectOption('#models', other[0]!);
      await page.waitForFunction((n) => (globalThis as any).__paragon.shown > n && !(globalThis as any).__paragon.busy, shown, { timeout: 30_000 });
      assert.equal((await state(page)).model, other[1]);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'player.png') });
    await page.close();
  });
});
