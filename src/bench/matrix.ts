/**
 * The benchmark matrix: models × devices × precisions × modes × sizes, each combination measured
 * in its own process (see child.ts) unless `isolate` is off. A device that does not load is
 * reported once, as skipped with its reason, and not tried again for that model.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ParagonError } from '../errors.ts';
import { resolveModel } from '../runtime/model.ts';
import type { Device } from '../runtime/devices.ts';
import { fromSource, siblingModule } from '../runtime/sibling.ts';
import { isSkip, measureCase, measurePaired, sizeText } from './measure.ts';
import { formatSkipped } from './report.ts';
import type { BenchCase, BenchEnv, BenchMode, BenchRow, FrameSize, MeasureOptions, Precision, SkippedCase } from './types.ts';

/** What to measure and how. */
export interface MatrixOptions {
  readonly models: readonly string[];
  readonly devices: readonly Device[];
  readonly precisions: readonly Precision[];
  readonly modes: readonly BenchMode[];
  readonly sizes: readonly FrameSize[];
  readonly measure: MeasureOptions;
  readonly env: BenchEnv;
  /** One process per combination (default true): exact per-combination peak memory. */
  readonly isolate?: boolean;
  /**
   * Measure the modes of one size side by side, runs alternating (default false): the video
   * overhead then holds on a busy machine; peak RSS is the pair's.
   */
  readonly paired?: boolean;
  /** Extra environment for the measuring processes (e.g. VK_ICD_FILENAMES). */
  readonly childEnv?: Readonly<Record<string, string>>;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

/**
 * The combinations in measuring order: per model, device and precision, small sizes first, the
 * modes of one size back to back (the video overhead compares those two, so they should see the
 * same load on a shared machine).
 */
export function expandCases(o: Pick<MatrixOptions, 'models' | 'devices' | 'precisions' | 'modes' | 'sizes'>): BenchCase[] {
  const sizes = [...o.sizes].sort((a, b) => a.width * a.height - b.width * b.height);
  const out: BenchCase[] = [];
  for (const model of o.models)
    for (const device of o.devices)
      for (const precision of o.precisions)
        for (const size of sizes) for (const mode of o.modes) out.push({ model, device, precision, mode, size });
  return out;
}

const CHILD = fileURLToPath(siblingModule(import.meta.url, 'child'));

/** Run cases (one, or a pair) in a fresh node process (tsx loaded by URL, so any working directory works). */
function runIsolated(cases: BenchCase[], o: MatrixOptions): Promise<(BenchRow | SkippedCase)[]> {
  const job = JSON.stringify({ cases, options: o.measure, env: o.env });
  // From source the child needs tsx; built, it is plain JavaScript.
  const args = [...(fromSource(import.meta.url) ? ['--import', import.meta.resolve('tsx')] : []), CHILD, job];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...o.childEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const abort = (): void => void child.kill('SIGTERM');
    o.signal?.addEventListener('abort', abort, { once: true });
    child.on('error', reject);
    child.on('close', (code, sig) => {
      o.signal?.removeEventListener('abort', abort);
      if (o.signal?.aborted) return reject(new ParagonError('interrupted', 'benchmark interrupted'));
      const last = stdout.trim().split('\n').at(-1) ?? '';
      let msg: { ok: boolean; results?: (BenchRow | SkippedCase)[]; message?: string; code?: number } | undefined;
      try {
        msg = JSON.parse(last);
      } catch {
        msg = undefined;
      }
      if (msg?.ok && msg.results) return resolve(msg.results);
      const why = msg?.message ?? (stderr.trim().split('\n').at(-1) || `exited with ${sig ?? code}`);
      resolve(cases.map((c) => ({ ...caseKey(c), reason: `failed: ${why}` })));
    });
  });
}

const caseKey = (c: BenchCase) => ({
  model: c.model,
  device: c.device,
  precision: c.precision,
  mode: c.mode,
  size: sizeText(c.size.width, c.size.height),
});

