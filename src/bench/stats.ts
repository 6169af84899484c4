/**
 * Latency statistics: percentiles, and when a median is stable enough to stop measuring. Timings
 * on a shared machine have long right tails (another process takes the cores for a while), so the
 * median and a distribution-free confidence interval of it are what the bench relies on, never
 * the mean.
 */

/** The `q`-quantile (0..1) of `values`, linear interpolation between order statistics (R type 7). */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/**
 * Half-width of the 95% confidence interval of the median, as a fraction of the median. Uses the
 * order-statistic interval (ranks n/2 ± 1.96·√n/2), which assumes nothing about the distribution.
 * Infinity below 6 samples, where the interval is the whole range.
 */
export function medianCi(values: readonly number[]): number {
  const n = values.length;
  if (n < 6) return Infinity;
  const s = [...values].sort((a, b) => a - b);
  const d = 1.96 * Math.sqrt(n) / 2;
  const lo = Math.max(0, Math.floor(n / 2 - d) - 1);
  const hi = Math.min(n - 1, Math.ceil(n / 2 + d));
  const med = percentile(s, 0.5);
  return med > 0 ? (s[hi]! - s[lo]!) / 2 / med : Infinity;
}

/** The stopping rule of one measurement. */
export interface StopRule {
  readonly minRuns: number;
  readonly maxRuns: number;
  readonly maxMs: number;
  readonly targetCi: number;
}

/**
 * Whether to stop after `times` (ms each) took `elapsedMs`: at `maxRuns`; once `minRuns` are in and
 * the median is within `targetCi`; or when the time budget is spent and at least 3 runs exist (a
 * 20-second-per-frame model cannot be run 10 times in a sensible benchmark).
 */
export function shouldStop(times: readonly number[], elapsedMs: number, rule: StopRule): boolean {
  const n = times.length;
  if (n >= rule.maxRuns) return true;
  if (n >= rule.minRuns && medianCi(times) <= rule.targetCi) return true;
  return elapsedMs >= rule.maxMs && n >= Math.min(3, rule.minRuns);
}

/** Summary of timed runs (ms). */
export interface LatencySummary {
  readonly p50: number;
  readonly p95: number;
  readonly min: number;
  readonly mean: number;
  readonly ci: number;
}

export function summarize(times: readonly number[]): LatencySummary {
  return {
    p50: percentile(times, 0.5),
    p95: percentile(times, 0.95),
    min: Math.min(...times),
    mean: times.reduce((a, b) => a + b, 0) / times.length,
    ci: medianCi(times),
  };
}

/** Round to `d` decimals (JSON rows stay readable). */
export const round = (v: number, d = 2): number => (Number.isFinite(v) ? Math.round(v * 10 ** d) / 10 ** d : v);
