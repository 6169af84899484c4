/**
 * `npm run build`: the package as plain JavaScript in dist/, for Node ≥ 20 without tsx.
 * - tsc (tsconfig.build.json): every module of src/ as ESM with .d.ts and source maps (the sources
 *   inlined, as the package ships no src/); `.ts` import specifiers become `.js` (in the .d.ts too).
 * - esbuild: dist/browser.js, the browser library (`paragon/browser`) as one module that imports
 *   its npm dependencies (onnxruntime-web, mediabunny) for the application's bundler; and the
 *   player page (dist/player/page: app.js with onnxruntime-web inside, index.html, style.css), which
 *   the installed `paragon player` serves as it is. Both refuse any Node-only module.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { APP_ENTRY, PAGE_DIR, bundleBrowser } from '../src/player/server/bundle.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const t0 = performance.now();

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  process.stderr.write('build: tsc failed\n');
  process.exit(r.status ?? 1);
}

// tsc keeps the sources' `.ts` specifiers in declaration files; TypeScript resolves them, but
// older compilers and other tools expect the `.js` files that sit beside them.
const relativeTs = /((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\.ts\2/g;
for (const f of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
  if (!f.endsWith('.d.ts')) continue;
  const file = path.join(dist, f);
  writeFileSync(file, readFileSync(file, 'utf8').replace(relativeTs, '$1$2$3.js$2'));
}

const lib = await bundleBrowser(path.join(root, 'src', 'browser.ts'), { external: true, minify: false, name: 'browser' });
writeFileSync(path.join(dist, 'browser.js'), lib.js);
writeFileSync(path.join(dist, 'browser.js.map'), lib.map);

const page = await bundleBrowser(APP_ENTRY, { conditions: ['onnxruntime-web-use-extern-wasm'] });
mkdirSync(PAGE_DIR, { recursive: true });
writeFileSync(path.join(PAGE_DIR, 'app.js'), page.js);
writeFileSync(path.join(PAGE_DIR, 'app.js.map'), page.map);
for (const f of ['index.html', 'style.css']) copyFileSync(path.join(path.dirname(APP_ENTRY), f), path.join(PAGE_DIR, f));

process.stderr.write(`build: dist/ in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
