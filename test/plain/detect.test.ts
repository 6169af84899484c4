/**
 * Architecture detection and checkpoint loading: the golden fixtures and official releases, a
 * synthetic state dict for every variant × scale (shapes from an independent table written here),
 * legacy names, and the errors for partial or mismatched checkpoints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { needShared, shared } from '../helpers/shared.ts';
import { ParagonError } from '../../src/errors.ts';
import { writeSafetensors } from '../../src/weights/safetensors.ts';
import { detectAndCheck, detectArch } from '../../src/weights/detect.ts';
import { canonicalize } from '../../src/weights/state-dict.ts';
import { loadCheckpoint } from '../../src/weights/load.ts';
import type { StateDict, Tensor, Variant } from '../../src/weights/types.ts';

const tensor = (shape: number[], fill = 0.5): Tensor => ({
  dtype: 'F32',
  shape,
  data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill),
});

/** Block tensors per variant as [suffix, shape(C)] — read off the reference module definitions. */
const BLOCK_TABLE: Record<Variant, [string, (c: number) => number[]][]> = {
  realtime: [
    ['conv1.weight', (c) => [2 * c, c, 1, 1]], ['conv1.bias', (c) => [2 * c]],
    ['dw.weight', (c) => [2 * c, 1, 3, 3]], ['dw.bias', (c) => [2 * c]],
    ['conv2.weight', (c) => [c, 2 * c, 1, 1]], ['conv2.bias', (c) => [c]],
    ['scale.gamma', (c) => [1, c, 1, 1]],
  ],
  stream: [
    ['dw1.weight', (c) => [c, 1, 3, 3]], ['dw1.bias', (c) => [c]],
    ['dw3.weight', (c) => [c, 1, 3, 3]], ['dw3.bias', (c) => [c]],
    ['fuse.weight', (c) => [c, 2 * c, 1, 1]], ['fuse.bias', (c) => [c]],
    ['proj.weight', (c) => [4 * c, c, 1, 1]], ['proj.bias', (c) => [4 * c]],
    ['gate.weight', (c) => [4 * c, 1, 3, 3]], ['gate.bias', (c) => [4 * c]],
    ['out.weight', (c) => [c, 2 * c, 1, 1]], ['out.bias', (c) => [c]],
    ['scale.gamma', (c) => [1, c, 1, 1]],
  ],
  photo: [
    ['norm.scale', (c) => [c, 1, 1]], ['norm.bias', (c) => [c, 1, 1]],
    ['conv1.weight', (c) => [2 * c, c, 1, 1]], ['conv1.bias', (c) => [2 * c]],
    ['dw.weight', (c) => [2 * c, 1, 3, 3]], ['dw.bias', (c) => [2 * c]],
    ['conv2.weight', (c) => [c, 2 * c, 1, 1]], ['conv2.bias', (c) => [c]],
    ['scale.gamma', (c) => [1, c, 1, 1]],
    ['attn_norm.scale', (c) => [c, 1, 1]], ['attn_norm.bias', (c) => [c, 1, 1]],
    ['attn.qkv.weight', (c) => [3 * c, c]], ['attn.qkv.bias', (c) => [3 * c]],
    ['attn.proj.weight', (c) => [c, c]], ['attn.proj.bias', (c) => [c]],
  ],
  pro: [
    ['norm1.scale', (c) => [c, 1, 1]], ['norm1.bias', (c) => [c, 1, 1]],
    ['conv1.weight', (c) => [2 * c, c, 1, 1]], ['conv1.bias', (c) => [2 * c]],
    ['dw.weight', (c) => [2 * c, 1, 3, 3]], ['dw.bias', (c) => [2 * c]],
    ['conv2.weight', (c) => [c, 2 * c, 1, 1]], ['conv2.bias', (c) => [c]],
    ['scale1.gamma', (c) => [1, c, 1, 1]],
    ['channel_attn.fc.0.weight', (c) => [c / 16, c]], ['channel_attn.fc.2.weight', (c) => [c, c / 16]],
    ['scale2.gamma', (c) => [1, c, 1, 1]],
    ['norm3.scale', (c) => [c, 1, 1]], ['norm3.bias', (c) => [c, 1, 1]],
    ['window_attn.qkv.weight', (c) => [3 * c, c]], ['window_attn.qkv.bias', (c) => [3 * c]],
    ['window_attn.proj.weight', (c) => [c, c]], ['window_attn.proj.bias', (c) => [c]],
    ['scale3.gamma', (c) => [1, c, 1, 1]],
    ['norm4.scale', (c) => [c, 1, 1]], ['norm4.bias', (c) => [c, 1, 1]],
    ['token_ca.token_dict', (c) => [1, 64, c]],
    ['token_ca.q_proj.weight', (c) => [16, c]], ['token_ca.q_proj.bias', () => [16]],
    ['token_ca.k_proj.weight', (c) => [16, c]], ['token_ca.k_proj.bias', () => [16]],
    ['token_ca.v_proj.weight', (c) => [c, c]], ['token_ca.v_proj.bias', (c) => [c]],
    ['token_ca.out_proj.weight', (c) => [c, c]], ['token_ca.out_proj.bias', (c) => [c]],
    ['scale4.gamma', (c) => [1, c, 1, 1]],
  ],
};

