/**
 * The runtime layer: model resolution, worker-hosted sessions (device fallback, WebGPU through
 * SwiftShader, a responsive event loop, buffer transfer, disposal) and float16 packing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { ParagonError } from '../../src/errors.ts';
import { convertCheckpoint } from '../../src/graph/index.ts';
import { deviceCandidates, parseDevice, providerInstallHint } from '../../src/runtime/devices.ts';
import { DEFAULT_MODEL, MODELS_DIR, resolveModel } from '../../src/runtime/model.ts';
import { ModelSession } from '../../src/runtime/session.ts';
import { fromFloat16, hasNonFinite, toFloat16 } from '../../src/runtime/tensor.ts';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
// Dawn reads this when the first WebGPU device is created; set before any session exists.
if (existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;

const DEFAULT_FILE = path.join(MODELS_DIR, `${DEFAULT_MODEL}.safetensors`);
const noDefault = existsSync(DEFAULT_FILE) ? false : `needs the bundled ${DEFAULT_FILE}`;

/** A frame with some structure: smooth gradients plus a checker. */
function testFrame(h: number, w: number): Float32Array {
  const x = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < h; y++)
      for (let i = 0; i < w; i++) x[c * h * w + y * w + i] = 0.5 + 0.3 * Math.sin((i + 7 * c) / 5) * Math.cos(y / 9) + ((i >> 2) + (y >> 2)) % 2 * 0.1;
  return x;
}

const standardBytes = async () => (await convertCheckpoint(DEFAULT_FILE, {})).bytes;
const feed = (x: Float32Array, h: number, w: number) => ({ input: { type: 'float32' as const, data: x, dims: [1, 3, h, w] } });

test('float16 packing follows IEEE 754 binary16', () => {
  const bits = toFloat16(Float32Array.of(1, -2, 65504, 65520, 1e6, 2 ** -24, 2 ** -26, 0.1, NaN, -Infinity, 2 ** -14));
  // 1 = 0x3c00, -2 = 0xc000, max finite 0x7bff, 65520 rounds (to even) to Inf, 2^-24 is the
  // smallest subnormal, 2^-26 underflows to 0, 0.1 = 0x2e66, 2^-14 the smallest normal 0x0400.
  assert.deepEqual([...bits].slice(0, 8), [0x3c00, 0xc000, 0x7bff, 0x7c00, 0x7c00, 0x0001, 0x0000, 0x2e66]);
  assert.ok((bits[8]! & 0x7c00) === 0x7c00 && (bits[8]! & 0x3ff) !== 0, 'NaN stays NaN');
  assert.equal(bits[9], 0xfc00);
  assert.equal(bits[10], 0x0400);
  assert.deepEqual([...fromFloat16(Uint16Array.of(0x3c00, 0x3555, 0x0001, 0x7bff, 0xfc00))], [1, 0.333251953125, 2 ** -24, 65504, -Infinity]);
  assert.ok(hasNonFinite(fromFloat16(Uint16Array.of(0, 0x7e00))));
  assert.ok(!hasNonFinite(Float32Array.of(0, -1, 3e38)));
});

test('--device values: unknown ones are usage errors; auto ends on cpu', () => {
  assert.equal(parseDevice('CUDA'), 'cuda');
  assert.throws(() => parseDevice('gpu'), (e: unknown) => e instanceof ParagonError && e.code === 2 && /--device gpu/.test(e.message));
  assert.equal(deviceCandidates('auto').at(-1), 'cpu');
  assert.deepEqual(deviceCandidates('cuda'), ['cuda', 'cpu']);
});

