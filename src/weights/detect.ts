/**
 * Architecture detection from a canonical state dict, so users never pass --arch or --scale: the
 * variant follows from the block tensor names, C from conv_in, the scale from up.0's output width,
 * groups × blocks from the body indices.
 */
import { ParagonError, modelError } from '../errors.ts';
import type { ArchSpec, StateDict, Variant } from './types.ts';
import { checkShapes } from './state-dict.ts';

const BLOCK = /^body\.(\d+)\.blocks\.(\d+)\.([^.]+)/;

/** Variant from the set of module names found inside blocks (the first name segment after the index). */
function variantOf(mods: Set<string>): Variant | undefined {
  if (mods.has('token_ca')) return 'pro';
  if (mods.has('attn') && mods.has('norm')) return 'photo';
  if (mods.has('dw3') || mods.has('gate')) return 'stream';
  if (mods.has('conv1') && mods.has('dw') && mods.has('conv2')) return 'realtime';
  return undefined;
}

/**
 * Detect the architecture of a canonical state dict (see `canonicalize`). Only detection: use
 * {@link detectAndCheck} to also require the tensors to match exactly.
 */
export function detectArch(sd: StateDict, file = '<state dict>'): ArchSpec {
  const need = (name: string, rank: number) => {
    const t = sd.get(name);
    if (!t) throw modelError(file, `not a ParagonSR2 checkpoint: no '${name}' tensor`);
    if (t.shape.length !== rank) throw modelError(file, `'${name}' has shape [${t.shape}], expected ${rank} dimensions`);
    return t.shape;
  };
  const channels = need('conv_in.weight', 4)[0]!;
  if (channels < 1) throw modelError(file, `'conv_in.weight' has 0 output channels`);
  const upOut = need('up.0.weight', 4)[0]!;
  const s = Math.round(Math.sqrt(upOut / channels));
  if (s < 1 || s > 4 || s * s * channels !== upOut)
    throw modelError(file, `'up.0.weight' has ${upOut} outputs for C=${channels}: not C·s² for an integer scale 1–4`);

  const perGroup = new Map<number, number>(); // group → block count (max index + 1)
  const mods = new Set<string>();
  for (const k of sd.keys()) {
    const m = BLOCK.exec(k);
    if (!m) continue;
    const g = Number(m[1]);
    perGroup.set(g, Math.max(perGroup.get(g) ?? 0, Number(m[2]) + 1));
    mods.add(m[3]!);
  }
  if (perGroup.size === 0) throw modelError(file, 'not a ParagonSR2 checkpoint: no body.{g}.blocks.{b} tensors');
  const variant = variantOf(mods);
  if (!variant) throw modelError(file, `cannot tell the variant from block modules ${[...mods].sort().join(', ')}`);
  const groups = Math.max(...perGroup.keys()) + 1;
  const blocks = perGroup.get(0) ?? 0;
  for (let g = 0; g < groups; g++)
    if ((perGroup.get(g) ?? 0) !== blocks)
      throw modelError(file, `body group ${g} has ${perGroup.get(g) ?? 0} blocks but group 0 has ${blocks}`);
  if ((variant === 'photo' || variant === 'pro') && channels % 4 !== 0)
    throw modelError(file, `${variant} needs channels divisible by 4 attention heads, got C=${channels}`);
  return { variant, scale: s, channels, groups, blocks };
}

/** Flags a user may give; when given they must agree with what the checkpoint says. */
export interface ArchOverrides {
  readonly variant?: Variant | undefined;
  readonly scale?: number | undefined;
}

/**
 * Detect, apply the user's overrides as assertions, and require the tensors to match the
 * architecture exactly (missing / unexpected / wrong-shaped tensors are listed in the error).
 */
export function detectAndCheck(sd: StateDict, overrides: ArchOverrides = {}, file = '<state dict>'): ArchSpec {
  const arch = detectArch(sd, file);
  if (overrides.variant !== undefined && overrides.variant !== arch.variant)
    throw new ParagonError('usage', `--variant ${overrides.variant} given but the checkpoint is a ${arch.variant} model`, { file });
  if (overrides.scale !== undefined && overrides.scale !== arch.scale)
    throw new ParagonError('usage', `--scale ${overrides.scale} given but the checkpoint is x${arch.scale} (up.0.weight)`, { file });
  checkShapes(sd, arch, file);
  return arch;
}
