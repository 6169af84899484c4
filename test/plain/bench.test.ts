/**
 * `paragon bench`: FLOPs and parameters against hand counts and the reference's parameter counts,
 * the statistics, and a real (tiny) benchmark run: the structure and sanity of its rows, skipped
 * devices, the JSON/Markdown/SVG outputs of the CLI. Timings themselves are not asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadCheckpoint } from '../../src/weights/load.ts';
import { DEFAULT_MODEL, MODELS_DIR } from '../../src/runtime/model.ts';
import { frameCost } from '../../src/bench/flops.ts';
import { medianCi, percentile, shouldStop } from '../../src/bench/stats.ts';
import { benchEnv } from '../../src/bench/env.ts';
import { runMatrix } from '../../src/bench/matrix.ts';
import { renderChart } from '../../src/bench/chart.ts';
import { formatTune, runtimeDefaults, tuneCpu } from '../../src/bench/tune.ts';
import type { BenchReport, BenchRow } from '../../src/bench/types.ts';
import { needShared, ROOT, shared } from '../helpers/shared.ts';

const noDefault = existsSync(path.join(MODELS_DIR, `${DEFAULT_MODEL}.safetensors`)) ? false : `needs the bundled ${DEFAULT_MODEL}`;

test('FLOPs: multiply-adds counted by hand for realtime and photo', async () => {
  const realtime = { variant: 'realtime', scale: 2, channels: 16, groups: 1, blocks: 3 } as const;
  // Per input pixel: sharpen 2·3·7 = 42 (alpha > 0), blur 2·3·5 at 4 output pixels = 120, conv_in 16·3·9 = 432,
  // 3 blocks of conv1 32·16 + dw 32·9 + conv2 16·32 = 1312, conv_mid 16·16·9 = 2304, up 64·16·9 = 9216,
  // conv_out 3·16·9 at 4 output pixels = 1728.
  assert.equal(frameCost(realtime, 1, 1, 0.3).macs, 42 + 120 + 432 + 3 * 1312 + 2304 + 9216 + 1728);
  assert.equal(frameCost(realtime, 360, 640, 0).macs, (17778 - 42) * 360 * 640, 'no sharpening at alpha 0; linear in pixels');
  const photo = { variant: 'photo', scale: 2, channels: 64, groups: 4, blocks: 4 } as const;
  // 16x16 is one attention window. Per pixel per block: convs 64·128 + 128·9 + 128·64 = 17536,
  // qkv + proj 64·192 + 64·64 = 16384, q·kᵀ and attn·v 2·256·64 = 32768.
  const perPixel = 42 + 30 * 4 + 64 * 3 * 9 + 16 * (17536 + 16384 + 32768) + 64 * 64 * 9 + 256 * 64 * 9 + 3 * 64 * 9 * 4;
  assert.equal(frameCost(photo, 16, 16, 0.4).macs, perPixel * 256);
  // 17x17 pads to 32x32 for the windows: the attention runs on 1024 tokens, everything else on 289 pixels.
  const attention = 16 * (16384 + 32768);
  assert.equal(frameCost(photo, 17, 17, 0.4).macs, (perPixel - attention) * 289 + attention * 1024);
});

test('parameters match the PyTorch reference counts of every variant', { skip: needShared('golden', 'manifest.json') }, async () => {
  const cases = JSON.parse(readFileSync(shared('golden', 'manifest.json'), 'utf8')) as { name: string; params: number }[];
  for (const c of cases) {
    const ck = await loadCheckpoint(shared('golden', `${c.name}.weights.safetensors`));
    assert.equal(frameCost(ck.arch, 8, 8, 0).params, c.params, c.name);
  }
});

test('statistics: percentiles, the median interval, the stopping rule', () => {
  assert.equal(percentile([5, 1, 3, 2, 4], 0.5), 3);
  assert.equal(percentile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(percentile([10, 20], 0.95), 19.5);
  assert.equal(medianCi([1, 1, 1, 1, 1]), Infinity, 'fewer than 6 samples');
  // 20 samples 100..119: ranks floor(10 − 4.38) − 1 = 4 and ceil(10 + 4.38) = 15 → (115 − 104) / 2 / 109.5.
  const twenty = Array.from({ length: 20 }, (_, i) => 100 + i);
  assert.ok(Math.abs(medianCi(twenty) - 5.5 / 109.5) < 1e-12);
  const rule = { minRuns: 10, maxRuns: 50, maxMs: 1000, targetCi: 0.02 };
  assert.equal(shouldStop(Array(9).fill(5), 10, rule), false, 'below minRuns');
  assert.equal(shouldStop(Array(10).fill(5), 10, rule), true, 'stable');
  assert.equal(shouldStop(twenty.slice(0, 10), 10, rule), false, 'not stable, time left');
  assert.equal(shouldStop([1, 9], 2000, rule), false, 'out of time but fewer than 3 runs');
  assert.equal(shouldStop([1, 9, 4], 2000, rule), true, 'out of time');
  assert.equal(shouldStop(twenty.concat(twenty, twenty).slice(0, 50), 10, rule), true, 'maxRuns');
});

const tiny = { warmup: 1, minRuns: 3, maxRuns: 6, maxSeconds: 0.3, targetCi: 0.02 };

function checkRow(r: BenchRow): void {
  for (const k of ['model', 'device', 'precision', 'mode', 'size', 'p50Ms', 'p95Ms', 'fps', 'peakRssMB', 'ranOn'] as const) assert.ok(r[k] !== undefined, k);
  assert.ok(r.p50Ms > 0 && r.p50Ms <= r.p95Ms && r.minMs <= r.p50Ms, `${r.minMs} <= ${r.p50Ms} <= ${r.p95Ms}`);
  assert.ok(Math.abs(r.fps - 1000 / r.p50Ms) / r.fps < 0.01);
  assert.ok(r.runs >= 3 && r.runs <= 6, `runs ${r.runs}`);
  assert.ok(r.peakRssMB >= r.baseRssMB && r.baseRssMB > 20, `rss ${r.baseRssMB} -> ${r.peakRssMB}`);
  assert.equal(r.params, 16780);
  assert.equal(r.macs, 17778 * r.width * r.height, 'the bundled model sharpens its base path (upsampler_alpha 0.3)');
  assert.equal(r.gflops, Math.round((2 * r.macs!) / 1e6) / 1e3);
}

test('a tiny benchmark: one row per combination, skipped devices with one-line reasons, video overhead', { skip: noDefault }, async () => {
  const env = benchEnv();
  const { rows, skipped } = await runMatrix({
    models: [DEFAULT_MODEL],
    devices: ['cpu', 'cuda'],
    precisions: ['fp32', 'fp16'],
    modes: ['standard', 'video'],
    sizes: [{ width: 40, height: 24 }],
    measure: tiny,
    env,
    isolate: false,
  });
  const cpu = rows.filter((r) => r.device === 'cpu');
  assert.deepEqual(cpu.map((r) => `${r.precision} ${r.mode} ${r.size} ${r.inputSize}`), [
    'fp32 standard 40x24 40x24',
    'fp32 video 40x24 40x24',
    'fp16 standard 40x24 40x24',
    'fp16 video 40x24 40x24',
  ]);
  for (const r of rows) checkRow(r);
  for (const r of rows.filter((x) => x.mode === 'video')) assert.equal(typeof r.videoOverheadPct, 'number');
  assert.match(cpu[0]!.ranOn, /^CPU: .+, \d+ cores$/);
  if (!rows.some((r) => r.device === 'cuda')) {
    assert.equal(skipped.length, 1, 'cuda is reported once, not per combination');
    assert.deepEqual(Object.keys(skipped[0]!).sort(), ['device', 'model', 'reason']);
    assert.match(skipped[0]!.reason, /^device cuda unavailable \(.+\)$/);
    assert.ok(!skipped[0]!.reason.includes('\n'));
  }
});

test('paired: standard and video of one size measured side by side in one process', { skip: noDefault }, async () => {
  const { rows } = await runMatrix({
    models: [DEFAULT_MODEL],
    devices: ['cpu'],
    precisions: ['fp32'],
    modes: ['standard', 'video'],
    sizes: [{ width: 32, height: 24 }],
    measure: tiny,
    env: benchEnv(),
    isolate: false,
    paired: true,
  });
  assert.deepEqual(rows.map((r) => r.mode), ['standard', 'video']);
  for (const r of rows) checkRow(r);
  assert.equal(rows[0]!.peakRssMB, rows[1]!.peakRssMB, 'one process, one peak');
  assert.match(String(rows[1]!.options.measured), /side by side with standard/);
  assert.equal(rows[1]!.videoOverheadPct, Math.round((rows[1]!.p50Ms / rows[0]!.p50Ms - 1) * 1000) / 10);
});

test('--tune: every dimension tried, the winner a valid configuration, printed with its session options', { skip: noDefault }, async () => {
  const r = await tuneCpu({ size: { width: 32, height: 24 }, video: true, secondsPerDimension: 0.05, blockMs: 1 });
  assert.deepEqual(r.steps.map((s) => s.dimension), ['threads', 'spinning', 'level', 'executionMode', 'precision', 'shapes']);
  for (const s of r.steps) {
    assert.ok(s.trials.length >= 2 && s.trials.some((t) => t.value === s.kept), s.dimension);
    for (const t of s.trials) assert.ok(t.p50Ms > 0 && t.p50Ms <= t.p95Ms && t.runs >= 3, `${s.dimension} ${t.value}`);
  }
  assert.deepEqual(r.steps.find((s) => s.dimension === 'level')!.trials.map((t) => t.value), ['disabled', 'basic', 'extended', 'layout', 'all']);
  assert.deepEqual(Object.keys(r.best).sort(), Object.keys(runtimeDefaults()).sort());
  assert.ok(r.bestMs > 0 && r.baselineMs > 0);
  const text = formatTune(r, 'test');
  assert.match(text, /^winner: threads \d+, spinning (on|off), level \w+, (sequential|parallel), fp(32|16), (dynamic|fixed) shapes: /m);
  const opts = JSON.parse(/^session options: (.*)$/m.exec(text)![1]!) as Record<string, unknown>;
  assert.equal(opts.intraOpNumThreads, r.best.threads);
  assert.equal(opts.graphOptimizationLevel, r.best.level);
});

test('the chart is a well-formed SVG with one line per backend, precision and mode', async () => {
  const row = (device: string, precision: string, mode: string, size: string, fps: number) =>
    ({ model: 'm', device, precision, mode, size, width: Number(size.split('x')[0]), height: Number(size.split('x')[1]), fps, p50Ms: 1000 / fps }) as BenchRow;
  const rows = ['640x360', '1280x720', '1920x1080'].flatMap((s, i) => [
    row('cpu', 'fp32', 'standard', s, 20 / (i + 1)),
    row('cpu', 'fp32', 'video', s, 18 / (i + 1)),
    row('cuda', 'fp16', 'standard', s, 900 / (i + 1)),
  ]);
  const svg = renderChart(rows, 'test <machine> & co');
  assert.equal((svg.match(/<polyline /g) ?? []).length, 3);
  assert.equal((svg.match(/stroke-dasharray/g) ?? []).length, 2, 'video mode dashed (line + legend)');
  assert.match(svg, /\(log scale\)/, '20x spread → log axis');
  assert.match(svg, /test &lt;machine&gt; &amp; co/);
  const meta = await sharp(Buffer.from(svg)).metadata(); // librsvg parses it: well-formed
  assert.deepEqual([meta.format, meta.width], ['svg', 760]);
});

test('CLI: paragon bench --json/--markdown on the bundled model in an isolated process', { skip: noDefault }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'paragon-bench-'));
  try {
    const json = path.join(dir, 'r.json');
    const md = path.join(dir, 'docs', 'r.md');
    const r = spawnSync(
      process.execPath,
      [path.join(ROOT, 'bin', 'paragon.js'), 'bench', '--devices', 'cpu', '--precision', 'fp32', '--modes', 'video', '--sizes', '32x16', '--runs', '3', '--max-runs', '5', '--time', '0.2', '--warmup', '1', '--json', json, '--markdown', md],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const rep = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
    assert.equal(rep.rows.length, 1);
    checkRow(rep.rows[0]!);
    assert.equal(rep.rows[0]!.videoOverheadPct, null, 'no standard row to compare with');
    assert.equal(rep.env.onnxruntime, JSON.parse(readFileSync(path.join(ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version);
    for (const k of ['date', 'cpu', 'cores', 'node', 'paragon', 'loadAverage'] as const) assert.ok(rep.env[k] !== undefined, k);
    assert.match(rep.command, /^paragon bench --devices cpu/);
    assert.match(r.stdout, /paragon-realtime-2x\s+cpu\s+fp32\s+video\s+32x16/);
    const mdText = readFileSync(md, 'utf8');
    assert.match(mdText, /\| paragon-realtime-2x \| cpu \| fp32 \| video \| 32x16 \|/);
    assert.match(mdText, /!\[fps against input size\]\(r\.svg\)/);
    assert.ok(existsSync(path.join(dir, 'docs', 'r.svg')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
