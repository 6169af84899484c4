/**
 * State-dict names and shapes: legacy traiNNer names normalised to the reference names, the full
 * key → shape list an {@link ArchSpec} implies, and the comparison of the two. A checkpoint must
 * match its architecture exactly: a partial model would convert to a graph that runs and produces
 * plausible but wrong images, which is worse than failing.
 */
import { modelError } from '../errors.ts';
import type { ArchSpec, StateDict, Tensor } from './types.ts';

/** Prefix renames from older ParagonSR2 revisions (after wrapper prefixes are stripped). */
const LEGACY_PREFIXES: readonly (readonly [string, string])[] = [
  ['base_upsampler.resample_conv.', 'base.blur.'],
  ['base_upsampler.sharpen.', 'base.sharp.'],
  ['global_detail_gain', 'detail_gain'],
  ['conv_fuse.', 'conv_mid.'],
  ['detail_upsampler.up_conv.', 'up.0.'],
];
/** Old blocks were an nn.Sequential: net.0 / net.2 / net.4 are conv1 / dw / conv2 (1, 3 were GELU etc.). */
const LEGACY_BLOCK = /^(body\.\d+\.blocks\.\d+\.)net\.([024])\./;
const BLOCK_NET: Record<string, string> = { '0': 'conv1', '2': 'dw', '4': 'conv2' };

/** Canonical name of one state-dict key (wrapper prefixes already removed). */
export function canonicalName(name: string): string {
  let n = name.startsWith('module.') ? name.slice(7) : name;
  for (const [from, to] of LEGACY_PREFIXES) if (n.startsWith(from)) n = to + n.slice(from.length);
  return n.replace(LEGACY_BLOCK, (_, block: string, i: string) => `${block}${BLOCK_NET[i]}.`);
}

/**
 * Normalise a state dict to the reference names: unwrap traiNNer `params_ema.` / `params.`
 * containers (preferring the EMA weights, which is what releases use), strip DataParallel
 * `module.`, and apply the legacy renames. Two keys that land on one name are an error.
 */
export function canonicalize(sd: StateDict, file = '<state dict>'): StateDict {
  const keys = [...sd.keys()];
  const wrapper = ['params_ema.', 'params.'].find((p) => keys.some((k) => k.startsWith(p)));
  const out: StateDict = new Map();
  const from = new Map<string, string>();
  for (const [key, t] of sd) {
    if (wrapper !== undefined && (key.startsWith('params_ema.') || key.startsWith('params.')) && !key.startsWith(wrapper))
      continue; // the other container (non-EMA weights when EMA ones exist)
    const name = canonicalName(wrapper !== undefined && key.startsWith(wrapper) ? key.slice(wrapper.length) : key);
    const prev = from.get(name);
    if (prev !== undefined) throw modelError(file, `tensors '${prev}' and '${key}' both map to '${name}'`);
    from.set(name, key);
    out.set(name, t);
  }
  return out;
}

/** The fixed classical filters: buffers plus frozen convs, not learned (excluded from params). */
const FIXED_KERNELS = { sharp: 7, blur: 5 } as const;

/**
 * Every tensor a ParagonSR2 model of this architecture has, with its shape, in the reference
 * module order. Hidden width is 2C in every block type; attention uses 4 heads, 64 tokens, 16-dim
 * token queries, SE reduction 16.
 */
