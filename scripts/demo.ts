/**
 * `npm run demo`: the main job on the bundled sample with the bundled default model — upscale
 * samples/demo.mp4 (two shots, audio) to out/demo.2x.mp4 with the temporal feature state and
 * scene-cut reset, then print what the report says. Runs the real CLI, as a user would.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'out');
mkdirSync(out, { recursive: true });
const input = path.join(root, 'samples', 'demo.mp4');
const output = path.join(out, 'demo.2x.mp4');
const report = path.join(out, 'demo.report.json');

console.log(`paragon demo: upscaling ${path.relative(root, input)} with the bundled default model`);
const r = spawnSync(
  process.execPath,
  [path.join(root, 'bin', 'paragon.js'), 'upscale', input, '-o', output, '--report', report],
  { stdio: 'inherit' },
);
if (r.status !== 0) process.exit(r.status ?? 1);

const rep = JSON.parse(readFileSync(report, 'utf8')) as {
  frames: number;
  fps: number;
  device: string;
  sceneCuts: number[];
  stages: Record<string, number>;
};
console.log(`\nwrote ${path.relative(root, output)}: ${rep.frames} frames at ${rep.fps.toFixed(1)} fps on ${rep.device}`);
console.log(`scene cuts (state reset): ${rep.sceneCuts.join(', ') || 'none'}`);
console.log(`stage seconds: ${Object.entries(rep.stages).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
