/**
 * Drawing upscaled frames. On WebGPU the model's output buffer is drawn straight into a WebGPU
 * canvas by a tiny shader (planar float → pixels), so a frame goes decode → upload → inference →
 * screen with only the input crossing to the GPU. On a software adapter (SwiftShader, as in
 * headless Chromium) presenting a WebGPU canvas fails and takes the whole GPU instance down with
 * it, so there a compute shader packs the pixels to RGBA8 on the GPU and only those bytes are read
 * back into a 2D canvas. Without WebGPU (WASM backend) the planar output is converted on the CPU.
 */
import { planarOf, type UpscaledFrame } from './upscaler.ts';
import { rgbaFromPlanar } from './frames.ts';
import { BufferUsage, MAP_READ, TextureUsage, gpu, isSoftwareAdapter, type GpuBuffer, type GpuCanvasContext, type GpuDevice, type GpuTexture } from './webgpu.ts';

/** Something that shows upscaled frames in a canvas. */
export interface FrameView {
  readonly canvas: HTMLCanvasElement;
  /** Draw the frame (it stays owned by the caller). With `capture`, return the drawn pixels. */
  draw(frame: UpscaledFrame, capture?: boolean): Promise<ImageData | undefined>;
}

const SHADER = /* wgsl */ `
struct Params { width: u32, height: u32, stride: u32, plane: u32 };
@group(0) @binding(0) var<storage, read> img: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;

@vertex fn vs(@builtin(vertex_index) i: u32) -> @builtin(position) vec4f {
  // One triangle covering the viewport.
  let xy = vec2f(f32((i << 1u) & 2u), f32(i & 2u));
  return vec4f(xy * 2.0 - 1.0, 0.0, 1.0);
}

@fragment fn fs(@builtin(position) pos: vec4f) -> @location(0) vec4f {
  let x = min(u32(pos.x), p.width - 1u);
  let y = min(u32(pos.y), p.height - 1u);
  let i = y * p.stride + x;
  let c = vec3f(img[i], img[p.plane + i], img[2u * p.plane + i]);
  // NaN shows as black, as the Node encoder writes it.
  return vec4f(select(clamp(c, vec3f(0.0), vec3f(1.0)), vec3f(0.0), c != c), 1.0);
}`;

/**
 * Draws from the GPU buffer of the output tensor into a WebGPU canvas. With `offscreen`, the same
 * pipeline renders into a texture that is read back into a 2D canvas instead: how the render
 * shader is tested where canvas presentation is unusable (SwiftShader).
 */
export class GpuFrameView implements FrameView {
  readonly canvas: HTMLCanvasElement;
  readonly #device: GpuDevice;
  readonly #ctx: GpuCanvasContext | undefined;
  readonly #ctx2d: CanvasRenderingContext2D | undefined;
  readonly #pipeline: ReturnType<GpuDevice['createRenderPipeline']>;
  readonly #params: GpuBuffer;
  #staging: GpuBuffer | undefined;
  #target: { texture: GpuTexture; read: GpuBuffer; w: number; h: number; row: number } | undefined;

