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
  readonly adapterInfo?: { vendor: string; architecture: string; description: string };
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

export interface GpuAdapter {
  readonly info?: { vendor: string; architecture: string; description: string; isFallbackAdapter?: boolean };
  readonly features: ReadonlySet<string>;
}

export interface Gpu {
  requestAdapter(o?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<GpuAdapter | null>;
  getPreferredCanvasFormat(): string;
}

/** `navigator.gpu`, when the browser has WebGPU. */
export const gpu = (): Gpu | undefined => (globalThis.navigator as { gpu?: Gpu } | undefined)?.gpu;
