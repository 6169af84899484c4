#!/usr/bin/env node
// Runs the test suite as on a machine without a system ffmpeg: PATH is replaced by a temporary
// folder of links to every program on it except ffmpeg, ffprobe and ffplay, and PARAGON_FFMPEG is
// unset, so only the binaries npm installed (@ffmpeg-installer/ffmpeg, @ffprobe-installer/ffprobe)
// can be found. Tests that need what those lack skip, naming the missing feature.
// Usage: node scripts/test-without-ffmpeg.mjs [GROUP...]   (groups as scripts/run-tests.mjs)
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

const HIDDEN = new Set(['ffmpeg', 'ffprobe', 'ffplay']);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const bin = mkdtempSync(path.join(os.tmpdir(), 'paragon-no-ffmpeg-'));
try {
  const linked = new Set();
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    let names = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      if (HIDDEN.has(n) || linked.has(n)) continue;
      linked.add(n);
      symlinkSync(path.join(dir, n), path.join(bin, n));
    }
  }
  const env = { ...process.env, PATH: bin };
  delete env.PARAGON_FFMPEG;
  // The folder must really hide them: a shell lookup through the new PATH finds nothing.
  const seen = spawnSync('/bin/sh', ['-c', 'command -v ffmpeg || command -v ffprobe'], { env, encoding: 'utf8' });
  if (seen.stdout.trim() !== '') throw new Error(`ffmpeg still on PATH: ${seen.stdout.trim()}`);
  process.stderr.write(`test-without-ffmpeg: PATH=${bin} (${linked.size} programs, no ffmpeg/ffprobe/ffplay)\n`);
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'run-tests.mjs'), ...process.argv.slice(2)], { cwd: root, env, stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
} finally {
  rmSync(bin, { recursive: true, force: true });
}
