/**
 * What `paragon bench` measures and writes. One {@link BenchRow} per measured combination of
 * model × device × precision × mode × size; every report carries the {@link BenchEnv} it ran in,
 * because a number without its machine is not a result.
 */
import type { Device } from '../runtime/devices.ts';

/** fp32 or fp16 graph (fp16 = half-precision weights, I/O and compute). */
export type Precision = 'fp32' | 'fp16';

/** Standard graph (frame in, frame out) or video graph (frame + previous features in, features out). */
export type BenchMode = 'standard' | 'video';

/** A frame size, width × height as video resolutions are written. */
export interface FrameSize {
  readonly width: number;
  readonly height: number;
}

/** One combination to measure. */
export interface BenchCase {
  /** `--model` value: bundled name, .safetensors or .onnx path. */
  readonly model: string;
  readonly device: Device;
  readonly precision: Precision;
  readonly mode: BenchMode;
  readonly size: FrameSize;
}

/** How long to measure one combination. */
export interface MeasureOptions {
  /** Untimed runs after the first (default 2). */
  readonly warmup?: number;
  /** Runs at least this many timed runs unless the time budget runs out first (default 10). */
  readonly minRuns?: number;
  /** Never more than this many timed runs (default 200). */
  readonly maxRuns?: number;
  /** Seconds of timed runs after which the measurement stops once 3 runs exist (default 20). */
  readonly maxSeconds?: number;
  /** Stop once the 95% confidence interval of the median is within ± this fraction (default 0.02). */
  readonly targetCi?: number;
  /** ORT intra-op threads on CPU (default: the runtime's). */
  readonly threads?: number;
  /** History weight fed to video graphs (default 0.2, the pipeline's default). */
  readonly historyWeight?: number;
}

/** One measured combination (a JSON row). */
export interface BenchRow {
  readonly model: string;
  /** Variant from the model (realtime/stream/photo/pro), when known. */
  readonly variant: string | null;
  readonly scale: number;
  readonly device: Device;
  readonly precision: Precision;
  readonly mode: BenchMode;
  /** `WIDTHxHEIGHT` of the frame asked for. */
  readonly size: string;
  readonly width: number;
  readonly height: number;
  /** Size actually fed (photo/pro pad to a multiple of 16, as the pipeline does). */
  readonly inputSize: string;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly minMs: number;
  readonly meanMs: number;
  /** Frames per second at the median latency (one stream, batch 1). */
  readonly fps: number;
  /** The first run (session warm-up: allocations, shader or engine compilation). */
  readonly firstRunMs: number;
  readonly runs: number;
  /** Half-width of the median's 95% confidence interval, in % of the median. */
  readonly ciPct: number;
  /** False when the time budget ended the runs before the median was stable to the target. */
  readonly stable: boolean;
  /** Peak resident memory of the process that measured this combination alone (MB). */
  readonly peakRssMB: number;
  /** Resident memory before the model was loaded (node + onnxruntime baseline, MB). */
  readonly baseRssMB: number;
  /** GPU memory this process held (nvidia-smi), null where it cannot be read (CPU, WebGPU). */
  readonly peakGpuMB: number | null;
  /** Learned parameters of the model. */
  readonly params: number;
  /** Multiply-adds of the convolutions and matrix products per frame (FLOPs = 2 × MACs). */
  readonly macs: number | null;
  readonly gmacs: number | null;
  readonly gflops: number | null;
  /** Video rows: median latency over the standard row of the same model/device/precision/size, in %. */
  readonly videoOverheadPct?: number | null;
  /** Session options in effect (CPU threads, ...). */
  readonly options: Record<string, string | number>;
  /** Where it ran, in words (device + CPU/GPU name), so a copied row still says it. */
  readonly ranOn: string;
}

/** A combination that did not run, and why (one line). */
export interface SkippedCase {
  readonly model: string;
  readonly device: Device;
  readonly precision?: Precision;
  readonly mode?: BenchMode;
  readonly size?: string;
  readonly reason: string;
}

/** The machine and software a report was measured with. */
export interface BenchEnv {
  /** ISO date-time of the start of the run. */
  readonly date: string;
  readonly hostname: string;
  readonly os: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGB: number;
  /** NVIDIA GPUs (nvidia-smi), else []. */
  readonly gpus: string[];
  /** What backs WebGPU here when it is known (e.g. SwiftShader through VK_ICD_FILENAMES). */
  readonly webgpu: string;
  readonly node: string;
  readonly onnxruntime: string;
  readonly paragon: string;
  /** 1-minute load average when the run started: other work on the machine skews timings. */
  readonly loadAverage: number;
}

/** Per-stage timings of the end-to-end video pipeline (`--video FILE`). */
export interface PipelineResult {
  readonly file: string;
  readonly model: string;
  readonly device: string;
  readonly precision: Precision;
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  /**
   * Busy time per stage (decode, infer, encode overlap in the pipeline, so the slowest one sets
   * the pace; mux = the final join with the source's audio, once per file).
   */
  readonly stages: Record<string, { totalMs: number; perFrameMs: number }>;
  readonly wallMs: number;
  /** Frames per second end to end (wall clock, including model load and the final join). */
  readonly fps: number;
  readonly ranOn: string;
}

/** Everything `paragon bench` writes to `--json`. */
export interface BenchReport {
  readonly env: BenchEnv;
  readonly rows: BenchRow[];
  readonly skipped: SkippedCase[];
  readonly pipeline?: PipelineResult | { readonly skipped: string };
  /** The command line that produced it. */
  readonly command: string;
}
