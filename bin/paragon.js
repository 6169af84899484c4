#!/usr/bin/env node
// The `paragon` command. In the published package it runs the built JavaScript (dist/) on plain
// Node. From a checkout (src/ beside this folder) it runs the TypeScript sources through tsx, a
// development dependency, so edits take effect without a build (and a stale dist/ never runs);
// without tsx installed (npm ci --omit=dev) a checkout falls back to a dist/ from `npm run build`.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/cli/main.js', import.meta.url);
let tsx;
if (existsSync(source)) tsx = await import('tsx/esm/api').catch(() => undefined);
if (tsx) {
  tsx.register();
  await import(source.href);
} else if (existsSync(built)) {
  await import(built.href);
} else {
  process.stderr.write('paragon: neither dist/ (npm run build) nor tsx (npm install) is here to run the command\n');
  process.exit(1);
}
