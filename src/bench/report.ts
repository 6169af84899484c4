/**
 * Benchmark output: the terminal table, the Markdown report (environment, table, skipped devices,
 * pipeline stages, chart link) and the JSON report. Every form names the machine it ran on.
 */
import type { BenchEnv, BenchReport, BenchRow, PipelineResult, SkippedCase } from './types.ts';

/** A model as tables show it: the file name without folder and extension. */
export const modelLabel = (m: string): string => m.replace(/^.*[\\/]/, '').replace(/\.(safetensors|onnx)$/i, '');

const COLUMNS: [header: string, cell: (r: BenchRow) => string][] = [
  ['model', (r) => modelLabel(r.model)],
  ['device', (r) => r.device],
  ['prec', (r) => r.precision],
  ['mode', (r) => r.mode],
  ['size', (r) => r.size],
  ['p50 ms', (r) => r.p50Ms.toFixed(1)],
  ['p95 ms', (r) => r.p95Ms.toFixed(1)],
  ['fps', (r) => (r.fps >= 100 ? r.fps.toFixed(0) : r.fps >= 1 ? r.fps.toFixed(2) : r.fps.toPrecision(2))],
  ['video +%', (r) => (r.videoOverheadPct == null ? '' : `${r.videoOverheadPct > 0 ? '+' : ''}${r.videoOverheadPct.toFixed(1)}`)],
  ['peak RSS MB', (r) => r.peakRssMB.toFixed(0)],
  ['GPU MB', (r) => (r.peakGpuMB === null ? 'n/a' : String(r.peakGpuMB))],
  ['GFLOPs', (r) => (r.gflops === null ? '?' : r.gflops >= 10 ? r.gflops.toFixed(1) : r.gflops.toPrecision(2))],
  ['params', (r) => r.params.toLocaleString('en-US')],
  ['runs', (r) => `${r.runs}${r.stable ? '' : '*'}`],
];

/** Fixed-width text table of the rows. */
export function formatTable(rows: readonly BenchRow[]): string {
  const cells = rows.map((r) => COLUMNS.map(([, f]) => f(r)));
  const widths = COLUMNS.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (cs: string[]): string => cs.map((c, i) => (i < 5 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(COLUMNS.map(([h]) => h)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** One line per skipped device or combination. */
export function formatSkipped(skipped: readonly SkippedCase[]): string[] {
  return skipped.map((s) => {
    const what = [modelLabel(s.model), s.device, s.precision, s.mode, s.size].filter(Boolean).join(' ');
    return `skipped ${what}: ${s.reason}`;
  });
}

/** The environment as a list of `key: value` lines. */
export function formatEnv(env: BenchEnv): string[] {
  return [
    `date: ${env.date}`,
    `machine: ${env.hostname}, ${env.os}`,
    `CPU: ${env.cpu}, ${env.cores} cores, ${env.memoryGB} GB RAM`,
    `GPU: ${env.gpus.length ? env.gpus.join('; ') : 'none (no NVIDIA driver)'}`,
    `WebGPU adapter: ${env.webgpu}`,
    `software: node ${env.node}, onnxruntime-node ${env.onnxruntime}, paragon ${env.paragon}`,
    `load average at start: ${env.loadAverage} (1 min)`,
  ];
}

function pipelineLines(p: BenchReport['pipeline']): string[] {
  if (!p) return [];
  if ('skipped' in p) return [`end-to-end video pipeline: not measured (${p.skipped})`];
  const r = p as PipelineResult;
  return [
    `end-to-end video pipeline: ${r.file} (${r.width}x${r.height}, ${r.frames} frames), ${modelLabel(r.model)} on ${r.device} ${r.precision}: ` +
      `${r.fps.toFixed(2)} fps, ${(r.wallMs / 1000).toFixed(1)} s wall; ran on ${r.ranOn}`,
    ...Object.entries(r.stages).map(([k, v]) =>
      k === 'mux' ? `  ${k}: ${(v.totalMs / 1000).toFixed(1)} s once (join with the source's audio)` : `  ${k}: ${v.perFrameMs.toFixed(1)} ms/frame busy (${(v.totalMs / 1000).toFixed(1)} s)`,
    ),
    '  (decode, infer and encode overlap: the slowest stage sets the pace)',
  ];
}

/** The whole report as terminal text. */
export function formatReport(rep: BenchReport): string {
  const lines = [formatTable(rep.rows)];
  if (rep.rows.some((r) => !r.stable)) lines.push('* median not yet stable to ±2% when the time budget ended');
  lines.push(...formatSkipped(rep.skipped), ...pipelineLines(rep.pipeline), '', ...formatEnv(rep.env));
  return `${lines.join('\n')}\n`;
}

const mdRow = (cells: string[]): string => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;

/** Markdown report; `chart` is the relative path of the SVG, when one was written. */
export function formatMarkdown(rep: BenchReport, chart?: string): string {
  const out = [`## paragon bench — ${rep.env.date.slice(0, 10)} on ${rep.env.hostname}`, ''];
  out.push(...formatEnv(rep.env).map((l) => `- ${l}`), `- command: \`${rep.command}\``, '');
  const heads = [...COLUMNS.map(([h]) => h), 'ran on'];
  out.push(mdRow(heads), mdRow(heads.map((_, i) => (i < 5 || i === heads.length - 1 ? '---' : '---:'))));
  for (const r of rep.rows) out.push(mdRow([...COLUMNS.map(([, f]) => f(r)), r.ranOn]));
  out.push('');
  out.push('p50/p95: median and 95th percentile latency of one `session.run` (frame in → frame out, batch 1); fps = 1000 / p50;');
  out.push('video +%: median latency of the video graph over the standard graph at the same size; peak RSS: the measuring process;');
  out.push('GFLOPs: 2 × multiply-adds of the convolutions and matrix products per frame; runs marked * did not reach a ±2% median.');
  if (rep.skipped.length) out.push('', ...formatSkipped(rep.skipped).map((l) => `- ${l}`));
  const pl = pipelineLines(rep.pipeline);
  if (pl.length) out.push('', ...pl.map((l) => (l.startsWith('  ') ? `  - ${l.trim()}` : `- ${l}`)));
  if (chart) out.push('', `![fps against input size](${chart})`);
  return `${out.join('\n')}\n`;
}

/** JSON report text. */
export const formatJson = (rep: BenchReport): string => `${JSON.stringify(rep, null, 2)}\n`;
