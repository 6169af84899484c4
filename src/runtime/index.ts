/** The runtime layer: model resolution, worker-hosted ORT sessions with device fallback, tensor helpers. */
export { resolveModel, bundledModels, DEFAULT_MODEL, MODELS_DIR } from './model.ts';
export type { ResolvedModel, ResolveOptions } from './model.ts';
export type { ModelInfo, OnnxSignature } from './model-info.ts';
export { ModelSession } from './session.ts';
export type { SessionOptions } from './session.ts';
export { DEVICE_REQUESTS, deviceCandidates, parseDevice, sessionOptions, isOutOfMemory, shortOrtMessage } from './devices.ts';
export type { CpuOptions, Device, DeviceRequest } from './devices.ts';
export type { ValueInfo, WireTensor, WireType } from './protocol.ts';
export { toFloat16, fromFloat16, wire, float32Of, hasNonFinite } from './tensor.ts';
