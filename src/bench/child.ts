/**
 * Entry of the process that measures ONE combination, or one pair of modes (spawned by
 * matrix.ts): a fresh process per combination makes its peak RSS its own (memory a previous
 * session freed is never handed back to the OS in one process) and keeps a crashing GPU driver
 * from taking the whole run down. argv[2] is the JSON job; the last stdout line is the result.
 */
import { measureCase, measurePaired } from './measure.ts';
import type { BenchCase, BenchEnv, BenchRow, MeasureOptions, SkippedCase } from './types.ts';

interface Job {
  /** One case is measured alone; several (the modes of one size) side by side. */
  readonly cases: BenchCase[];
  readonly options: MeasureOptions;
  readonly env: BenchEnv;
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
try {
  const rs: (BenchRow | SkippedCase)[] =
    job.cases.length === 1 ? [await measureCase(job.cases[0]!, job.options, job.env)] : await measurePaired(job.cases, job.options, job.env);
  // The kernel's own peak for this process, which the sampler can only approach.
  const maxRss = process.resourceUsage().maxRSS / 1024;
  const out = rs.map((r) => ('reason' in r ? r : { ...r, peakRssMB: Math.round(Math.max(r.peakRssMB, maxRss) * 10) / 10 }));
  process.stdout.write(`\n${JSON.stringify({ ok: true, results: out })}\n`);
} catch (e) {
  const code = (e as { code?: unknown }).code;
  process.stdout.write(`\n${JSON.stringify({ ok: false, message: (e as Error).message ?? String(e), code: typeof code === 'number' ? code : 1 })}\n`);
}
