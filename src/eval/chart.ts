/**
 * A small SVG chart of per-frame scores: PSNR-Y over time above, temporal error below, one line
 * per series (several runs of one clip compare at a glance). Plain SVG text, no dependencies, so
 * any browser or image viewer shows it.
 */
import type { FrameScore } from './evaluate.ts';

/** One line on the chart. */
export interface ChartSeries {
  readonly label: string;
  readonly frames: readonly FrameScore[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const W = 640;
const PANEL_H = 150;
const M = { left: 52, right: 12, top: 26, gap: 40, bottom: 30 };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Round numbers for axis labels: about 4 ticks at 1, 2 or 5 × 10^k. */
function ticks(lo: number, hi: number): number[] {
  const span = hi - lo || 1;
  const raw = span / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

/** One panel: axes, grid, a polyline per series. */
function panel(series: readonly ChartSeries[], key: 'psnr' | 'temporalError', title: string, top: number, frames: number): string {
  const pts = series.map((s) => s.frames.map((f) => [f.index, f[key]] as const).filter((p): p is readonly [number, number] => p[1] !== undefined && Number.isFinite(p[1])));
  const values = pts.flat().map((p) => p[1]);
  if (values.length === 0) return `<text x="${M.left}" y="${top + 20}" font-size="12">${esc(title)}: no data</text>`;
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.01 || 1;
  lo -= pad;
  hi += pad;
  const pw = W - M.left - M.right;
  const x = (i: number) => M.left + (frames <= 1 ? pw / 2 : (i / (frames - 1)) * pw);
  const y = (v: number) => top + PANEL_H - ((v - lo) / (hi - lo)) * PANEL_H;
  const parts = [`<text x="${M.left}" y="${top - 8}" font-size="12" font-weight="bold">${esc(title)}</text>`];
  for (const t of ticks(lo, hi)) {
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${M.left - 4}" y="${(y(t) + 4).toFixed(1)}" font-size="10" text-anchor="end">${t}</text>`);
  }
  parts.push(`<rect x="${M.left}" y="${top}" width="${pw}" height="${PANEL_H}" fill="none" stroke="#888"/>`);
  pts.forEach((p, k) => {
    if (p.length === 0) return;
    const d = p.map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${d}" fill="none" stroke="${COLORS[k % COLORS.length]}" stroke-width="1.5"/>`);
  });
  return parts.join('\n');
}

/** SVG text of the chart (frames numbered from 1 on the x axis). */
export function chartSvg(series: readonly ChartSeries[], title = ''): string {
  const frames = Math.max(1, ...series.map((s) => s.frames.length));
  const top2 = M.top + PANEL_H + M.gap;
  const legendY = top2 + PANEL_H + M.bottom + 14;
  const height = legendY + 16 * Math.ceil(series.length / 3) + 6;
  const pw = W - M.left - M.right;
  const xTicks = ticks(1, frames).filter((t) => Number.isInteger(t) && t >= 1 && t <= frames);
  const xAxis = xTicks
    .map((t) => {
      const xx = M.left + (frames <= 1 ? pw / 2 : ((t - 1) / (frames - 1)) * pw);
      return `<text x="${xx.toFixed(1)}" y="${top2 + PANEL_H + 14}" font-size="10" text-anchor="middle">${t}</text>`;
    })
    .join('\n');
  const legend = series
    .map((s, k) => {
      const lx = M.left + (k % 3) * 200;
      const ly = legendY + 16 * Math.floor(k / 3);
      const c = COLORS[k % COLORS.length];
      return `<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${c}" stroke-width="2"/><text x="${lx + 24}" y="${ly}" font-size="11">${esc(s.label)}</text>`;
    })
    .join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    title ? `<text x="${W / 2}" y="14" font-size="13" text-anchor="middle">${esc(title)}</text>` : '',
    panel(series, 'psnr', 'PSNR-Y per frame (dB, higher is better)', M.top + 10, frames),
    panel(series, 'temporalError', 'Temporal error per frame (lower is steadier)', top2, frames),
    xAxis,
    `<text x="${M.left + pw / 2}" y="${top2 + PANEL_H + 26}" font-size="10" text-anchor="middle">frame</text>`,
    legend,
    '</svg>',
    '',
  ].join('\n');
}
