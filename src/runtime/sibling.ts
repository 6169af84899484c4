/**
 * Code that starts another module as a thread or process (the inference worker, the benchmark
 * child) has to name a file, which no build step rewrites: from a checkout that is the TypeScript
 * source, loaded through tsx; from the published package the compiled JavaScript in dist/, which
 * plain Node runs.
 */

/** True when `metaUrl` (a module's `import.meta.url`) is a TypeScript source, i.e. runs through tsx. */
export const fromSource = (metaUrl: string): boolean => metaUrl.endsWith('.ts');

/** The module `name` (no extension) beside `metaUrl`, in the same form: `.ts` from source, `.js` when built. */
export const siblingModule = (metaUrl: string, name: string): URL => new URL(`./${name}${fromSource(metaUrl) ? '.ts' : '.js'}`, metaUrl);