export function expectedShapes(arch: ArchSpec): Map<string, number[]> {
  const { channels: C, scale: s } = arch;
  const H = 2 * C;
  const m = new Map<string, number[]>();
  const conv = (name: string, out: number, inPerGroup: number, k: number, bias = true) => {
    m.set(`${name}.weight`, [out, inPerGroup, k, k]);
    if (bias) m.set(`${name}.bias`, [out]);
  };
  const linear = (name: string, out: number, inp: number, bias = true) => {
    m.set(`${name}.weight`, [out, inp]);
    if (bias) m.set(`${name}.bias`, [out]);
  };
  const norm = (name: string) => (m.set(`${name}.scale`, [C, 1, 1]), m.set(`${name}.bias`, [C, 1, 1]));
  const gamma = (name: string) => m.set(`${name}.gamma`, [1, C, 1, 1]);

  m.set('detail_gain', []);
  for (const [name, k] of Object.entries(FIXED_KERNELS)) {
    m.set(`base.${name}.kernel`, [k]);
    m.set(`base.${name}.h.weight`, [3, 1, 1, k]);
    m.set(`base.${name}.v.weight`, [3, 1, k, 1]);
  }
  conv('conv_in', C, 3, 3);
  for (let g = 0; g < arch.groups; g++)
    for (let b = 0; b < arch.blocks; b++) {
      const p = `body.${g}.blocks.${b}.`;
      switch (arch.variant) {
        case 'realtime':
          conv(`${p}conv1`, H, C, 1), conv(`${p}dw`, H, 1, 3), conv(`${p}conv2`, C, H, 1), gamma(`${p}scale`);
          break;
        case 'stream':
          conv(`${p}dw1`, C, 1, 3), conv(`${p}dw3`, C, 1, 3), conv(`${p}fuse`, C, 2 * C, 1);
          conv(`${p}proj`, 2 * H, C, 1), conv(`${p}gate`, 2 * H, 1, 3), conv(`${p}out`, C, H, 1);
          gamma(`${p}scale`);
          break;
        case 'photo':
          norm(`${p}norm`), conv(`${p}conv1`, H, C, 1), conv(`${p}dw`, H, 1, 3), conv(`${p}conv2`, C, H, 1);
          gamma(`${p}scale`), norm(`${p}attn_norm`);
          linear(`${p}attn.qkv`, 3 * C, C), linear(`${p}attn.proj`, C, C);
          break;
        case 'pro':
          norm(`${p}norm1`), conv(`${p}conv1`, H, C, 1), conv(`${p}dw`, H, 1, 3), conv(`${p}conv2`, C, H, 1);
          gamma(`${p}scale1`);
          linear(`${p}channel_attn.fc.0`, Math.floor(C / 16), C, false);
          linear(`${p}channel_attn.fc.2`, C, Math.floor(C / 16), false);
          gamma(`${p}scale2`), norm(`${p}norm3`);
          linear(`${p}window_attn.qkv`, 3 * C, C), linear(`${p}window_attn.proj`, C, C);
          gamma(`${p}scale3`), norm(`${p}norm4`);
          m.set(`${p}token_ca.token_dict`, [1, 64, C]);
          linear(`${p}token_ca.q_proj`, 16, C), linear(`${p}token_ca.k_proj`, 16, C);
          linear(`${p}token_ca.v_proj`, C, C), linear(`${p}token_ca.out_proj`, C, C);
          gamma(`${p}scale4`);
          break;
      }
    }
  conv('conv_mid', C, C, 3);
  conv('up.0', C * s * s, C, 3);
  conv('conv_out', 3, C, 3);
  return m;
}

/** A short list for one-line errors: the first few names and the total. */
const brief = (names: string[], n = 3): string =>
  `${names.length} (${names.slice(0, n).join(', ')}${names.length > n ? ', …' : ''})`;

/** One-line description of an architecture, for messages. */
export const describeArch = (a: ArchSpec): string =>
  `${a.variant} x${a.scale} (C=${a.channels}, ${a.groups}x${a.blocks} blocks)`;

/**
 * Throw a model error listing missing, unexpected and wrong-shaped tensors, if any. Called after
 * detection, so the message says which architecture the checkpoint was taken for.
 */
export function checkShapes(sd: StateDict, arch: ArchSpec, file = '<state dict>'): void {
  const want = expectedShapes(arch);
  const missing = [...want.keys()].filter((k) => !sd.has(k));
  const unexpected = [...sd.keys()].filter((k) => !want.has(k));
  const wrong: string[] = [];
  for (const [k, t] of sd) {
    const w = want.get(k);
    if (w && (w.length !== t.shape.length || w.some((d, i) => d !== t.shape[i])))
      wrong.push(`${k} [${t.shape}] expected [${w}]`);
  }
  const parts = [
    missing.length ? `missing ${brief(missing)}` : '',
    unexpected.length ? `unexpected ${brief(unexpected)}` : '',
    wrong.length ? `wrong shape ${brief(wrong, 2)}` : '',
  ].filter(Boolean);
  if (parts.length) throw modelError(file, `tensors do not match ${describeArch(arch)}: ${parts.join('; ')}`);
}

const elements = (t: Tensor): number => t.shape.reduce((a, b) => a * b, 1);

/**
 * Parameter count as PyTorch's `sum(p.numel() for p in model.parameters())` reports it (and as the
 * golden manifest records it): every tensor except the registered buffers `base.*.kernel`. The frozen
 * `base.*.h/v.weight` convs are nn.Parameters (requires_grad=False), so they count.
 */
export function countParams(sd: StateDict): number {
  let n = 0;
  for (const [k, t] of sd) if (!/^base\.\w+\.kernel$/.test(k)) n += elements(t);
  return n;
}
