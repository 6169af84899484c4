/** Benchmarks and TensorRT engines: `paragon bench` and `paragon engine` are thin layers over this. */
export type { BenchCase, BenchEnv, BenchMode, BenchReport, BenchRow, FrameSize, MeasureOptions, PipelineResult, Precision, SkippedCase } from './types.ts';
export { percentile, medianCi, shouldStop, summarize } from './stats.ts';
export type { StopRule, LatencySummary } from './stats.ts';
export { frameCost, archOfOnnx } from './flops.ts';
export type { FrameCost } from './flops.ts';
export { benchEnv, gpuMemoryMB, nvidiaGpus, onnxruntimeVersion, ranOn, RssSampler } from './env.ts';
export { measureCase, measurePaired, benchFrame, MEASURE_DEFAULTS, isSkip } from './measure.ts';
export { benchPipeline, pipelineChoice } from './pipeline.ts';
export type { PipelineOptions } from './pipeline.ts';
export { runMatrix, expandCases, withVideoOverhead } from './matrix.ts';
export type { MatrixOptions } from './matrix.ts';
export { formatTable, formatReport, formatMarkdown, formatJson, formatEnv, formatSkipped, modelLabel } from './report.ts';
export { renderChart } from './chart.ts';
export { tuneCpu, formatTune, runtimeDefaults, tuneSessionOptions } from './tune.ts';
export type { TuneConfig, TuneStep, TuneOptions } from './tune.ts';
export { planEngine, buildEngine, findBuilder, findTrtexec, commandLine, shapeFlag, DEFAULT_PROFILE, NO_TENSORRT } from './tensorrt.ts';
export type { EnginePlan, ProfileRequest, ProfileShapes, Builder, HW } from './tensorrt.ts';