function synthetic(variant: Variant, scale: number, c: number, groups: number, blocks: number): StateDict {
  const sd: StateDict = new Map();
  const put = (k: string, s: number[]) => sd.set(k, tensor(s));
  put('detail_gain', []);
  put('base.sharp.kernel', [7]), put('base.sharp.h.weight', [3, 1, 1, 7]), put('base.sharp.v.weight', [3, 1, 7, 1]);
  put('base.blur.kernel', [5]), put('base.blur.h.weight', [3, 1, 1, 5]), put('base.blur.v.weight', [3, 1, 5, 1]);
  put('conv_in.weight', [c, 3, 3, 3]), put('conv_in.bias', [c]);
  for (let g = 0; g < groups; g++)
    for (let b = 0; b < blocks; b++) for (const [k, s] of BLOCK_TABLE[variant]) put(`body.${g}.blocks.${b}.${k}`, s(c));
  put('conv_mid.weight', [c, c, 3, 3]), put('conv_mid.bias', [c]);
  put('up.0.weight', [c * scale * scale, c, 3, 3]), put('up.0.bias', [c * scale * scale]);
  put('conv_out.weight', [3, c, 3, 3]), put('conv_out.bias', [3]);
  return sd;
}

const FACTORY: Record<Variant, [number, number, number]> = {
  realtime: [16, 1, 3],
  stream: [32, 2, 3],
  photo: [64, 4, 4],
  pro: [64, 6, 6],
};

function throwsWith(fn: () => unknown, code: number, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ParagonError, String(e));
    assert.equal(e.code, code, e.message);
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
    return true;
  });
}

test('synthetic state dicts: every variant x scale 1-4 (factory sizes) and odd sizes detect exactly', () => {
  for (const variant of Object.keys(FACTORY) as Variant[]) {
    const [c, g, b] = FACTORY[variant];
    for (let scale = 1; scale <= 4; scale++)
      assert.deepEqual(detectAndCheck(synthetic(variant, scale, c, g, b)), { variant, scale, channels: c, groups: g, blocks: b });
  }
  assert.deepEqual(detectAndCheck(synthetic('stream', 3, 24, 3, 1)), { variant: 'stream', scale: 3, channels: 24, groups: 3, blocks: 1 });
  assert.deepEqual(detectAndCheck(synthetic('pro', 2, 32, 1, 2)), { variant: 'pro', scale: 2, channels: 32, groups: 1, blocks: 2 });
});

test('missing, unexpected and wrong-shaped tensors are listed', () => {
  const sd = synthetic('photo', 2, 64, 4, 4);
  sd.delete('body.3.blocks.3.attn.qkv.weight');
  sd.delete('body.0.blocks.0.norm.bias');
  throwsWith(() => detectAndCheck(sd, {}, 'p.safetensors'), 3, 'p.safetensors', 'missing 2', 'body.3.blocks.3.attn.qkv.weight', 'body.0.blocks.0.norm.bias');
  sd.set('extra.weight', tensor([1]));
  sd.set('conv_mid.weight', tensor([64, 64, 1, 1]));
  throwsWith(() => detectAndCheck(sd), 3, 'missing 2', 'unexpected 1 (extra.weight)', 'wrong shape 1', 'conv_mid.weight [64,64,1,1] expected [64,64,3,3]');
  const one = synthetic('realtime', 2, 16, 1, 3);
  one.set('detail_gain', tensor([1]));
  throwsWith(() => detectAndCheck(one), 3, 'detail_gain [1] expected []');
  // A block removed from one group only: groups disagree on their block count.
  const uneven = synthetic('stream', 2, 32, 2, 3);
  for (const k of [...uneven.keys()]) if (k.startsWith('body.1.blocks.2.')) uneven.delete(k);
  throwsWith(() => detectArch(uneven), 3, 'group 1 has 2 blocks', 'group 0 has 3');
  // A gap in the block indices is a partial model, caught by the shape comparison.
  const gap = synthetic('realtime', 2, 16, 1, 3);
  for (const k of [...gap.keys()]) if (k.startsWith('body.0.blocks.1.')) gap.delete(k);
  throwsWith(() => detectAndCheck(gap), 3, 'missing 7', 'body.0.blocks.1.conv1.weight');
});

