/**
 * Model-only CPU latency of the literal graph vs the fast (default) graph, measured interleaved in
 * one process so that the load of a shared machine hits both alike: compare the RATIO.
 *
 *   npx tsx scripts/bench-graph.ts [--variants realtime,stream] [--size 640x360] [--threads 2]
 *                                  [--runs 15] [--alpha A] [--fp16] [--video] [--no-spin]
 *
 * Models: the official v11 releases in ../shared (their upsampler_alpha 0.0 unless --alpha), the
 * golden random weights for `pro`. Prints per variant the median (and min) ms of each graph, the
 * fast/literal ratio and the max |difference| of the two outputs. With --no-spin (onnxruntime's
 * intra-op threads sleep instead of spinning) it also prints the median CPU time per run, which
 * a loaded machine distorts far less than wall time.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { buildOnnx, halfToFloat } from '../src/graph/index.ts';
import { loadCheckpoint, f32ToF16, type LoadedCheckpoint } from '../src/weights/index.ts';
import { shared } from '../test/helpers/shared.ts';

const { values: a } = parseArgs({
  options: {
    variants: { type: 'string', default: 'realtime,stream' },
    size: { type: 'string', default: '640x360' },
    threads: { type: 'string', default: '2' },
    runs: { type: 'string', default: '15' },
    alpha: { type: 'string' },
    fp16: { type: 'boolean', default: false },
    video: { type: 'boolean', default: false },
    'no-spin': { type: 'boolean', default: false },
  },
});
const [W, H] = a.size!.split('x').map(Number) as [number, number];
const threads = Number(a.threads);
const runs = Number(a.runs);
const fp16 = a.fp16;

const FILES: Record<string, string> = {
  realtime: shared('models', 'paragonsr2-v11', '2xParagonSR2_Realtime_fidelity.safetensors'),
  stream: shared('models', 'paragonsr2-v11', '2xParagonSR2_Stream_fidelity.safetensors'),
  photo: shared('models', 'paragonsr2-v11', '2xParagonSR2_Photo_fidelity.safetensors'),
  pro: shared('golden', 'pro_x2.weights.safetensors'),
};

const median = (v: number[]): number => [...v].sort((x, y) => x - y)[v.length >> 1]!;
const tensor = (data: Float32Array, dims: number[]): ort.Tensor =>
  fp16 ? new ort.Tensor('float16', Uint16Array.from(data, f32ToF16), dims) : new ort.Tensor('float32', data, dims);
const floats = (t: ort.Tensor): Float32Array => (t.type === 'float16' ? halfToFloat(t.data as Uint16Array) : (t.data as Float32Array));

async function session(ck: LoadedCheckpoint, literal: boolean): Promise<ort.InferenceSession> {
  const upsamplerAlpha = a.alpha === undefined ? ck.upsamplerAlpha : Number(a.alpha);
  const bytes = buildOnnx(ck.arch, ck.stateDict, { upsamplerAlpha, literal, fp16, video: a.video });
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    ...(a['no-spin'] ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  });
}

console.log(`load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${W}x${H}, ${threads} threads, ${runs} runs each, ${fp16 ? 'fp16' : 'fp32'}${a.video ? ', video' : ''}`);
for (const variant of a.variants!.split(',')) {
  const ck = await loadCheckpoint(FILES[variant]!);
  const pad = ck.arch.variant === 'photo' || ck.arch.variant === 'pro' ? 16 : 1;
  const [h, w] = [Math.ceil(H / pad) * pad, Math.ceil(W / pad) * pad];
  const x = new Float32Array(3 * h * w);
  // A smooth image with some texture, values in [0, 1].
  for (let i = 0; i < x.length; i++) x[i] = 0.5 + 0.4 * Math.sin(i * 0.013) * Math.cos(i * 0.0007);
  const feeds: Record<string, ort.Tensor> = { input: tensor(x, [1, 3, h, w]) };
  if (a.video) {
    feeds.prev_feat = tensor(new Float32Array(ck.arch.channels * h * w).fill(0.1), [1, ck.arch.channels, h, w]);
    feeds.alpha = tensor(new Float32Array([0.3]), [1, 1, 1, 1]);
  }
  const sessions = { literal: await session(ck, true), fast: await session(ck, false) };
  const outs: Record<string, Float32Array> = {};
  for (const [k, s] of Object.entries(sessions)) outs[k] = floats((await s.run(feeds)).output!); // warm-up
  const times: Record<string, number[]> = { literal: [], fast: [] };
  const cpu: Record<string, number[]> = { literal: [], fast: [] };
  for (let r = 0; r < runs; r++) {
    // Alternate the order so neither graph always runs right after the other.
    for (const k of r % 2 ? (['fast', 'literal'] as const) : (['literal', 'fast'] as const)) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await sessions[k].run(feeds);
      times[k]!.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu[k]!.push((c.user + c.system) / 1000);
    }
  }
  let diff = 0;
  for (let i = 0; i < outs.literal!.length; i++) diff = Math.max(diff, Math.abs(outs.literal![i]! - outs.fast![i]!));
  const [ml, mf] = [median(times.literal!), median(times.fast!)];
  console.log(
    `${variant.padEnd(8)} literal ${ml.toFixed(1)} ms (min ${Math.min(...times.literal!).toFixed(1)})  ` +
      `fast ${mf.toFixed(1)} ms (min ${Math.min(...times.fast!).toFixed(1)})  fast/literal ${(mf / ml).toFixed(3)}  max|diff| ${diff.toExponential(2)}`,
  );
  if (a['no-spin']) {
    const [cl, cf] = [median(cpu.literal!), median(cpu.fast!)];
    console.log(`${''.padEnd(8)} CPU time: literal ${cl.toFixed(1)} ms, fast ${cf.toFixed(1)} ms, fast/literal ${(cf / cl).toFixed(3)}`);
  }
  for (const s of Object.values(sessions)) await s.release();
}
console.log(`load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