/** Which later cases a skip also rules out: the device for this model, a precision, a mode. */
function skipScope(s: SkippedCase): 'device' | 'precision' | 'mode' | 'case' {
  if (/^device \w+ unavailable|^\S+: cannot load the model/.test(s.reason)) return 'device';
  if (/ONNX file \(fp16\/fp32 graphs/.test(s.reason)) return 'precision';
  if (/signature, not \w+ mode$/.test(s.reason)) return 'mode';
  return 'case';
}

/**
 * Measure every combination. Models are resolved first, so a bad `--model` fails at once (exit
 * 3) rather than once per combination; a combination that fails later is reported as skipped.
 */
export async function runMatrix(o: MatrixOptions): Promise<{ rows: BenchRow[]; skipped: SkippedCase[] }> {
  for (const m of o.models) await resolveModel(m, { mode: 'standard' });
  const rows: BenchRow[] = [];
  const skipped: SkippedCase[] = [];
  const ruledOut = new Set<string>();
  const key = (c: BenchCase, scope: string): string =>
    [c.model, c.device, scope !== 'device' ? c.precision : '', scope === 'mode' ? c.mode : ''].join('|') + scope;
  // Paired: the modes of one model/device/precision/size are measured side by side in one process.
  const groups: BenchCase[][] = [];
  for (const c of expandCases(o)) {
    const last = groups.at(-1)?.[0];
    const same = last && last.model === c.model && last.device === c.device && last.precision === c.precision && last.size === c.size;
    if (o.paired && same) groups.at(-1)!.push(c);
    else groups.push([c]);
  }
  for (const group of groups) {
    if (o.signal?.aborted) throw new ParagonError('interrupted', 'benchmark interrupted');
    const todo = group.filter((c) => !['device', 'precision', 'mode'].some((s) => ruledOut.has(key(c, s))));
    if (!todo.length) continue;
    const results =
      o.isolate === false
        ? todo.length === 1
          ? [await measureCase(todo[0]!, o.measure, o.env)]
          : await measurePaired(todo, o.measure, o.env)
        : await runIsolated(todo, o);
    for (const [i, r] of results.entries()) {
      const c = todo[i]!;
      const label = `${c.model} ${c.device} ${c.precision} ${c.mode} ${sizeText(c.size.width, c.size.height)}`;
      if (isSkip(r)) {
        // A device that already ran cases of this model does load: what failed is this precision or mode.
        const ran = rows.some((x) => x.model === c.model && x.device === c.device);
        let scope = skipScope(r);
        if (scope === 'device' && ran) scope = rows.some((x) => x.model === c.model && x.device === c.device && x.precision === c.precision) ? 'mode' : 'precision';
        ruledOut.add(key(c, scope));
        const s: SkippedCase =
          scope === 'device'
            ? { model: c.model, device: c.device, reason: r.reason }
            : scope === 'precision'
              ? { model: c.model, device: c.device, precision: c.precision, reason: r.reason }
              : scope === 'mode'
                ? { model: c.model, device: c.device, precision: c.precision, mode: c.mode, reason: r.reason }
                : r;
        // A pair whose device is missing reports it once.
        if (!skipped.some((x) => x.model === s.model && x.device === s.device && x.precision === s.precision && x.mode === s.mode && x.size === s.size)) {
          skipped.push(s);
          o.log?.(formatSkipped([s])[0]!);
        }
        continue;
      }
      rows.push(todo.length > 1 ? { ...r, options: { ...r.options, measured: `side by side with ${todo.filter((x) => x !== c).map((x) => x.mode).join(', ')} (--paired)` } } : r);
      o.log?.(`${label}: p50 ${r.p50Ms} ms, p95 ${r.p95Ms} ms, ${r.fps} fps (${r.runs} runs${r.stable ? '' : ', not stable'}), peak RSS ${r.peakRssMB} MB`);
    }
  }
  return { rows: withVideoOverhead(rows), skipped };
}

/** Add to each video row its median latency over the matching standard row's, in %. */
export function withVideoOverhead(rows: readonly BenchRow[]): BenchRow[] {
  const std = new Map<string, BenchRow>();
  const k = (r: BenchRow): string => [r.model, r.device, r.precision, r.size].join('|');
  for (const r of rows) if (r.mode === 'standard') std.set(k(r), r);
  return rows.map((r) => {
    if (r.mode !== 'video') return r;
    const s = std.get(k(r));
    return { ...r, videoOverheadPct: s ? Math.round((r.p50Ms / s.p50Ms - 1) * 1000) / 10 : null };
  });
}
