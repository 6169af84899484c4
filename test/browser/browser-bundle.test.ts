/**
 * The browser library entry (`paragon/browser` = src/browser.ts) and the player page bundle for
 * `platform: 'browser'` with no Node-only module inside: no onnxruntime-node, no ffmpeg or CLI
 * code, no import of a Node built-in (file reading lives in src/weights/load.ts, which the page never
 * imports). A bundle that does pull in a Node-only module must fail.
 * Needs no browser: esbuild only.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { APP_ENTRY, bundleBrowser, type Bundle } from '../../src/player/server/bundle.ts';
import { ROOT } from '../helpers/shared.ts';

/** Source files that must never reach a browser bundle. */
const NODE_ONLY = /onnxruntime-node|node_modules\/(sharp|citty|@ffmpeg-installer|@ffprobe-installer|playwright-core|esbuild)\/|^src\/(cli|video|pipeline|image|runtime\/(session|worker|devices|model)\.ts|temporal\/(open|upscaler)\.ts|graph\/index\.ts|weights\/load\.ts)/;

/** A static or dynamic import of a Node built-in in bundled code. */
const NODE_IMPORT = /\bimport\s*(?:[\w*{}\s,$]+\s*from\s*)?["'](?:node:)?(?:fs|path|os|child_process|crypto|worker_threads|url|http|stream)(?:\/[\w/]*)?["']|\bimport\(\s*["']node:/;

function check(b: Bundle, label: string): void {
  const bad = b.inputs.filter((f) => NODE_ONLY.test(f));
  assert.deepEqual(bad, [], `${label}: Node-only sources in the bundle`);
  assert.doesNotMatch(b.js, NODE_IMPORT, `${label}: import of a Node built-in in the output`);
  assert.doesNotMatch(b.js, /onnxruntime-node/);
}

test('src/browser.ts bundles for the browser with no Node-only module', async () => {
  const b = await bundleBrowser(path.join(ROOT, 'src', 'browser.ts'));
  check(b, 'src/browser.ts');
  for (const f of ['src/temporal/state-rules.ts', 'src/temporal/scene-cut.ts', 'src/temporal/roles.ts', 'src/graph/model.ts', 'src/weights/safetensors.ts', 'src/player/web/upscaler.ts'])
    assert.ok(b.inputs.includes(f), `${f} is part of the browser library`);
  assert.ok(b.inputs.some((f) => f.startsWith('node_modules/onnxruntime-web/')), 'runs on onnxruntime-web');
});

test('the player page bundles the same way, with the runtime loaded from served files', async () => {
  const b = await bundleBrowser(APP_ENTRY, { conditions: ['onnxruntime-web-use-extern-wasm'] });
  check(b, 'player page');
  // The build of onnxruntime-web that fetches its WASM runtime (served by id) rather than inlining it.
  assert.ok(b.inputs.includes('node_modules/onnxruntime-web/dist/ort.min.mjs'), b.inputs.filter((f) => f.includes('onnxruntime')).join(', '));
});

test('a bundle that reaches a Node-only module fails to build', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'paragon-bundle-'));
  try {
    for (const [name, target] of [
      ['session.ts', 'src/runtime/session.ts'],
      ['open.ts', 'src/temporal/open.ts'],
      ['ffmpeg.ts', 'src/video/ffmpeg.ts'],
    ] as const) {
      const entry = path.join(dir, name);
      writeFileSync(entry, `export * from ${JSON.stringify(path.join(ROOT, target))};\n`);
      await assert.rejects(bundleBrowser(entry), /Node-only|Could not resolve/, `${target} must not bundle for the browser`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
