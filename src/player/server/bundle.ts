/**
 * Browser bundles with esbuild: the player page and the `src/browser.ts` library entry, made by
 * `npm run build` into dist/ (and, from a checkout, the page again when the server starts, kept in
 * memory, so edits show without a build). A plugin refuses every Node built-in and
 * onnxruntime-node, so a Node-only import anywhere in the graph fails the build (file reading lives
 * in src/weights/load.ts, which the page never imports). esbuild is a development dependency: the
 * published package serves the page it was built with and never loads it.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as esbuild from 'esbuild';

/** Project root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The page's entry module (from a checkout). */
export const APP_ENTRY = path.join(ROOT, 'src', 'player', 'web', 'app.ts');

/** Where `npm run build` puts the page (app.js, its map, index.html, style.css). */
export const PAGE_DIR = path.join(ROOT, 'dist', 'player', 'page');

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

/** Options of {@link bundleBrowser}. */
export interface BundleOptions {
  /** Package export conditions (the page asks onnxruntime-web for its build that loads the WASM runtime from a URL we serve). */
  readonly conditions?: string[];
  readonly minify?: boolean;
  /** Leave npm packages as imports (a library for other bundlers) instead of bundling them (a page). */
  readonly external?: boolean;
  /** Name of the output file, without `.js` (default 'app'): the source map comment names it. */
  readonly name?: string;
}

/** Bundle `entry` for the browser (ESM, minified, external source map). */
export async function bundleBrowser(entry: string, opts: BundleOptions = {}): Promise<Bundle> {
  const esbuild = await import('esbuild');
  const r = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    outdir: '/out',
    entryNames: opts.name ?? 'app',
    sourcemap: 'external',
    minify: opts.minify ?? !process.env.PARAGON_PLAYER_DEBUG,
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
    conditions: opts.conditions ?? [],
    ...(opts.external ? { packages: 'external' as const } : {}),
    plugins: [refuseNode],
  });
  const js = r.outputFiles.find((f) => f.path.endsWith('.js'))!.text;
  const map = r.outputFiles.find((f) => f.path.endsWith('.js.map'))?.text ?? '';
  const inputs = Object.keys(r.metafile.inputs);
  return { js, map, inputs };
}