  constructor(canvas: HTMLCanvasElement, device: GpuDevice, offscreen = false) {
    this.canvas = canvas;
    this.#device = device;
    const format = offscreen ? 'rgba8unorm' : gpu()!.getPreferredCanvasFormat();
    if (offscreen) this.#ctx2d = canvas.getContext('2d', { alpha: false })!;
    else {
      this.#ctx = canvas.getContext('webgpu' as '2d') as unknown as GpuCanvasContext;
      this.#ctx.configure({ device, format, alphaMode: 'opaque' });
    }
    const module = device.createShaderModule({ code: SHADER });
    this.#pipeline = device.createRenderPipeline({
      layout: 'auto',
      vertex: { module, entryPoint: 'vs' },
      fragment: { module, entryPoint: 'fs', targets: [{ format }] },
      primitive: { topology: 'triangle-list' },
    });
    this.#params = device.createBuffer({ size: 16, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
  }

  async draw(frame: UpscaledFrame, capture = false): Promise<ImageData | undefined> {
    const t = frame.tensor;
    let buffer: GpuBuffer;
    if (t.location === 'gpu-buffer' && t.type === 'float32') buffer = t.gpuBuffer as unknown as GpuBuffer;
    else {
      // Half-precision or CPU output: upload the float32 planes once.
      const data = await planarOf({ ...frame, width: frame.stride, height: frame.rows });
      if (!this.#staging || this.#staging.size < data.byteLength) {
        this.#staging?.destroy();
        this.#staging = this.#device.createBuffer({ size: data.byteLength, usage: BufferUsage.STORAGE | BufferUsage.COPY_DST });
      }
      this.#device.queue.writeBuffer(this.#staging, 0, data);
      buffer = this.#staging;
    }
    const { width: w, height: h } = frame;
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.#device.queue.writeBuffer(this.#params, 0, Uint32Array.of(w, h, frame.stride, frame.stride * frame.rows));
    const bind = this.#device.createBindGroup({
      layout: this.#pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer } },
        { binding: 1, resource: { buffer: this.#params } },
      ],
    });
    const target = this.#ctx2d ? this.#offscreen(w, h) : undefined;
    const enc = this.#device.createCommandEncoder();
    const view = (target?.texture ?? this.#ctx!.getCurrentTexture()).createView();
    const pass = enc.beginRenderPass({ colorAttachments: [{ view, loadOp: 'clear', storeOp: 'store', clearValue: [0, 0, 0, 1] }] });
    pass.setPipeline(this.#pipeline);
    pass.setBindGroup(0, bind);
    pass.draw(3);
    pass.end();
    if (target) enc.copyTextureToBuffer({ texture: target.texture }, { buffer: target.read, bytesPerRow: target.row }, [w, h]);
    this.#device.queue.submit([enc.finish()]);
    if (target) {
      await target.read.mapAsync(MAP_READ);
      const src = new Uint8Array(target.read.getMappedRange());
      const img = new ImageData(w, h);
      for (let y = 0; y < h; y++) img.data.set(src.subarray(y * target.row, y * target.row + 4 * w), 4 * w * y);
      target.read.unmap();
      this.#ctx2d!.putImageData(img, 0, 0);
      return capture ? img : undefined;
    }
    // The canvas texture is readable until this task ends (then it is presented): copy it now.
    const image = capture ? copyCanvas(this.canvas) : undefined;
    // Wait for the GPU to finish the frame (inference included): honest latency, and playback
    // drops frames when the GPU falls behind instead of queueing work without bound.
    await this.#device.queue.onSubmittedWorkDone();
    return image;
  }

  /** The offscreen render target and its read-back buffer (rows padded to 256 bytes), per size. */
  #offscreen(w: number, h: number) {
    if (this.#target?.w === w && this.#target.h === h) return this.#target;
    this.#target?.texture.destroy();
    this.#target?.read.destroy();
    const row = Math.ceil((4 * w) / 256) * 256;
    this.#target = {
      texture: this.#device.createTexture({ size: [w, h], format: 'rgba8unorm', usage: TextureUsage.RENDER_ATTACHMENT | TextureUsage.COPY_SRC }),
      read: this.#device.createBuffer({ size: row * h, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST }),
      w,
      h,
      row,
    };
    return this.#target;
  }
}

const PACK = /* wgsl */ `
struct Params { width: u32, height: u32, stride: u32, plane: u32 };
@group(0) @binding(0) var<storage, read> img: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read_write> rgba: array<u32>;

@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  let k = id.x;
  if (k >= p.width * p.height) { return; }
  let i = (k / p.width) * p.stride + k % p.width;
  let c = vec3f(img[i], img[p.plane + i], img[2u * p.plane + i]);
  // pack4x8unorm clamps and rounds half up, like the Node encoder; NaN shows as black.
  rgba[k] = pack4x8unorm(vec4f(select(c, vec3f(0.0), c != c), 1.0));
}`;

/** WebGPU output packed to RGBA8 on the GPU, read back into a 2D canvas (software adapters). */
export class GpuReadbackView implements FrameView {
  readonly canvas: HTMLCanvasElement;
  readonly #device: GpuDevice;
  readonly #ctx: CanvasRenderingContext2D;
  readonly #pipeline: ReturnType<GpuDevice['createComputePipeline']>;
  readonly #params: GpuBuffer;
  #packed: GpuBuffer | undefined;
  #read: GpuBuffer | undefined;

