/**
 * Browser bundles with esbuild: the player page (built when the server starts, kept in memory) and,
 * in tests, the `src/browser.ts` library entry. `platform: 'browser'` makes every Node built-in
 * unresolvable, so a Node-only import anywhere in the graph fails the build, with two exceptions
 * listed in {@link NODE_SHIMS}: modules whose pure functions the page uses but which also hold a
 * file-reading helper (safetensors.ts: readSafetensors; checkpoint.ts: loadCheckpoint). Their
 * Node imports are replaced by stubs that throw if ever called; nothing Node-only is bundled.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

/** Project root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The page's entry module. */
export const APP_ENTRY = path.join(ROOT, 'src', 'player', 'web', 'app.ts');

/**
 * Node built-ins that may be stubbed, per importing module (relative to the root), with the
 * names they must export. Anything else Node-only fails the build.
 */
export const NODE_SHIMS: Readonly<Record<string, { readonly importers: readonly string[]; readonly exports: readonly string[] }>> = {
  'node:fs/promises': { importers: ['src/weights/safetensors.ts', 'src/weights/checkpoint.ts'], exports: ['readFile'] },
  'node:crypto': { importers: ['src/weights/checkpoint.ts'], exports: ['createHash'] },
};

/** A finished bundle. */
export interface Bundle {
  readonly js: string;
  readonly map: string;
  /** Every source file in the bundle, relative to the root. */
  readonly inputs: string[];
  /** The stubs used, as `module <- importer`. */
  readonly shimmed: string[];
}

const SHIM_NS = 'paragon-node-shim';

function nodeShims(used: Set<string>): esbuild.Plugin {
  return {
    name: 'paragon-node-shims',
    setup(build) {
      const refuse = (spec: string, importer: string) => ({
        errors: [{ text: `${spec} is Node-only and must not reach the browser bundle (imported by ${path.relative(ROOT, importer)})` }],
      });
      build.onResolve({ filter: /^node:|^onnxruntime-node(\/|$)/ }, (a) => {
        const rel = path.relative(ROOT, a.importer).split(path.sep).join('/');
        const shim = NODE_SHIMS[a.path];
        if (!shim || !shim.importers.includes(rel)) return refuse(a.path, a.importer);
        used.add(`${a.path} <- ${rel}`);
        return { path: a.path, namespace: SHIM_NS };
      });
      build.onLoad({ filter: /.*/, namespace: SHIM_NS }, (a) => {
        const names = NODE_SHIMS[a.path]!.exports;
        const body = names.map((n) => `export function ${n}() { throw new Error('${a.path} ${n}() is not available in the browser'); }`);
        return { contents: body.join('\n'), loader: 'js' };
      });
    },
  };
}

/**
 * Bundle `entry` for the browser (ESM, minified, external source map). `conditions` picks package
 * export conditions (the page asks onnxruntime-web for its build that loads the WASM runtime
 * from a URL we serve).
 */
export async function bundleBrowser(entry: string, opts: { conditions?: string[]; minify?: boolean } = {}): Promise<Bundle> {
  const used = new Set<string>();
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
    plugins: [nodeShims(used)],
  });
  const js = r.outputFiles.find((f) => f.path.endsWith('.js'))!.text;
  const map = r.outputFiles.find((f) => f.path.endsWith('.js.map'))?.text ?? '';
  const inputs = Object.keys(r.metafile.inputs);
  return { js, map, inputs, shimmed: [...used].sort() };
}
