/**
 * The package as a user gets it: `npm pack` (which builds dist/ first), the tarball's contents,
 * and an install of it into a temporary project (dependencies from npm's cache, no install
 * scripts, no development dependencies) where, on plain Node with no tsx: the README's "Use it from Node" example runs verbatim
 * (convert a checkpoint, upscale an image and a short video), a TypeScript consumer type-checks
 * against the shipped .d.ts (misuse included, so types that silently became `any` would fail),
 * and the installed `paragon` command runs and serves the player page it was built with.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { ffmpeg, streams } from '../helpers/media.ts';
import { ROOT } from '../helpers/shared.ts';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Run a command; resolves with its output whatever the exit status. */
function run(cmd: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

/** The first ```js block of the README's "Use it from Node" section. */
function readmeExample(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Use it from Node'));
  const code = section && /```js\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code, 'README.md has a "Use it from Node" section with a ```js example');
  return code;
}

let dir = '';
let proj = '';
let files: string[] = [];
const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_fund: 'false', npm_config_audit: 'false' };

describe('the npm package', () => {
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'paragon-pack-'));
    proj = path.join(dir, 'app');
    mkdirSync(proj);
    // The dependencies the package declares go in while `npm pack` builds dist/ (prepack runs
    // npm run build, as for a publish); then the tarball joins them, and npm checks the tree.
    const { dependencies } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies }));
    // Every dependency is in npm's cache after `npm ci`; install scripts are not needed (ffmpeg's
    // executable bit is restored by the product, onnxruntime-node's CUDA download is skipped anyway).
    const flags = ['--prefer-offline', '--ignore-scripts', '--no-package-lock', '--no-audit', '--no-fund'];
    const [pack, deps] = await Promise.all([run(npm, ['pack', '--json', '--pack-destination', dir], ROOT, env), run(npm, ['install', ...flags], proj, env)]);
    assert.equal(pack.code, 0, pack.stderr);
    assert.equal(deps.code, 0, deps.stderr);
    const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    files = info!.files.map((f) => f.path);
    const install = await run(npm, ['install', ...flags, path.join(dir, info!.filename)], proj, env);
    assert.equal(install.code, 0, install.stderr);
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the tarball: dist (JS, .d.ts, worker, browser build, player page), bin, the bundled model; no sources, tests, docs or training', () => {
    for (const f of ['package.json', 'README.md', 'bin/paragon.js', 'dist/index.js', 'dist/index.d.ts', 'dist/runtime/worker.js', 'dist/cli/main.js', 'dist/browser.js', 'dist/browser.d.ts', 'dist/player/page/app.js', 'dist/player/page/index.html', 'dist/player/page/style.css', 'models/paragon-realtime-2x.safetensors'])
      assert.ok(files.includes(f), `${f} is in the tarball`);
    const stray = files.filter((f) => /^(src|test|docs|training|scripts|\.ci|test-artifacts)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')) || /tsconfig/.test(f));
    assert.deepEqual(stray, [], 'nothing but the package');
    const pkg = JSON.parse(readFileSync(path.join(proj, 'node_modules', 'paragon', 'package.json'), 'utf8'));
    for (const dev of ['tsx', 'esbuild', 'playwright-core', 'typescript']) {
      assert.equal(pkg.dependencies[dev], undefined, `${dev} is not a run-time dependency`);
      assert.ok(!existsSync(path.join(proj, 'node_modules', dev)), `${dev} not installed`);
    }
  });

  test("the README's Node example runs verbatim: a checkpoint converted, an image and a video upscaled", { timeout: 180_000 }, async () => {
    copyFileSync(path.join(ROOT, 'models', 'paragon-realtime-2x.safetensors'), path.join(proj, 'my-model.safetensors'));
    const w = 40;
    const h = 30;
    const rgb = Buffer.alloc(w * h * 3);
    for (let i = 0; i < w * h; i++) rgb.set([(i % w) * 6, Math.floor(i / w) * 8, 128], 3 * i);
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toFile(path.join(proj, 'photo.png'));
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=64x48:r=12:d=0.5', '-f', 'lavfi', '-i', 'sine=d=0.5', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', path.join(proj, 'clip.mp4')]);
    writeFileSync(path.join(proj, 'example.mjs'), readmeExample());
    const r = await run(process.execPath, ['example.mjs'], proj);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^realtime x2 written to my-model\.onnx$/m);
    assert.match(r.stdout, /^1 image written$/m);
    assert.match(r.stdout, /^\d+\/\d+ frames$/m, 'progress events reached the loop');
    assert.match(r.stdout, /^6 frames at 128x96, cuts at $/m);
    const m = await sharp(path.join(proj, 'photo-2x.png')).metadata();
    assert.deepEqual([m.width, m.height], [2 * w, 2 * h]);
    const v = (await streams(path.join(proj, 'clip-2x.mkv'))).find((s) => s.codec_type === 'video');
    assert.deepEqual([v?.width, v?.height], [128, 96]);
  });

  test('a TypeScript consumer type-checks against the shipped declarations', { timeout: 60_000 }, async () => {
    writeFileSync(
      path.join(proj, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, lib: ['ES2023', 'DOM'], types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')], skipLibCheck: true },
        files: ['consumer.ts'],
      }),
    );
    writeFileSync(
      path.join(proj, 'consumer.ts'),
      [
        "import { convert, openModel, upscaleVideo, detectScenes, SceneCutDetector, ParagonError, ExitCode, type UpscaleEvent, type VideoReport } from 'paragon';",
        "import type { WebUpscaler } from 'paragon/browser';",
        "const c = await convert('my-model.safetensors', { video: true });",
        'const variant: string = c.arch.variant;',
        "const up = await openModel('my-model.onnx', { device: 'cpu', historyWeight: 'auto' });",
        'const cut = new SceneCutDetector().push({ width: 4, height: 4, data: new Uint8Array(48), bitDepth: 8 }).cut;',
        'const out = await up.process({ width: 4, height: 4, rgb: new Float32Array(48) }, { cut });',
        'const width: number = out.width;',
        'await up.close();',
        "const job = upscaleVideo('clip.mp4', 'out.mkv', { codec: 'x265', historyWeight: 0.2 });",
        "for await (const e of job) { const ev: UpscaleEvent = e; if (ev.event === 'progress') void ev.fps; }",
        'const report: VideoReport = await job;',
        "const cuts: number = (await detectScenes('clip.mp4')).cuts.length;",
        'const media: 4 = ExitCode.media;',
        'let web: WebUpscaler | undefined;',
        'void [variant, width, report, cuts, media, web, ParagonError];',
        '// @ts-expect-error not a codec',
        "upscaleVideo('a.mp4', 'b.mkv', { codec: 'h264' });",
        '// @ts-expect-error frames are planar float RGB',
        'await up.process({ width: 4, height: 4, rgb: new Uint8Array(48) });',
        '// @ts-expect-error no such exit code',
        'void ExitCode.nosuch;',
        '',
      ].join('\n'),
    );
    const r = await run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', proj], proj);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  test('the installed paragon command runs on plain Node and serves the player page it was built with', { timeout: 60_000 }, async () => {
    const bin = path.join(proj, 'node_modules', '.bin', 'paragon');
    const info = await run(bin, ['info', path.join(proj, 'my-model.safetensors'), '--json'], proj);
    assert.equal(info.code, 0, info.stderr);
    assert.equal(JSON.parse(info.stdout).variant, 'realtime');
    const player = spawn(bin, ['player'], { cwd: proj, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => player.on('exit', (code) => r(code)));
    let err = '';
    player.stderr.on('data', (d) => (err += d));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      player.stdout.on('data', (d) => {
        out += d;
        const m = /http:\/\/127\.0\.0\.1:\d+\/s\/[\w-]+\//.exec(out);
        if (m) resolve(m[0]);
      });
      void exited.then((c) => reject(new Error(`paragon player exited ${c}: ${err}`)));
    });
    const get = (p: string) =>
      new Promise<{ status: number; type: string; body: string }>((resolve, reject) =>
        http.get(url + p, (res) => {
          let body = '';
          res.setEncoding('latin1');
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
        }).on('error', reject),
      );
    try {
      const page = await get('');
      assert.equal(page.status, 200);
      assert.match(page.body, /<script[^>]+app\.js/);
      const app = await get('app.js');
      assert.equal(app.status, 200);
      assert.equal(app.body, readFileSync(path.join(proj, 'node_modules', 'paragon', 'dist', 'player', 'page', 'app.js'), 'latin1'));
      const ort = await get('ort/jsep.wasm');
      assert.deepEqual([ort.status, ort.type], [200, 'application/wasm']);
    } finally {
      player.kill('SIGINT');
    }
    assert.equal(await exited, 130, err);
  });
});
