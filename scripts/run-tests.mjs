#!/usr/bin/env node
// Runs the test suite with Node's test runner through tsx. Node 20's `--test` does not expand glob
// patterns, so the files are listed here. Usage: node scripts/run-tests.mjs [GROUP...] where GROUP is
// plain, ffmpeg, farm, browser or gpu (default: all groups), or test files.
import { readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const groups = process.argv.slice(2);
const wanted = groups.length > 0 ? groups : ['plain', 'ffmpeg', 'farm', 'browser', 'gpu'];

/** All *.test.ts files below dir, sorted. */
function find(dir) {
  let out = [];
  let names = [];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const n of names) {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) out = out.concat(find(p));
    else if (n.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

// A test file named instead of a group runs on its own (e.g. test/ffmpeg/probe.test.ts).
const files = wanted.flatMap((g) => (g.endsWith('.test.ts') ? [path.resolve(g)] : find(path.join(root, 'test', g))));
if (files.length === 0) {
  console.error(`no test files for groups: ${wanted.join(', ')}`);
  process.exit(2);
}
// A test (or suite) that outlives TEST_TIMEOUT_MS fails, and its file is torn down: a hang then
// costs minutes and names itself, instead of running the CI out of time. The longest suite takes
// about 80 s here.
const TEST_TIMEOUT_MS = 600_000;
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', `--test-timeout=${TEST_TIMEOUT_MS}`, ...files.map((f) => path.relative(root, f))],
  { cwd: root, stdio: 'inherit' },
);
process.exit(r.status ?? 1);
