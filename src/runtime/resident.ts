/**
 * Outputs that stay on the device between runs. On WebGPU the video graph's feature state (16–64
 * channels at the input's size: 15 MB a frame at 640×360) would otherwise be read back after
 * every run and written again before the next; measured on an H200 that round trip took two
 * thirds of a Realtime frame (docs/gpu.md). With `preferredOutputLocation: 'gpu-buffer'` ORT
 * leaves the output in a GPU buffer, and the next run takes that tensor as its input as it is.
 * Worker-side only (onnxruntime-node).
 */
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../graph/builder.ts';
import { DataType } from '../graph/onnx-proto.ts';
import { sessionOptions, type CpuOptions, type Device } from './devices.ts';

/** True for a tensor whose data lives on the device (a WebGPU buffer), not in JavaScript memory. */
export const onDevice = (t: ort.Tensor): boolean => t.location !== 'cpu';

/** Free a device tensor's buffer now (CPU tensors are left to the garbage collector). */
export function release(t: ort.Tensor | undefined): void {
  if (t && onDevice(t)) t.dispose();
}

/**
 * Session options for `device`, keeping the outputs `resident` on the device where the device
 * allows it (WebGPU); elsewhere the plain options (CPU outputs are JavaScript memory already, and
 * onnxruntime-node has no device location for CUDA or TensorRT outputs).
 */
export function residentSessionOptions(device: Device, cpu: CpuOptions, resident: readonly string[] = []): ort.InferenceSession.SessionOptions {
  const base = sessionOptions(device, cpu);
  if (device !== 'webgpu' || resident.length === 0) return base;
  return { ...base, preferredOutputLocation: Object.fromEntries(resident.map((n) => [n, 'gpu-buffer' as const])) };
}

/**
 * Copies device tensors to the CPU. `Tensor.getData()` of a WebGPU tensor aborts the whole
 * process in onnxruntime-node 1.30 (a C++ exception nothing catches, seen on SwiftShader), so the
 * copy is made by ORT itself: an Identity graph on the same device, whose output is left on the
 * CPU. The sessions of one process share ORT's WebGPU device, so this session reads the model
 * session's buffer directly. One small session per element type and rank, made when first needed.
 */
export class Downloader {
  readonly #sessions = new Map<string, Promise<ort.InferenceSession>>();
  readonly #device: Device;
  readonly #cpu: CpuOptions;

  constructor(device: Device, cpu: CpuOptions) {
    this.#device = device;
    this.#cpu = cpu;
  }

  /** `t` itself when it is on the CPU; else a CPU copy (`t` is left as it is). */
  async toCpu(t: ort.Tensor): Promise<ort.Tensor> {
    if (!onDevice(t)) return t;
    if (t.type !== 'float32' && t.type !== 'float16') throw new Error(`cannot read back a ${t.type} tensor from the device`);
    const key = `${t.type}/${t.dims.length}`;
    let s = this.#sessions.get(key);
    if (!s) {
      s = ort.InferenceSession.create(identityGraph(t.type === 'float16' ? DataType.FLOAT16 : DataType.FLOAT, t.dims.length), sessionOptions(this.#device, this.#cpu));
      this.#sessions.set(key, s);
    }
    const out = await (await s).run({ state: t });
    return out.copy!;
  }

  /** Release the copying sessions. */
  async close(): Promise<void> {
    const all = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const s of all) await (await s.catch(() => undefined))?.release();
  }
}

/** state → copy, of any shape of that rank. */
function identityGraph(elemType: number, rank: number): Uint8Array {
  const g = new GraphBuilder(elemType === DataType.FLOAT16);
  const dims = Array.from({ length: rank }, (_, i) => `d${i}`);
  g.output('copy', g.input('state', elemType, dims), elemType, dims);
  return g.encode([], 'resident');
}