test('resolveModel: bundled name, checkpoint, our ONNX file; bad specs are model errors', { skip: noDefault }, async () => {
  const bundled = await resolveModel(undefined, { mode: 'video' });
  assert.equal(bundled.info.file, DEFAULT_FILE);
  assert.deepEqual([bundled.info.variant, bundled.info.scale, bundled.info.channels, bundled.info.padMultiple], ['realtime', 2, 16, 1]);
  assert.equal(bundled.info.signature, 'paragon-video');
  const std = await resolveModel(DEFAULT_FILE, { mode: 'standard', fp16: true });
  assert.equal(std.info.signature, 'paragon-standard');
  assert.equal(std.info.precision, 'fp16');
  assert.ok(std.fp32 && std.fp32().length > 0, 'an fp16 checkpoint model keeps an fp32 twin');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'paragon-rt-'));
  try {
    const onnx = path.join(dir, 'm.onnx');
    await writeFile(onnx, bundled.bytes);
    const back = await resolveModel(onnx);
    assert.deepEqual([back.info.signature, back.info.variant, back.info.scale, back.info.channels], ['paragon-video', 'realtime', 2, 16]);
    const bad = path.join(dir, 'junk.onnx');
    await writeFile(bad, 'not a model');
    for (const spec of ['no-such-model', path.join(dir, 'missing.safetensors'), bad]) {
      await assert.rejects(resolveModel(spec), (e: unknown) => e instanceof ParagonError && e.code === 3 && !e.message.includes('\n'), spec);
    }
    await assert.rejects(resolveModel('no-such-model'), /bundled: .*paragon-realtime-2x/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('--device cuda falls back to cpu with a one-line notice', { skip: noDefault }, async () => {
  const notices: string[] = [];
  await using s = await ModelSession.create(await standardBytes(), { device: 'cuda', onNotice: (l) => notices.push(l) });
  if (s.device === 'cuda') {
    assert.deepEqual(notices, [], 'CUDA present: no fallback');
    return;
  }
  assert.equal(s.device, 'cpu');
  assert.equal(notices.length, 1);
  assert.match(notices[0]!, /^device cuda unavailable \(.+\); using cpu$/);
  assert.ok(!notices[0]!.includes('\n'));
  // Without onnxruntime-node's CUDA provider (its npm package leaves it out), the notice names the
  // one command that fetches it, a script that exists.
  const hint = providerInstallHint('cuda');
  if (hint) {
    assert.ok(notices[0]!.includes(`onnxruntime-node's CUDA provider is not installed, get it with: ${hint})`), notices[0]);
    const [node, script, flag] = hint.split(' ');
    assert.deepEqual([node, existsSync(script!), flag], ['node', true, '--onnxruntime-node-install=cuda12']);
  } else if (process.platform === 'linux' && process.arch === 'x64') {
    assert.ok(existsSync(path.join(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime_providers_cuda.so')), 'no hint only when the provider is there');
  }
  const out = await s.run(feed(testFrame(8, 8), 8, 8));
  assert.deepEqual(out.output!.dims, [1, 3, 16, 16]);
});

test('WebGPU (SwiftShader) gives the CPU result', { skip: noDefault || (existsSync(SWIFTSHADER) ? false : `needs ${SWIFTSHADER}`) }, async () => {
  const bytes = await standardBytes();
  const notices: string[] = [];
  await using gpu = await ModelSession.create(bytes, { device: 'webgpu', onNotice: (l) => notices.push(l) });
  assert.equal(gpu.device, 'webgpu', notices.join('; '));
  await using cpu = await ModelSession.create(bytes, { device: 'cpu' });
  const x = testFrame(24, 32);
  const a = (await gpu.run(feed(x.slice(), 24, 32))).output!.data as Float32Array;
  const b = (await cpu.run(feed(x, 24, 32))).output!.data as Float32Array;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  assert.ok(m < 1e-3, `webgpu vs cpu max diff ${m}`);
});

test('inference runs off the main thread: timers keep firing during a long run', { skip: noDefault }, async () => {
  await using s = await ModelSession.create(await standardBytes(), { device: 'cpu', cpu: { intraOpThreads: 1 } });
  const [h, w] = [384, 384];
  const x = testFrame(h, w);
  const ticks: number[] = [];
  const timer = setInterval(() => ticks.push(performance.now()), 5);
  const t0 = performance.now();
  const out = await s.run(feed(x, h, w));
  const t1 = performance.now();
  clearInterval(timer);
  const ms = t1 - t0;
  const gaps = ticks.map((t, i) => t - (i === 0 ? t0 : ticks[i - 1]!));
  const maxGap = Math.max(...gaps, t1 - (ticks.at(-1) ?? t0));
  assert.ok(ms > 100, `the run is long enough to tell (${ms.toFixed(0)} ms)`);
  assert.ok(ticks.length >= ms / 5 / 4, `${ticks.length} ticks in ${ms.toFixed(0)} ms`);
  assert.ok(maxGap < ms / 3, `longest stall ${maxGap.toFixed(0)} ms of ${ms.toFixed(0)} ms`);
  assert.equal(x.byteLength, 0, 'the input buffer was transferred, not copied');
  assert.deepEqual(out.output!.dims, [1, 3, 2 * h, 2 * w]);
});

test('a closed session refuses work; load failures are model errors naming the file', { skip: noDefault }, async () => {
  const s = await ModelSession.create(await standardBytes(), { device: 'cpu' });
  await s.close();
  await s.close();
  await assert.rejects(s.run(feed(testFrame(8, 8), 8, 8)), /closed/);
  await assert.rejects(
    ModelSession.create(new Uint8Array([8, 1, 2, 3]), { device: 'cpu', label: 'broken.onnx' }),
    (e: unknown) => e instanceof ParagonError && e.code === 3 && e.message.startsWith('broken.onnx: cannot load the model'),
  );
});

test('favourThreads: every thread but the model\'s goes to SCHED_IDLE (niceness 10 without chrt, or with \'nice\'), and a process started afterwards inherits it (Linux)', { skip: noDefault || (process.platform === 'linux' ? false : 'thread priorities are per thread on Linux only') }, async () => {
  // Lowering a priority is one-way: done in a process of its own.
  const script = `
    import os from 'node:os';
    import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
    import { resolveModel } from './src/runtime/model.ts';
    import { ModelSession } from './src/runtime/session.ts';
    import { favourThreads, schedulingPolicy, threadIds } from './src/runtime/priority.ts';
    const s = await ModelSession.create((await resolveModel(undefined, { mode: 'standard' })).bytes, { device: 'cpu', cpu: { intraOpThreads: 2 } });
    const lowered = favourThreads(s.threads, process.env.HOW === 'nice' ? 'nice' : 'idle');
    const prio = Object.fromEntries(threadIds().map((t) => [t, [os.getPriority(t), schedulingPolicy(t)]]));
    const child = execFileSync('/bin/sh', ['-c', '/usr/bin/cut -d" " -f19,41 /proc/self/stat']).toString().trim().split(' ').map(Number);
    console.log(JSON.stringify({ model: s.threads, lowered, prio, child }));
    await s.close();`;
  const cwd = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
  type Result = { model: number[]; lowered: { threads: number; how: string }; prio: Record<string, [number, number]>; child: [number, number] };
  const check = (r: Result, how: 'idle' | 'nice'): void => {
    assert.ok(r.model.length >= 2, `the worker and ORT's pool thread: ${r.model}`);
    assert.ok(r.lowered.threads >= 1);
    assert.equal(r.lowered.how, how);
    const low: [number, number] = [10, how === 'idle' ? 5 : 0]; // Linux's SCHED_IDLE is 5, SCHED_OTHER 0
    for (const [tid, p] of Object.entries(r.prio)) assert.deepEqual(p, r.model.includes(Number(tid)) ? [0, 0] : low, `${how}: thread ${tid} [nice, policy]`);
    assert.deepEqual(r.child, low, `${how}: a process started afterwards inherits niceness and class`);
  };
  const run = (env: NodeJS.ProcessEnv): Result =>
    JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd, env }).toString().trim().split('\n').pop()!) as Result;
  // Where chrt is present and allowed to set the class (a container may refuse it).
  let chrt = true;
  try {
    execFileSync('chrt', ['--idle', '0', 'true'], { stdio: 'ignore' });
  } catch {
    chrt = false;
  }
  check(run(process.env), chrt ? 'idle' : 'nice');
  // Without chrt on the PATH, or when asked for: niceness alone.
  check(run({ ...process.env, PATH: '/nonexistent' }), 'nice');
  check(run({ ...process.env, HOW: 'nice' }), 'nice');
});