test('scale must be an integer 1-4 and the checkpoint must look like ParagonSR2', () => {
  const sd = synthetic('realtime', 2, 16, 1, 3);
  sd.set('up.0.weight', tensor([16 * 5, 16, 3, 3]));
  throwsWith(() => detectArch(sd), 3, 'up.0.weight', '80 outputs');
  sd.set('up.0.weight', tensor([16 * 25, 16, 3, 3]));
  throwsWith(() => detectArch(sd), 3, 'up.0.weight', 'scale 1–4');
  const noIn = synthetic('realtime', 2, 16, 1, 3);
  noIn.delete('conv_in.weight');
  throwsWith(() => detectArch(noIn), 3, "no 'conv_in.weight'");
  const odd = synthetic('realtime', 2, 16, 1, 3);
  for (const k of [...odd.keys()]) if (k.includes('.blocks.')) odd.set(k.replace('.dw.', '.foo.'), odd.get(k)!), odd.delete(k);
  throwsWith(() => detectArch(odd), 3, 'cannot tell the variant', 'foo');
});

test('overrides that disagree with detection are rejected, saying what was detected', () => {
  const sd = synthetic('realtime', 2, 16, 1, 3);
  assert.equal(detectAndCheck(sd, { variant: 'realtime', scale: 2 }).scale, 2);
  throwsWith(() => detectAndCheck(sd, { variant: 'stream' }, 'r.safetensors'), 2, 'r.safetensors', '--variant stream', 'realtime');
  throwsWith(() => detectAndCheck(sd, { scale: 4 }), 2, '--scale 4', 'x2');
});

interface Case {
  name: string;
  variant: Variant;
  scale: number;
  params: number;
  upsampler_alpha: number;
  feature_channels: number;
  weights: string;
}
const manifest = (): Case[] => JSON.parse(readFileSync(shared('golden', 'manifest.json'), 'utf8')) as Case[];

test('golden weights: variant, scale, channels, params and upsampler alpha as the manifest says', { skip: needShared('golden') }, async () => {
  for (const c of manifest()) {
    const ck = await loadCheckpoint(shared('golden', c.weights));
    assert.equal(ck.arch.variant, c.variant, c.name);
    assert.equal(ck.arch.scale, c.scale, c.name);
    assert.equal(ck.arch.channels, c.feature_channels, c.name);
    assert.equal(ck.params, c.params, c.name);
    assert.equal(ck.upsamplerAlpha, c.upsampler_alpha, c.name);
    assert.equal(ck.official, undefined);
    assert.equal(ck.metadata.get('arch'), `paragonsr2_${c.variant}`);
  }
});

const V11 = shared('models', 'paragonsr2-v11');
test('official v11 releases are detected and recognised by hash (upsampler alpha 0)', { skip: needShared('models', 'paragonsr2-v11') }, async () => {
  const want: [string, Variant, number, string][] = [
    ['Realtime', 'realtime', 16, '887099be7a521817df20573d1c09fddb79a09a37d22048ebe80b2a88ac3b4fbb'],
    ['Stream', 'stream', 32, 'cdf82e2dc32254853d964651d7107363adf5cc4576a0b043ad8f90ae17644308'],
    ['Photo', 'photo', 64, '7c02c13b7f8fafed3f819d7ab7939c15d585e48a9f769a9825e05f028fdf25a0'],
  ];
  for (const [name, variant, c, sha] of want) {
    const ck = await loadCheckpoint(path.join(V11, `2xParagonSR2_${name}_fidelity.safetensors`));
    assert.equal(ck.sha256, sha);
    assert.equal(ck.official, variant);
    assert.deepEqual({ ...ck.arch }, { variant, scale: 2, channels: c, groups: FACTORY[variant][1], blocks: FACTORY[variant][2] });
    assert.equal(ck.upsamplerAlpha, 0);
  }
});