  constructor(canvas: HTMLCanvasElement, device: GpuDevice) {
    this.canvas = canvas;
    this.#device = device;
    this.#ctx = canvas.getContext('2d', { alpha: false })!;
    this.#pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: PACK }), entryPoint: 'main' } });
    this.#params = device.createBuffer({ size: 16, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
  }

  async draw(frame: UpscaledFrame, capture = false): Promise<ImageData | undefined> {
    const t = frame.tensor;
    if (t.location !== 'gpu-buffer' || t.type !== 'float32') return new CanvasFrameView(this.canvas, this.#ctx).draw(frame, capture);
    const n = frame.width * frame.height;
    const bytes = n * 4;
    if (!this.#packed || this.#packed.size < bytes) {
      this.#packed?.destroy();
      this.#read?.destroy();
      this.#packed = this.#device.createBuffer({ size: bytes, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC });
      this.#read = this.#device.createBuffer({ size: bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    }
    this.#device.queue.writeBuffer(this.#params, 0, Uint32Array.of(frame.width, frame.height, frame.stride, frame.stride * frame.rows));
    const bind = this.#device.createBindGroup({
      layout: this.#pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: t.gpuBuffer as unknown as GpuBuffer } },
        { binding: 1, resource: { buffer: this.#params } },
        { binding: 2, resource: { buffer: this.#packed } },
      ],
    });
    const enc = this.#device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(this.#pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(Math.ceil(n / 64));
    pass.end();
    enc.copyBufferToBuffer(this.#packed, 0, this.#read!, 0, bytes);
    this.#device.queue.submit([enc.finish()]);
    const read = this.#read!;
    await read.mapAsync(MAP_READ, 0, bytes);
    const img = new ImageData(frame.width, frame.height);
    img.data.set(new Uint8Array(read.getMappedRange(0, bytes)));
    read.unmap();
    if (this.canvas.width !== frame.width || this.canvas.height !== frame.height) {
      this.canvas.width = frame.width;
      this.canvas.height = frame.height;
    }
    this.#ctx.putImageData(img, 0, 0);
    return capture ? img : undefined;
  }
}

/** True when WebGPU runs on a software adapter, where canvas presentation is unusable. */
export function softwareAdapter(device: GpuDevice): boolean {
  return isSoftwareAdapter(device.adapterInfo);
}

/** Draws CPU output into a 2D canvas. */
export class CanvasFrameView implements FrameView {
  readonly canvas: HTMLCanvasElement;
  readonly #ctx: CanvasRenderingContext2D;

  constructor(canvas: HTMLCanvasElement, ctx?: CanvasRenderingContext2D) {
    this.canvas = canvas;
    this.#ctx = ctx ?? canvas.getContext('2d', { alpha: false })!;
  }

  async draw(frame: UpscaledFrame, capture = false): Promise<ImageData | undefined> {
    const rgb = await planarOf(frame);
    if (this.canvas.width !== frame.width || this.canvas.height !== frame.height) {
      this.canvas.width = frame.width;
      this.canvas.height = frame.height;
    }
    const img = new ImageData(rgbaFromPlanar(rgb, frame.width, frame.height), frame.width, frame.height);
    this.#ctx.putImageData(img, 0, 0);
    return capture ? img : undefined;
  }
}

/** The pixels a canvas shows, through a 2D copy. */
function copyCanvas(canvas: HTMLCanvasElement): ImageData {
  const c = new OffscreenCanvas(canvas.width, canvas.height);
  const ctx = c.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(canvas, 0, 0);
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}

/** The original frame scaled classically (the browser's high-quality smoothing) to the upscaled size. */
export function drawOriginal(target: HTMLCanvasElement, source: OffscreenCanvas, width: number, height: number): void {
  if (target.width !== width || target.height !== height) {
    target.width = width;
    target.height = height;
  }
  const ctx = target.getContext('2d', { alpha: false })!;
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, 0, 0, width, height);
}
