/**
 * What the browser player tests share: the real `paragon player` CLI started on some clips,
 * Debian's Chromium (playwright-core) on a fresh profile, and the comparison of the frames the
 * page drew with the Node frame engine (onnxruntime-node, CPU) run on the very RGB the page
 * decoded, with the page's reset decisions.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { openUpscaler } from '../../src/temporal/open.ts';
import { ROOT, needShared, shared } from '../helpers/shared.ts';
import type { Captured } from '../../src/player/web/app.ts';

export const CHROMIUM = process.env.PARAGON_CHROMIUM ?? '/usr/bin/chromium';
/** Skip reason of the browser tests (false when Chromium is there). */
export const skip = existsSync(CHROMIUM) ? false : `needs Chromium at ${CHROMIUM} (Debian package chromium, or set PARAGON_CHROMIUM); absent here`;
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');
// The golden random weights exercise every operation; without ../shared the bundled default model.
export const MODEL = needShared('golden') ? path.join(ROOT, 'models', 'paragon-realtime-2x.safetensors') : shared('golden', 'realtime_x2.weights.safetensors');

/** A running `paragon player` and a browser on it. */
export interface PlayerSession {
  readonly url: string;
  readonly port: number;
  readonly token: string;
  readonly ctx: BrowserContext;
  /** Open the page with this query and wait until it is ready (no errors while loading). */
  openPage(query: string): Promise<Page>;
  /** Close the browser and end the server with Ctrl+C (exit code 130 checked). */
  close(): Promise<void>;
}

/** Start `paragon player VIDEOS --model MODEL` and a headless Chromium allowed to play sound. */
export async function startPlayer(videos: readonly string[]): Promise<PlayerSession> {
  const cli: ChildProcess = spawn(process.execPath, [path.join(ROOT, 'bin', 'paragon.js'), 'player', ...videos, '--model', MODEL], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  cli.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => cli.on('exit', (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    cli.stdout!.on('data', (d) => {
      out += d;
      const m = /http:\/\/127\.0\.0\.1:(\d+)\/s\/([A-Za-z0-9_-]+)\/\n/.exec(out);
      if (m) resolve(m[0].trim());
    });
    void exited.then((c) => reject(new Error(`paragon player exited ${c}: ${stderr}`)));
  });
  const m = /:(\d+)\/s\/([^/]+)\//.exec(url)!;
  const userData = mkdtempSync(path.join(os.tmpdir(), 'paragon-chromium-'));
  const ctx = await chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    args: [
      '--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
      // Sound may start without a click (the tests click Play, but the clock starts a frame later).
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  return {
    url,
    port: Number(m[1]),
    token: m[2]!,
    ctx,
    async openPage(query: string): Promise<Page> {
      const page = await ctx.newPage();
      await page.setViewportSize({ width: 960, height: 640 });
      page.on('pageerror', (e) => process.stderr.write(`[page] ${e.message}\n`));
      await page.goto(`${url}?${query}`);
      await page.waitForFunction(() => (globalThis as any).__paragon?.ready === true, null, { timeout: 90_000 });
      const errors = await page.evaluate(() => (globalThis as any).__paragon.errors as string[]);
      assert.deepEqual(errors, [], 'page errors while loading');
      return page;
    },
    async close(): Promise<void> {
      await ctx.close();
      rmSync(userData, { recursive: true, force: true });
      if (cli.exitCode === null) {
        cli.kill('SIGINT');
        assert.equal(await exited, 130, 'paragon player ends with 130 on Ctrl+C');
      }
    },
  };
}

/** `window.__paragon` of a page. */
export const state = (page: Page) => page.evaluate(() => (globalThis as any).__paragon);

/**
 * `page.waitForFunction`, failing with what the page was doing (frames shown and captured, the
 * media time and the clock, notices and errors) rather than a bare timeout.
 */
export async function waitForPage(page: Page, fn: (arg: any) => unknown, arg: unknown, timeout: number, what: string): Promise<void> {
  try {
    await page.waitForFunction(fn, arg, { timeout });
  } catch (e) {
    const s = await state(page).catch(() => undefined);
    const seen = s
      ? `shown ${s.shown}, dropped ${s.dropped}, captured ${s.captured?.length}, time ${s.time}, clock ${s.audio?.time?.toFixed?.(3)} (${s.audio?.clock}), playing ${s.playing}, busy ${s.busy}, last frame ${s.latencyMs?.toFixed?.(0)} ms; notices: ${s.notices?.join(' | ')}; errors: ${s.errors?.join(' | ')}`
      : 'page state unreadable';
    throw new Error(`${what}: not within ${timeout / 1000} s (${seen})`, { cause: e });
  }
}

/** PSNR of two RGB byte sequences (RGBA `b`, alpha ignored), in dB. */
export function psnrRgb(a: Uint8Array, rgba: Uint8Array): number {
  let se = 0;
  const n = a.length / 3;
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) se += (a[3 * i + c]! - rgba[4 * i + c]!) ** 2;
  const mse = se / (3 * n);
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/**
 * Run the Node frame engine (onnxruntime-node, CPU) over the captured inputs, resetting where the
 * page did, and return the PSNR of each page frame against it; `fresh` runs every frame with no
 * history instead (to show the history reached the picture). With 'auto' the Node engine's own
 * HistoryWeightEstimator makes the maps from the same frames.
 */
export async function nodeParity(frames: Captured[], historyWeight: number | 'auto', fresh = false): Promise<number[]> {
  const up = await openUpscaler(MODEL, { historyWeight, device: 'cpu' });
  try {
    const out: number[] = [];
    for (const f of frames) {
      const packed = Buffer.from(f.input, 'base64');
      const n = f.width * f.height;
      const rgb = new Float32Array(3 * n);
      for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) rgb[c * n + i] = packed[3 * i + c]! / 255;
      const r = await up.process({ width: f.width, height: f.height, rgb }, { cut: fresh || f.reset !== null });
      assert.equal(r.width, f.outWidth);
      assert.equal(r.height, f.outHeight);
      const m = r.width * r.height;
      const bytes = new Uint8Array(3 * m);
      for (let i = 0; i < m; i++) for (let c = 0; c < 3; c++) bytes[3 * i + c] = Math.round(Math.min(1, Math.max(0, r.rgb[c * m + i]!)) * 255);
      out.push(psnrRgb(bytes, new Uint8Array(Buffer.from(f.output, 'base64'))));
    }
    return out;
  } finally {
    await up.close();
  }
}

/**
 * The page's frames against the Node engine: PSNR ≥ 45 dB everywhere, and every frame that used
 * (enough) history is clearly closer to Node with the same history than to Node without any (so a
 * page that dropped or garbled its GPU-resident state, or its weight map, could not pass on the
 * 45 dB alone).
 */
export async function assertParity(t: { diagnostic(m: string): void }, label: string, frames: Captured[], weight: number | 'auto'): Promise<void> {
  const psnr = await nodeParity(frames, weight);
  const alone = await nodeParity(frames, weight, true);
  t.diagnostic(`${label} vs onnxruntime-node, PSNR dB: ${psnr.map((p) => p.toFixed(1)).join(' ')} (no history: ${alone.map((p) => p.toFixed(1)).join(' ')})`);
  for (const [i, p] of psnr.entries()) {
    assert.ok(p >= 45, `${label} frame ${i}: PSNR ${p.toFixed(2)} dB < 45 against onnxruntime-node`);
    if (frames[i]!.weight >= 0.1) assert.ok(p > alone[i]! + 6, `${label} frame ${i}: ${p.toFixed(1)} dB with history, ${alone[i]!.toFixed(1)} dB without`);
  }
}