/** Reference names → the names older traiNNer checkpoints used. */
function toLegacy(name: string): string {
  return (
    'module.' +
    name
      .replace(/^base\.blur\./, 'base_upsampler.resample_conv.')
      .replace(/^base\.sharp\./, 'base_upsampler.sharpen.')
      .replace(/^detail_gain$/, 'global_detail_gain')
      .replace(/^conv_mid\./, 'conv_fuse.')
      .replace(/^up\.0\./, 'detail_upsampler.up_conv.')
      .replace(/\.blocks\.(\d+)\.conv1\./, '.blocks.$1.net.0.')
      .replace(/\.blocks\.(\d+)\.dw\./, '.blocks.$1.net.2.')
      .replace(/\.blocks\.(\d+)\.conv2\./, '.blocks.$1.net.4.')
  );
}

test('legacy-named and params_ema-wrapped checkpoints load identically', { skip: needShared('golden') }, async () => {
  const ref = await loadCheckpoint(shared('golden', 'realtime_x2.weights.safetensors'));
  const dir = await mkdtemp(path.join(tmpdir(), 'paragon-detect-'));
  try {
    const legacy = [...ref.stateDict].map(([k, t]) => [toLegacy(k), t] as [string, Tensor]);
    assert.ok(legacy.some(([k]) => k.includes('.net.2.')) && legacy.every(([k]) => k.startsWith('module.')));
    await writeFile(path.join(dir, 'legacy.safetensors'), writeSafetensors(legacy));
    const old = await loadCheckpoint(path.join(dir, 'legacy.safetensors'));
    assert.deepEqual(old.arch, ref.arch);
    assert.equal(old.params, ref.params);
    assert.deepEqual([...old.stateDict.keys()].sort(), [...ref.stateDict.keys()].sort());
    for (const [k, t] of ref.stateDict) assert.deepEqual(old.stateDict.get(k)!.data, t.data, k);

    // traiNNer wraps both the raw and the EMA weights: the EMA ones win.
    const wrapped = [
      ...[...ref.stateDict].map(([k, t]) => [`params.${k}`, { ...t, data: t.data.map(() => 0) }] as [string, Tensor]),
      ...[...ref.stateDict].map(([k, t]) => [`params_ema.${k}`, t] as [string, Tensor]),
    ];
    const sd = canonicalize(new Map(wrapped));
    assert.equal(sd.size, ref.stateDict.size);
    assert.deepEqual(sd.get('conv_in.weight')!.data, ref.stateDict.get('conv_in.weight')!.data);

    // Two names for one tensor is ambiguous, not "last one wins".
    const clash = new Map([['conv_mid.weight', tensor([1])], ['conv_fuse.weight', tensor([1])]]);
    throwsWith(() => canonicalize(clash, 'c.safetensors'), 3, 'conv_mid.weight', 'conv_fuse.weight');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('upsampler_alpha metadata, pickles and partial files through loadCheckpoint', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'paragon-detect-'));
  try {
    const sd = [...synthetic('stream', 4, 8, 1, 2)];
    const f = (n: string) => path.join(dir, n);
    await writeFile(f('a.safetensors'), writeSafetensors(sd, { upsampler_alpha: '0.25' }));
    const a = await loadCheckpoint(f('a.safetensors'));
    assert.deepEqual({ ...a.arch }, { variant: 'stream', scale: 4, channels: 8, groups: 1, blocks: 2 });
    assert.equal(a.upsamplerAlpha, 0.25);
    await writeFile(f('d.safetensors'), writeSafetensors(sd));
    assert.equal((await loadCheckpoint(f('d.safetensors'))).upsamplerAlpha, 0.0); // stream default
    await writeFile(f('bad.safetensors'), writeSafetensors(sd, { upsampler_alpha: 'strong' }));
    await assert.rejects(loadCheckpoint(f('bad.safetensors')), /bad\.safetensors: .*upsampler_alpha 'strong'/);
    await writeFile(f('m.pth'), new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0, 0]));
    await assert.rejects(loadCheckpoint(f('m.pth')), (e: unknown) => e instanceof ParagonError && e.code === 3 && /pickle/.test(e.message));
    await writeFile(f('p.safetensors'), writeSafetensors(sd.filter(([k]) => k !== 'conv_out.bias')));
    await assert.rejects(loadCheckpoint(f('p.safetensors'), { scale: 4 }), /p\.safetensors: .*missing 1 \(conv_out\.bias\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
