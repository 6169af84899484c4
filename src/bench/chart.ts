/**
 * The benchmark chart as hand-written SVG: frames per second against input size, one panel per
 * model, one line per backend and precision (solid: standard mode, dashed: video mode). The y axis
 * turns logarithmic when the values span more than a factor of 20, so a CPU line and a GPU line
 * both stay readable.
 */
import { modelLabel } from './report.ts';
import type { BenchRow } from './types.ts';

const W = 760;
const PANEL_H = 300;
const M = { left: 64, right: 220, top: 44, bottom: 48 };
const COLORS: Record<string, string> = {
  'cpu fp32': '#1f77b4',
  'cpu fp16': '#6baed6',
  'webgpu fp32': '#2ca02c',
  'webgpu fp16': '#98df8a',
  'cuda fp32': '#d62728',
  'cuda fp16': '#ff9896',
  'tensorrt fp32': '#9467bd',
  'tensorrt fp16': '#c5b0d5',
};

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2));

/** "Nice" tick values between lo and hi (linear axis). */
function linearTicks(lo: number, hi: number, n = 5): number[] {
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= step0) ?? 10 * mag;
  const out: number[] = [];
  // Up to the first tick at or above hi, so the highest point stays inside the plot.
  for (let v = Math.ceil(lo / step) * step; out.length === 0 || out.at(-1)! < hi - step * 1e-9; v += step) out.push(Number((Math.round(v / step) * step).toPrecision(12)));
  return out;
}

/** One panel: the rows of one model. `y0` is the panel's top. */
function panel(title: string, rows: readonly BenchRow[], y0: number): string {
  const sizes = [...new Map(rows.map((r) => [r.size, r.width * r.height])).entries()].sort((a, b) => a[1] - b[1]).map(([s]) => s);
  const fps = rows.map((r) => r.fps).filter((v) => v > 0);
  const [lo, hi] = [Math.min(...fps), Math.max(...fps)];
  const log = hi / lo > 20;
  const plotW = W - M.left - M.right;
  const plotH = PANEL_H - M.top - M.bottom;
  const inset = plotW * 0.06;
  const x = (s: string): number => M.left + (sizes.length === 1 ? plotW / 2 : inset + (sizes.indexOf(s) / (sizes.length - 1)) * (plotW - 2 * inset));
  let yLo: number;
  let yHi: number;
  let ticks: number[];
  if (log) {
    yLo = 10 ** Math.floor(Math.log10(lo));
    yHi = 10 ** Math.ceil(Math.log10(hi));
    ticks = [];
    for (let d = yLo; d <= yHi * 1.0001; d *= 10) ticks.push(...[1, 2, 5].map((f) => f * d).filter((v) => v <= yHi * 1.0001));
  } else {
    ticks = linearTicks(0, hi * 1.05);
    yLo = 0;
    yHi = ticks.at(-1)!;
  }
  const y = (v: number): number => {
    const t = log ? (Math.log10(v) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo)) : (v - yLo) / (yHi - yLo);
    return y0 + M.top + plotH * (1 - t);
  };
  const parts: string[] = [
    `<text x="${M.left}" y="${y0 + 24}" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<rect x="${M.left}" y="${y0 + M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  ];
  for (const t of ticks) {
    const ty = y(t).toFixed(1);
    parts.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${ty}" y2="${ty}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${M.left - 6}" y="${ty}" font-size="11" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`);
  }
  for (const s of sizes) {
    parts.push(`<text x="${x(s).toFixed(1)}" y="${y0 + M.top + plotH + 18}" font-size="11" text-anchor="middle">${esc(s)}</text>`);
  }
  parts.push(`<text x="${M.left + plotW / 2}" y="${y0 + PANEL_H - 8}" font-size="12" text-anchor="middle">input size (width x height)</text>`);
  parts.push(
    `<text transform="translate(16 ${y0 + M.top + plotH / 2}) rotate(-90)" font-size="12" text-anchor="middle">frames per second${log ? ' (log scale)' : ''}</text>`,
  );
  const series = new Map<string, BenchRow[]>();
  for (const r of rows) {
    const k = `${r.device} ${r.precision} ${r.mode}`;
    series.set(k, [...(series.get(k) ?? []), r]);
  }
  let li = 0;
  for (const [k, rs] of [...series].sort(([a], [b]) => a.localeCompare(b))) {
    const [device, precision, mode] = k.split(' ');
    const color = COLORS[`${device} ${precision}`] ?? '#555';
    const dash = mode === 'video' ? ' stroke-dasharray="6 4"' : '';
    const pts = rs.sort((a, b) => sizes.indexOf(a.size) - sizes.indexOf(b.size)).map((r) => `${x(r.size).toFixed(1)},${y(r.fps).toFixed(1)}`);
    parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    for (const r of rs) {
      parts.push(`<circle cx="${x(r.size).toFixed(1)}" cy="${y(r.fps).toFixed(1)}" r="3.5" fill="${color}"><title>${esc(`${k} ${r.size}: ${r.fps} fps (p50 ${r.p50Ms} ms)`)}</title></circle>`);
    }
    const ly = y0 + M.top + 8 + li++ * 20;
    const lx = M.left + plotW + 16;
    parts.push(`<line x1="${lx}" x2="${lx + 28}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${lx + 34}" y="${ly}" font-size="12" dominant-baseline="middle">${esc(k)}</text>`);
  }
  return parts.join('\n');
}

/** The chart of `rows` (one panel per model); `subtitle` says where it ran. */
export function renderChart(rows: readonly BenchRow[], subtitle: string): string {
  const models = [...new Set(rows.map((r) => r.model))];
  const height = 40 + Math.max(1, models.length) * PANEL_H;
  const body =
    models.length === 0
      ? `<text x="${W / 2}" y="${height / 2}" text-anchor="middle">no measurements</text>`
      : models.map((m, i) => panel(modelLabel(m), rows.filter((r) => r.model === m), 30 + i * PANEL_H)).join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${M.left}" y="22" font-size="12" fill="#555">${esc(subtitle)}</text>`,
    body,
    `</svg>`,
    '',
  ].join('\n');
}
