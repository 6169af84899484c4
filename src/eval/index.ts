/**
 * Evaluation of video super-resolution: per-frame PSNR-Y, SSIM and temporal error against ground
 * truth, a small SVG chart, and the degraded test inputs the measurements start from.
 */
export { SequenceScorer, evaluateSequences, meanScores, reportJson } from './evaluate.ts';
export type { EvalOptions, EvalReport, FrameScore, MeanScores } from './evaluate.ts';
export { chartSvg, type ChartSeries } from './chart.ts';
export { openSequence, listFrames, FRAME_EXTENSIONS, type FrameSequence } from './sequence.ts';
export { degradeFrame, gaussianNoise, mulberry32, writeDegraded, checkDegradeOptions } from './degrade.ts';
export type { DegradeOptions, WriteDegradedOptions } from './degrade.ts';
