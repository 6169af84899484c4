/**
 * Measuring one combination (model × device × precision × mode × size) through the same runtime
 * the pipeline uses: a worker-hosted {@link ModelSession}, tensors transferred both ways, and in
 * video mode the previous run's features fed back as `prev_feat`. The timer brackets
 * `session.run` only; preparing the input (copying the frame, float16 packing) happens before it.
 */
import { readOnnxInfo } from '../graph/onnx-info.ts';
import { resolveModel } from '../runtime/model.ts';
import { ModelSession } from '../runtime/session.ts';
import type { WireTensor } from '../runtime/protocol.ts';
import { toFloat16 } from '../runtime/tensor.ts';
import { rolesOf } from '../temporal/roles.ts';
import { isParagonError } from '../errors.ts';
import { gpuMemoryMB, ranOn, RssSampler } from './env.ts';
import { archOfOnnx, frameCost } from './flops.ts';
import { round, shouldStop, summarize } from './stats.ts';
import type { BenchCase, BenchEnv, BenchRow, MeasureOptions, SkippedCase } from './types.ts';

/** The measurement defaults (see {@link MeasureOptions}). */
export const MEASURE_DEFAULTS = {
  warmup: 2,
  minRuns: 10,
  maxRuns: 200,
  maxSeconds: 20,
  targetCi: 0.02,
  historyWeight: 0.2,
} as const;

/** `WIDTHxHEIGHT`. */
export const sizeText = (w: number, h: number): string => `${w}x${h}`;

/**
 * A deterministic frame with structure (gradients and a checker), values in [0, 1]: real
 * content rather than a constant, though these convolutions take the same time on any data.
 */
export function benchFrame(h: number, w: number): Float32Array {
  const x = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < h; y++)
      for (let i = 0; i < w; i++) {
        const checker = ((i >> 3) + (y >> 3)) % 2 ? 0.1 : 0;
        x[(c * h + y) * w + i] = 0.3 + 0.25 * Math.sin((i + 11 * c) / 17) * Math.cos(y / 13) + checker;
      }
  return x;
}

const skip = (c: BenchCase, reason: string): SkippedCase => ({
  model: c.model,
  device: c.device,
  precision: c.precision,
  mode: c.mode,
  size: sizeText(c.size.width, c.size.height),
  reason,
});

/**
 * Measure one case in this process. Returns a row, or a skip with a one-line reason when the
 * device does not load here or the model cannot run the case (an fp32 ONNX file asked for fp16,
 * a standard-only file asked for video mode). Other failures throw.
 */
