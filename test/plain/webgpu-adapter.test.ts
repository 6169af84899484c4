/**
 * The player's `auto` backend: WebGPU first only on a hardware adapter. A software one (SwiftShader,
 * llvmpipe/lavapipe, WARP, or any adapter flagged as a fallback) computes correctly but ran a frame
 * in 23 s where WASM plays at video rate, so `auto` takes WASM there and says why. The browser test
 * (test/browser/player.test.ts) checks the real SwiftShader adapter of Debian's Chromium; here the
 * descriptions browsers give for other adapters, through a `navigator.gpu` of our own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { autoBackends, isSoftwareAdapter, type GpuAdapterInfo } from '../../src/player/web/webgpu.ts';

const SOFTWARE: GpuAdapterInfo[] = [
  { vendor: 'google', architecture: 'swiftshader', device: '', description: '' },
  { vendor: '', architecture: '', device: '', description: 'SwiftShader Device (Subzero)' },
  { vendor: 'mesa', architecture: '', device: '', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' },
  { vendor: 'mesa', architecture: '', device: '', description: 'lavapipe' },
  { vendor: 'microsoft', architecture: '', device: '', description: 'Microsoft Basic Render Driver' },
  { vendor: 'nvidia', architecture: 'ampere', isFallbackAdapter: true },
];
const HARDWARE: GpuAdapterInfo[] = [
  { vendor: 'nvidia', architecture: 'ampere', device: '', description: 'NVIDIA GeForce RTX 3060' },
  { vendor: 'apple', architecture: 'metal-3', device: '', description: '' },
  { vendor: 'intel', architecture: 'gen-12lp', device: '', description: 'Intel(R) Iris(R) Xe Graphics' },
  { vendor: 'amd', architecture: 'rdna-2', isFallbackAdapter: false },
  { vendor: '', architecture: '', device: '', description: '' },
];

test('software adapters are told from hardware ones by the fallback flag and the rasteriser names', () => {
  for (const info of SOFTWARE) assert.equal(isSoftwareAdapter(info), true, JSON.stringify(info));
  for (const info of HARDWARE) assert.equal(isSoftwareAdapter(info), false, JSON.stringify(info));
  assert.equal(isSoftwareAdapter(undefined), false);
});

/** Run `autoBackends` with `navigator.gpu` answering `adapter` (undefined: no WebGPU at all). */
async function withGpu(adapter: object | null | undefined): Promise<Awaited<ReturnType<typeof autoBackends>>> {
  const had = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  const gpu = adapter === undefined ? undefined : { requestAdapter: async () => adapter, getPreferredCanvasFormat: () => 'bgra8unorm' };
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
  try {
    return await autoBackends();
  } finally {
    if (had) Object.defineProperty(globalThis, 'navigator', had);
    else delete (globalThis as { navigator?: unknown }).navigator;
  }
}

test("auto: WebGPU then WASM on a hardware adapter; WASM alone, with the reason, on a software one or without WebGPU", async () => {
  assert.deepEqual(await withGpu({ info: HARDWARE[0], features: new Set() }), { tries: ['webgpu', 'wasm'] });
  // Older Chrome: the info through requestAdapterInfo(), the fallback flag on the adapter.
  assert.deepEqual(await withGpu({ requestAdapterInfo: async () => HARDWARE[2], features: new Set() }), { tries: ['webgpu', 'wasm'] });
  const soft = await withGpu({ info: SOFTWARE[0], features: new Set() });
  assert.deepEqual(soft.tries, ['wasm']);
  assert.match(soft.why ?? '', /software adapter here \(google swiftshader\), slower than WASM; using WASM/);
  assert.deepEqual((await withGpu({ isFallbackAdapter: true, info: HARDWARE[1], features: new Set() })).tries, ['wasm']);
  assert.match((await withGpu(null)).why ?? '', /no adapter/);
  assert.match((await withGpu(undefined)).why ?? '', /not available/);
});
