/**
 * A ParagonSR2 checkpoint from its bytes: validate the safetensors data, normalise names, detect
 * and check the architecture, and settle the one hyper-parameter checkpoints do not store (the
 * base-path `upsampler_alpha`). Pure (browser-safe); reading files is in load.ts.
 */
import { modelError } from '../errors.ts';
import { parseSafetensors } from './safetensors.ts';
import { canonicalize, countParams } from './state-dict.ts';
import { detectAndCheck, type ArchOverrides } from './detect.ts';
import { OFFICIAL_V11_SHA256, VARIANT_DEFAULTS, type ArchSpec, type StateDict, type Variant } from './types.ts';

/** A checkpoint ready for the graph builder. */
export interface LoadedCheckpoint {
  readonly file: string;
  /** Hex SHA-256 of the file bytes. */
  readonly sha256: string;
  readonly arch: ArchSpec;
  /** Tensors by canonical reference name. */
  readonly stateDict: StateDict;
  readonly metadata: Map<string, string>;
  /** Parameter count as PyTorch reports it (all tensors but the `base.*.kernel` buffers). */
  readonly params: number;
  /** The official v11 release this file is (by hash), if any. */
  readonly official: Variant | undefined;
  /** Base-path pre-sharpening strength to build with. */
  readonly upsamplerAlpha: number;
}

/**
 * The `upsampler_alpha` a checkpoint was trained with: 0.0 for the official v11 releases (known by
 * hash), else the `upsampler_alpha` metadata our training export writes, else the variant default.
 */
export function resolveUpsamplerAlpha(
  file: string,
  variant: Variant,
  official: Variant | undefined,
  metadata: Map<string, string>,
): number {
  if (official !== undefined) return 0.0;
  const meta = metadata.get('upsampler_alpha');
  if (meta !== undefined) {
    const a = Number(meta);
    if (meta.trim() === '' || !Number.isFinite(a) || a < 0 || a > 1)
      throw modelError(file, `metadata upsampler_alpha '${meta}' is not a number in [0, 1]`);
    return a;
  }
  return VARIANT_DEFAULTS[variant].upsamplerAlpha;
}

/**
 * Validate and detect a checkpoint from its bytes and their hex SHA-256 (model errors exit 3);
 * `file` names the source in errors.
 */
export function checkpointFromBytes(bytes: Uint8Array, file: string, sha256: string, overrides: ArchOverrides = {}): LoadedCheckpoint {
  // torch.save files are zip archives (PK) or raw pickles (0x80): say so rather than "bad header".
  if ((bytes[0] === 0x50 && bytes[1] === 0x4b) || bytes[0] === 0x80)
    throw modelError(file, 'PyTorch pickle checkpoints are not supported (unsafe to load): convert to .safetensors');
  const { tensors, metadata } = parseSafetensors(bytes, file);
  const stateDict = canonicalize(tensors, file);
  const arch = detectAndCheck(stateDict, overrides, file);
  const official = OFFICIAL_V11_SHA256[sha256];
  return {
    file,
    sha256,
    arch,
    stateDict,
    metadata,
    params: countParams(stateDict),
    official,
    upsamplerAlpha: resolveUpsamplerAlpha(file, arch.variant, official, metadata),
  };
}