export async function measureCase(c: BenchCase, opts: MeasureOptions, env: BenchEnv): Promise<BenchRow | SkippedCase> {
  const o = { ...MEASURE_DEFAULTS, ...opts };
  const resolved = await resolveModel(c.model, { mode: c.mode, fp16: c.precision === 'fp16' });
  if (resolved.info.precision !== c.precision)
    return skip(c, `${c.model} is a ${resolved.info.precision} ONNX file (fp16/fp32 graphs are built from checkpoints)`);
  const info = readOnnxInfo(resolved.bytes, c.model);
  const pad = Math.max(1, resolved.info.padMultiple);
  const h = Math.ceil(c.size.height / pad) * pad;
  const w = Math.ceil(c.size.width / pad) * pad;

  const baseRss = process.memoryUsage.rss() / 2 ** 20;
  const rss = new RssSampler();
  const notices: string[] = [];
  let session: ModelSession;
  try {
    session = await ModelSession.create(resolved.bytes, {
      device: c.device,
      label: c.model,
      onNotice: (l) => notices.push(l),
      ...(o.threads !== undefined ? { cpu: { intraOpThreads: o.threads } } : {}),
    });
  } catch (e) {
    rss.stop();
    // Only cpu was tried and failed: that is a broken model, not a missing device.
    if (c.device !== 'cpu' && isParagonError(e, 'model')) return skip(c, e.message);
    throw e;
  }
  try {
    if (session.device !== c.device) return skip(c, notices[0]?.replace(/; using \w+$/, '') ?? `device ${c.device} unavailable`);
    const roles = rolesOf(c.model, session.inputs, session.outputs);
    const video = roles.mode === 'video' || roles.mode === 'baked';
    if (video !== (c.mode === 'video')) return skip(c, `${c.model} has a ${roles.mode} signature, not ${c.mode} mode`);
    const type = roles.types[roles.input]!;
    const frame = benchFrame(h, w);
    const template = type === 'float16' ? toFloat16(frame) : frame;
    const channels = resolved.info.channels ?? Number(session.inputs.find((v) => v.name === roles.prev)?.shape[1]);
    const zeros = (): WireTensor => {
      const t = roles.types[roles.prev!]!;
      const n = channels * h * w;
      return { type: t, data: t === 'float16' ? new Uint16Array(n) : new Float32Array(n), dims: [1, channels, h, w] };
    };
    let prev: WireTensor | undefined = video ? zeros() : undefined;
    const feeds = (): Record<string, WireTensor> => {
      const f: Record<string, WireTensor> = { [roles.input]: { type, data: template.slice(), dims: [1, 3, h, w] } };
      if (roles.prev) f[roles.prev] = prev ?? zeros();
      if (roles.alpha) {
        const a = Float32Array.of(o.historyWeight);
        f[roles.alpha] = { type: roles.types[roles.alpha]!, data: roles.types[roles.alpha] === 'float16' ? toFloat16(a) : a, dims: [1, 1, 1, 1] };
      }
      return f;
    };
    const once = async (): Promise<number> => {
      const f = feeds();
      const t0 = performance.now();
      const out = await session.run(f);
      const ms = performance.now() - t0;
      if (roles.feature) prev = out[roles.feature];
      return ms;
    };

    const firstRunMs = await once();
    for (let i = 0; i < o.warmup; i++) await once();
    const times: number[] = [];
    const rule = { minRuns: o.minRuns, maxRuns: o.maxRuns, maxMs: o.maxSeconds * 1000, targetCi: o.targetCi };
    const start = performance.now();
    do times.push(await once());
    while (!shouldStop(times, performance.now() - start, rule));
    const gpu = c.device === 'cuda' || c.device === 'tensorrt' ? gpuMemoryMB() : null;

    const st = summarize(times);
    const arch = archOfOnnx(resolved.bytes, info);
    const cost = arch ? frameCost(arch, h, w, info.upsamplerAlpha ?? 0) : undefined;
    return {
      model: c.model,
      variant: resolved.info.variant ?? null,
      scale: resolved.info.scale,
      device: session.device,
      precision: c.precision,
      mode: c.mode,
      size: sizeText(c.size.width, c.size.height),
      width: c.size.width,
      height: c.size.height,
      inputSize: sizeText(w, h),
      p50Ms: round(st.p50),
      p95Ms: round(st.p95),
      minMs: round(st.min),
      meanMs: round(st.mean),
      fps: round(1000 / st.p50),
      firstRunMs: round(firstRunMs),
      runs: times.length,
      ciPct: round(st.ci * 100),
      stable: st.ci <= o.targetCi,
      peakRssMB: round(rss.stop(), 1),
      baseRssMB: round(baseRss, 1),
      peakGpuMB: gpu,
      params: cost?.params ?? info.params,
      macs: cost?.macs ?? null,
      gmacs: cost ? round(cost.macs / 1e9, 3) : null,
      gflops: cost ? round((2 * cost.macs) / 1e9, 3) : null,
      options: sessionDescription(c, o.threads),
      ranOn: ranOn(session.device, env),
    };
  } finally {
    rss.stop();
    await session.close();
  }
}

/** The session options a row ran with, as far as the bench chose them. */
function sessionDescription(c: BenchCase, threads: number | undefined): Record<string, string | number> {
  if (c.device !== 'cpu') return { executionProvider: c.device };
  return { executionProvider: 'cpu', intraOpThreads: threads ?? 'runtime default (all cores)', graphOptimizationLevel: 'all', executionMode: 'sequential' };
}

/** True for a skip record. */
export const isSkip = (r: BenchRow | SkippedCase): r is SkippedCase => 'reason' in r;
