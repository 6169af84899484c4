/**
 * The machine a benchmark runs on: CPU, memory, GPUs, software versions, load — recorded with
 * every result — and the memory probes (process RSS, NVIDIA GPU memory where nvidia-smi can say).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import { PARAGON_VERSION } from '../graph/model.ts';
import type { Device } from '../runtime/devices.ts';
import type { BenchEnv } from './types.ts';

const require = createRequire(import.meta.url);

/** Installed onnxruntime-node version (from its package.json, without loading the native addon). */
export function onnxruntimeVersion(): string {
  try {
    return (require('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Run nvidia-smi with a query; undefined when it is absent or fails (no NVIDIA driver). */
function nvidiaSmi(args: string[]): string | undefined {
  try {
    return execFileSync('nvidia-smi', args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

/** NVIDIA GPUs as "name (memory MiB, driver X)". */
export function nvidiaGpus(): string[] {
  const out = nvidiaSmi(['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader,nounits']);
  if (!out) return [];
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name, mem, driver] = l.split(',').map((s) => s.trim());
      return `${name} (${mem} MiB, driver ${driver})`;
    });
}

/** GPU memory (MiB) held by process `pid` according to nvidia-smi; null when not readable. */
export function gpuMemoryMB(pid = process.pid): number | null {
  const out = nvidiaSmi(['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits']);
  if (out === undefined) return null;
  let total = 0;
  for (const line of out.trim().split('\n')) {
    const [p, mem] = line.split(',').map((s) => s.trim());
    if (Number(p) === pid && Number.isFinite(Number(mem))) total += Number(mem);
  }
  return total;
}

/** What backs WebGPU in this process, as far as can be told without creating a device. */
export function webgpuBackend(): string {
  const icd = process.env.VK_ICD_FILENAMES;
  if (icd?.includes('swiftshader')) return `SwiftShader software Vulkan (VK_ICD_FILENAMES=${icd})`;
  if (icd) return `Vulkan ICD ${icd}`;
  if (process.platform === 'linux' && !existsSync('/dev/dri') && !existsSync('/dev/nvidia0')) return 'no GPU device nodes (/dev/dri and /dev/nvidia0 absent)';
  return 'system default adapter';
}

/** The CPU model name (first core). */
export function cpuModel(): string {
  const c = os.cpus()[0];
  return c ? `${c.model.trim()}${c.speed ? ` @ ${c.speed} MHz` : ''}` : 'unknown CPU';
}

/** Description of this machine and software, for a report. */
export function benchEnv(date = new Date()): BenchEnv {
  return {
    date: date.toISOString(),
    hostname: os.hostname(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: cpuModel(),
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memoryGB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    gpus: nvidiaGpus(),
    webgpu: webgpuBackend(),
    node: process.version,
    onnxruntime: onnxruntimeVersion(),
    paragon: PARAGON_VERSION,
    loadAverage: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

/** Where a row ran, in words: the device and the hardware behind it. */
export function ranOn(device: Device, env: Pick<BenchEnv, 'cpu' | 'cores' | 'gpus' | 'webgpu'>): string {
  switch (device) {
    case 'cpu':
      return `CPU: ${env.cpu}, ${env.cores} cores`;
    case 'webgpu':
      return `WebGPU: ${env.webgpu}`;
    case 'cuda':
    case 'tensorrt':
      return `${device === 'cuda' ? 'CUDA' : 'TensorRT'}: ${env.gpus[0] ?? 'NVIDIA GPU'}`;
  }
}

/**
 * Samples the process RSS every `everyMs` while running, so a peak is seen even when the process
 * measures several things (in one process, `resourceUsage().maxRSS` only ever grows).
 */
export class RssSampler {
  #peak = process.memoryUsage.rss();
  readonly #timer: NodeJS.Timeout;

  constructor(everyMs = 10) {
    this.#timer = setInterval(() => {
      this.#peak = Math.max(this.#peak, process.memoryUsage.rss());
    }, everyMs);
    this.#timer.unref();
  }

  /** Stop sampling; the peak RSS seen, in MB. */
  stop(): number {
    clearInterval(this.#timer);
    this.#peak = Math.max(this.#peak, process.memoryUsage.rss());
    return this.#peak / 2 ** 20;
  }
}
