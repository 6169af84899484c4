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

/** Name, element type and (possibly symbolic) shape of a model input or output. */
export interface ValueInfo {
  readonly name: string;
  readonly type: string;
  readonly shape: readonly (number | string)[];
}

/** Main thread → worker. */
export type Request =
  | { type: 'load'; model: Uint8Array; devices: Device[]; cpu: CpuOptions }
  | { type: 'run'; feeds: Record<string, WireTensor> }
  | { type: 'close' };

/** Worker → main thread, matched to a request by `id`. */
export type Reply =
  | { id: number; ok: false; message: string; oom: boolean; failures?: { device: string; message: string }[] }
  | {
      id: number;
      ok: true;
      device: Device;
      failures: { device: string; message: string }[];
      inputs: ValueInfo[];
      outputs: ValueInfo[];
    }
  | { id: number; ok: true; outputs: Record<string, WireTensor> }
  | { id: number; ok: true; closed: true };
