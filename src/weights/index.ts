/** The weights layer: safetensors I/O, state-dict names and shapes, detection, checkpoint loading. */
export * from './types.ts';
export { parseSafetensors, writeSafetensors, f32ToF16, MAX_HEADER_BYTES } from './safetensors.ts';
export { readSafetensors, loadCheckpoint } from './load.ts';
export type { Safetensors, TensorToWrite, Dtype } from './safetensors.ts';
export { canonicalize, canonicalName, expectedShapes, checkShapes, countParams, describeArch } from './state-dict.ts';
export { detectArch, detectAndCheck } from './detect.ts';
export type { ArchOverrides } from './detect.ts';
export { checkpointFromBytes, resolveUpsamplerAlpha } from './checkpoint.ts';
export type { LoadedCheckpoint } from './checkpoint.ts';
