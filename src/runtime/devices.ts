/**
 * Execution devices: which onnxruntime execution providers to try, in which order, with which
 * options. ORT does not fall back by itself (`executionProviders: ['cuda', 'cpu']` fails outright
 * when the CUDA libraries are absent), so the session layer tries one candidate at a time.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { usageError } from '../errors.ts';

/** What `--device` accepts. */
export type DeviceRequest = 'auto' | Device;

/** A concrete execution provider. */
export type Device = 'cpu' | 'webgpu' | 'cuda' | 'tensorrt';

/** All values `--device` accepts. */
export const DEVICE_REQUESTS: readonly DeviceRequest[] = ['auto', 'cpu', 'webgpu', 'cuda', 'tensorrt'];

/** CPU tuning; defaults suit a machine the process has to itself. */
export interface CpuOptions {
  /** Threads inside one operator (default: every available core). */
  readonly intraOpThreads?: number;
  /** Threads across independent operators (default 1: these graphs are chains). */
  readonly interOpThreads?: number;
  /** ORT graph optimisation level (default 'all'). */
  readonly graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Whether idle ORT threads busy-wait for the next piece of work (ORT's own default) instead of
   * sleeping. Default off: spinning threads burn the cores that ffmpeg and the main thread need
   * between operators (a video run on 2 busy cores took 2.4× as long with it on; see
   * docs/benchmarks.md), and the model alone gains nothing measurable from it.
   */
  readonly spinning?: boolean;
}

/** Parse a `--device` value. */
export function parseDevice(value: string | undefined): DeviceRequest {
  const v = (value ?? 'auto').toLowerCase();
  if (!(DEVICE_REQUESTS as readonly string[]).includes(v)) {
    throw usageError(`--device ${value}: expected one of ${DEVICE_REQUESTS.join(', ')}`);
  }
  return v as DeviceRequest;
}

/**
 * True when a hardware GPU is likely to back WebGPU. On Linux that means a DRM render node, or
 * NVIDIA's own device nodes: its proprietary driver serves Vulkan without a render node on
 * headless servers and in VMs (seen on an H200, where WebGPU ran through it). A software Vulkan
 * (SwiftShader) is slower than the CPU provider, so `auto` skips it and it is used only when
 * asked for by name.
 */
export function hardwareWebGpuLikely(): boolean {
  if (process.platform === 'darwin' || process.platform === 'win32') return true;
  if (process.env.VK_ICD_FILENAMES?.includes('swiftshader')) return false;
  if (nvidiaLikely()) return true;
  try {
    return existsSync('/dev/dri') && readdirSync('/dev/dri').some((n) => n.startsWith('renderD'));
  } catch {
    return false;
  }
}

/** True when an NVIDIA driver is visible, so CUDA/TensorRT are worth trying under `auto`. */
function nvidiaLikely(): boolean {
  if (process.platform === 'win32') return true;
  return existsSync('/dev/nvidia0') || existsSync('/proc/driver/nvidia/version');
}

/**
 * The devices to try, in order, for a request. A named device is tried first and CPU after it
 * (the caller prints a one-line notice when it falls back); `auto` tries CUDA (only with an
 * NVIDIA driver), WebGPU (only with a hardware GPU), then CPU. TensorRT is never picked by
 * `auto`: it builds an engine per input shape (minutes each, and ORT's JS API exposes no engine
 * cache), which a folder of differently sized images or a tiled frame would pay again and again.
 */
export function deviceCandidates(request: DeviceRequest): Device[] {
  if (request === 'cpu') return ['cpu'];
  if (request !== 'auto') return [request, 'cpu'];
  const list: Device[] = [];
  if (nvidiaLikely()) list.push('cuda');
  if (hardwareWebGpuLikely()) list.push('webgpu');
  list.push('cpu');
  return list;
}

/** ORT session options for one device. */
export function sessionOptions(device: Device, cpu: CpuOptions = {}): InferenceSession.SessionOptions {
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const base: InferenceSession.SessionOptions = {
    graphOptimizationLevel: cpu.graphOptimizationLevel ?? 'all',
    intraOpNumThreads: Math.max(1, cpu.intraOpThreads ?? cores),
    interOpNumThreads: Math.max(1, cpu.interOpThreads ?? 1),
    executionMode: 'sequential',
    // Failures reach the caller as exceptions (and missing-provider attempts are expected): ORT's
    // own error log would only repeat them on stderr.
    logSeverityLevel: process.env.PARAGON_DEBUG ? 2 : 4,
    ...(cpu.spinning !== true ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } } : {}),
  };
  switch (device) {
    case 'cpu':
      return { ...base, executionProviders: ['cpu'] };
    case 'cuda':
      return { ...base, executionProviders: [{ name: 'cuda' }] };
    case 'tensorrt':
      // TensorRT leaves unsupported nodes to CUDA in the same session.
      return { ...base, executionProviders: [{ name: 'tensorrt' }, { name: 'cuda' }] };
    case 'webgpu':
      return { ...base, executionProviders: [{ name: 'webgpu' }] };
  }
}

/**
 * What to run to get onnxruntime-node's CUDA and TensorRT providers, when they are what is
 * missing: its npm package leaves them out (they come from the NuGet package
 * Microsoft.ML.OnnxRuntime.Gpu.Linux, linux/x64 only) and its install script, which would fetch
 * them, does not run here (package.json `allowScripts`: it needs the network on every install).
 * The command is that script, named by its absolute path so that it works from any folder.
 * Undefined for other devices and platforms, or when the providers are there (then CUDA itself,
 * cuDNN or TensorRT is what failed to load, and ORT's message says which).
 */
export function providerInstallHint(device: Device): string | undefined {
  if ((device !== 'cuda' && device !== 'tensorrt') || process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  let root: string;
  try {
    // dist/index.js → the package folder.
    root = path.dirname(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')));
  } catch {
    return undefined;
  }
  const lib = path.join(root, 'bin', 'napi-v6', 'linux', 'x64', `libonnxruntime_providers_${device}.so`);
  if (existsSync(lib)) return undefined;
  return `node ${path.join(root, 'script', 'install.js')} --onnxruntime-node-install=cuda12`;
}

/** True when an error from ORT reports an allocation failure (device or host memory). */
export function isOutOfMemory(e: unknown): boolean {
  const msg = e instanceof Error ? e.message : String(e);
  return /out of memory|bad_alloc|failed to allocate|allocation failed|cudaErrorMemoryAllocation|OOM\b/i.test(msg);
}

/**
 * An ORT error as one short line: the status message without the source path and C++ function
 * signature ORT prefixes it with ("Failed to allocate memory for requested buffer of size …").
 */
export function shortOrtMessage(e: unknown): string {
  let msg = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
  const status = /Status Message:\s*(.*)$/.exec(msg);
  if (status) msg = status[1]!;
  msg = msg.replace(/^\/\S+:\d+\s+/, '').replace(/^[^()]*\([^()]*\)(?:<lambda\(\)>)?\s+(?=[A-Z])/, '');
  return msg.replace(/^.*?\bwas false\.\s*/, '').slice(0, 200);
}
