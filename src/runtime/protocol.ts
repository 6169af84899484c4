/**
 * Messages between the main thread (session.ts) and the session worker (worker.ts). Plain data
 * only: tensors cross as typed arrays whose buffers are transferred, not copied.
 */
import type { CpuOptions, Device } from './devices.ts';

/** Element types the runtime moves: float32, or float16 as raw IEEE half bits. */
export type WireType = 'float32' | 'float16';

/** A tensor on the wire. float16 data is a Uint16Array of half-precision bits. */
export interface WireTensor {
  readonly type: WireType;
  readonly data: Float32Array | Uint16Array;
  readonly dims: readonly number[];
}

/** An index input (int64), such as the warp head's pads and slice bounds (graph/warp-head.ts). */
export interface IndexTensor {
  readonly type: 'int64';
  readonly data: BigInt64Array;
  readonly dims: readonly number[];
}

/** Any input a run is fed: float data, or indices. */
export type FeedTensor = WireTensor | IndexTensor;

/** An output the runtime hands back as it is: a float tensor, or packed frame samples. */
export interface OutTensor {
  readonly type: WireType | 'uint8' | 'uint16';
  readonly data: Float32Array | Uint16Array | Uint8Array;
  readonly dims: readonly number[];
}

/** Name, element type and (possibly symbolic) shape of a model input or output. */
export interface ValueInfo {
  readonly name: string;
  readonly type: string;
  readonly shape: readonly (number | string)[];
}

/** Main thread → worker. */
export type Request =
  | { type: 'load'; model: Uint8Array; devices: Device[]; cpu: CpuOptions; resident?: readonly string[] }
  | { type: 'run'; feeds: Record<string, FeedTensor>; carry?: Carry; fetch?: string[]; into?: Record<string, ArrayBuffer> }
  | { type: 'take'; copy: boolean }
  | { type: 'close' };

/**
 * Feature state kept in the worker between runs (video mode): after a successful run the worker
 * keeps `output`; a later run that leaves `input` out of its feeds is fed the kept tensor. Saves
 * sending tens of megabytes both ways per frame and, above all, lets the main thread queue the
 * next frame before this one has finished. A failed run leaves the kept tensor as it was but
 * marks the chain broken: later runs that omit `input` fail (`broken`) until one feeds it again,
 * so no frame is ever fed a stale state.
 */
export interface Carry {
  readonly output: string;
  readonly input: string;
  /**
   * Check every output for NaN/Inf first: a non-finite result is not kept (the chain breaks, the
   * state before it stays for a rerun) and the reply says `nonFinite`. For fp16 models with an
   * fp32 fallback.
   */
  readonly guard?: boolean;
}

/** Worker → main thread, matched to a request by `id`. */
export type Reply =
  | {
      id: number;
      ok: false;
      message: string;
      oom: boolean;
      broken?: boolean;
      failures?: { device: string; message: string }[];
      /** A run's input buffers, handed back for reuse (they were transferred in). */
      inputs?: Record<string, FeedTensor>;
    }
  | {
      id: number;
      ok: true;
      device: Device;
      failures: { device: string; message: string }[];
      inputs: ValueInfo[];
      outputs: ValueInfo[];
      /** Thread ids of the worker and the threads its session started (Linux; else empty). */
      threads: number[];
    }
  | { id: number; ok: true; outputs: Record<string, OutTensor>; nonFinite?: boolean; inputs?: Record<string, FeedTensor> }
  | { id: number; ok: true; closed: true }
  /** Reply to `take`: the kept tensor (undefined when none). */
  | { id: number; ok: true; kept: WireTensor | undefined };
