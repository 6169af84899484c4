/**
 * Browser bundles with esbuild: the player page (built when the server starts, kept in memory) and,
 * in tests, the `src/browser.ts` library entry. A plugin refuses every Node built-in and
 * onnxruntime-node, so a Node-only import anywhere in the graph fails the build (file reading lives
 * in src/weights/load.ts, which the page never imports).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

/** Project root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The page's entry module. */
export const APP_ENTRY = path.join(ROOT, 'src', 'player', 'web', 'app.ts');

/** A finished bundle. */
export interface Bundle {
  readonly js: string;
  readonly map: string;
  /** Every source file in the bundle, relative to the root. */
  readonly inputs: string[];
}

/** Fails the build on any Node built-in or onnxruntime-node import, naming the importer. */
const refuseNode: esbuild.Plugin = {
  name: 'paragon-refuse-node',
  setup(build) {
    build.onResolve({ filter: /^node:|^onnxruntime-node(\/|$)/ }, (a) => ({
      errors: [{ text: `${a.path} is Node-only and must not reach the browser bundle (imported by ${path.relative(ROOT, a.importer)})` }],
    }));
  },
};

/**
 * Bundle `entry` for the browser (ESM, minified, external source map). `conditions` picks package
 * export conditions (the page asks onnxruntime-web for its build that loads the WASM runtime
 * from a URL we serve).
 */
export async function bundleBrowser(entry: string, opts: { conditions?: string[]; minify?: boolean } = {}): Promise<Bundle> {
  const r = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    outdir: '/out',
    entryNames: 'app',
    sourcemap: 'external',
    minify: opts.minify ?? !process.env.PARAGON_PLAYER_DEBUG,
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
    conditions: opts.conditions ?? [],
    plugins: [refuseNode],
  });
  const js = r.outputFiles.find((f) => f.path.endsWith('.js'))!.text;
  const map = r.outputFiles.find((f) => f.path.endsWith('.js.map'))?.text ?? '';
  const inputs = Object.keys(r.metafile.inputs);
  return { js, map, inputs };
}
