/**
 * The few WebGPU types the player touches. TypeScript's DOM library has no WebGPU yet and the
 * project does not depend on @webgpu/types; these minimal shapes keep the code typed without it.
 */

/** GPUBufferUsage flags (WebGPU spec values). */
export const BufferUsage = { MAP_READ: 1, COPY_SRC: 4, COPY_DST: 8, UNIFORM: 64, STORAGE: 128 } as const;

/** GPUTextureUsage flags. */
export const TextureUsage = { COPY_SRC: 1, RENDER_ATTACHMENT: 16 } as const;

/** GPUMapMode.READ. */
export const MAP_READ = 1;

export interface GpuBuffer {
  readonly size: number;
  destroy(): void;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
}

export interface GpuTextureView {
  readonly __brand?: 'view';
}

export interface GpuTexture {
  createView(): GpuTextureView;
  destroy(): void;
}

export interface GpuRenderPass {
  setPipeline(p: unknown): void;
  setBindGroup(i: number, g: unknown): void;
  draw(vertices: number): void;
  end(): void;
}

export interface GpuComputePass {
  setPipeline(p: unknown): void;
  setBindGroup(i: number, g: unknown): void;
  dispatchWorkgroups(x: number, y?: number): void;
  end(): void;
}

export interface GpuCommandEncoder {
  beginComputePass(): GpuComputePass;
  copyBufferToBuffer(src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, size: number): void;
  copyTextureToBuffer(src: { texture: GpuTexture }, dst: { buffer: GpuBuffer; bytesPerRow: number }, size: [number, number]): void;
  beginRenderPass(d: { colorAttachments: { view: GpuTextureView; loadOp: 'clear' | 'load'; storeOp: 'store'; clearValue?: number[] }[] }): GpuRenderPass;
  finish(): unknown;
}

export interface GpuDevice {
  readonly queue: {
    submit(buffers: unknown[]): void;
    writeBuffer(b: GpuBuffer, offset: number, data: ArrayBufferView | ArrayBuffer): void;
    onSubmittedWorkDone(): Promise<void>;
  };
  readonly lost: Promise<{ message: string }>;
  /** Adapter description (Chrome 121+). */
  readonly adapterInfo?: GpuAdapterInfo;
  createBuffer(d: { size: number; usage: number }): GpuBuffer;
  createTexture(d: { size: [number, number]; format: string; usage: number }): GpuTexture;
  createShaderModule(d: { code: string }): unknown;
  createRenderPipeline(d: unknown): { getBindGroupLayout(i: number): unknown };
  createComputePipeline(d: unknown): { getBindGroupLayout(i: number): unknown };
  createBindGroup(d: { layout: unknown; entries: { binding: number; resource: { buffer: GpuBuffer } }[] }): unknown;
  createCommandEncoder(): GpuCommandEncoder;
}

export interface GpuCanvasContext {
  configure(c: { device: GpuDevice; format: string; alphaMode?: 'opaque' | 'premultiplied' }): void;
  getCurrentTexture(): GpuTexture;
}

/** GPUAdapterInfo (what a browser tells about the adapter; fields may be empty strings). */
export interface GpuAdapterInfo {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
  /** Chrome 133+: the adapter is a software fallback. */
  readonly isFallbackAdapter?: boolean;
}

export interface GpuAdapter {
  /** Chrome 127+ (`requestAdapterInfo()` before). */
  readonly info?: GpuAdapterInfo;
  requestAdapterInfo?(): Promise<GpuAdapterInfo>;
  /** The fallback flag as older Chrome had it, on the adapter. */
  readonly isFallbackAdapter?: boolean;
  readonly features: ReadonlySet<string>;
}

export interface Gpu {
  requestAdapter(o?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<GpuAdapter | null>;
  getPreferredCanvasFormat(): string;
}

/** `navigator.gpu`, when the browser has WebGPU. */
export const gpu = (): Gpu | undefined => (globalThis.navigator as { gpu?: Gpu } | undefined)?.gpu;

/** Names of software rasterisers in adapter descriptions (SwiftShader, Mesa's llvmpipe/lavapipe, WARP). */
const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b|software/i;

/**
 * True when WebGPU would run on the CPU: a fallback adapter, or one whose vendor, architecture,
 * device or description names a software rasteriser. Such an adapter computes correctly but far
 * slower than WASM does (a frame of the player's clips took 23 s on SwiftShader, at video rate on
 * WASM).
 */
export function isSoftwareAdapter(info: GpuAdapterInfo | undefined): boolean {
  if (!info) return false;
  return info.isFallbackAdapter === true || SOFTWARE.test([info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' '));
}

/** What {@link autoBackends} found: the backends to try in order, and why WebGPU is not first. */
export interface AutoChoice {
  readonly tries: readonly ('webgpu' | 'wasm')[];
  readonly why?: string;
}

/**
 * The backends `auto` tries: WebGPU first on a hardware adapter, else WASM only (no WebGPU, no
 * adapter, or a software one: asked for by name, WebGPU still runs there).
 */
export async function autoBackends(): Promise<AutoChoice> {
  const g = gpu();
  if (!g) return { tries: ['wasm'], why: 'WebGPU is not available in this browser; using WASM' };
  let adapter: GpuAdapter | null = null;
  try {
    adapter = await g.requestAdapter();
  } catch {
    adapter = null;
  }
  if (!adapter) return { tries: ['wasm'], why: 'WebGPU has no adapter here; using WASM' };
  const info: GpuAdapterInfo | undefined = adapter.info ?? (await adapter.requestAdapterInfo?.().catch(() => undefined));
  if (isSoftwareAdapter(adapter.isFallbackAdapter ? { ...info, isFallbackAdapter: true } : info)) {
    const name = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') || 'fallback adapter';
    return { tries: ['wasm'], why: `WebGPU runs on a software adapter here (${name}), slower than WASM; using WASM (choose WebGPU to use it anyway)` };
  }
  return { tries: ['webgpu', 'wasm'] };
}
