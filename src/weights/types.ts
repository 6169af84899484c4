/**
 * Types shared by the weights and graph layers: what a checkpoint holds and what architecture it
 * describes. Detection (weights/detect.ts) produces an {@link ArchSpec}; the graph builder consumes it.
 */

/** The four ParagonSR2 variants. */
export type Variant = 'realtime' | 'stream' | 'photo' | 'pro';

/** All variants, in size order. */
export const VARIANTS: readonly Variant[] = ['realtime', 'stream', 'photo', 'pro'];

/** A tensor of a state dict, decoded to float32 whatever its stored dtype. */
export interface Tensor {
  /** Stored dtype in the checkpoint (the data is always float32 here). */
  readonly dtype: 'F32' | 'F16' | 'BF16';
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Tensors by canonical (reference) name. A Map, so names like `__proto__` stay ordinary names. */
export type StateDict = Map<string, Tensor>;

/** Architecture hyper-parameters, as detected from a state dict. */
export interface ArchSpec {
  readonly variant: Variant;
  /** Upscale factor (1–4), from `up.0.weight`. */
  readonly scale: number;
  /** Feature channels C (16/32/64/64 for the factory variants). */
  readonly channels: number;
  /** Residual groups in the body. */
  readonly groups: number;
  /** Blocks per group. */
  readonly blocks: number;
}

/** Per-variant factory defaults of the public reference (`paragonsr2_<variant>` factories). */
export interface VariantDefaults {
  readonly channels: number;
  readonly groups: number;
  readonly blocks: number;
  /** Base-path pre-sharpening strength the factory uses (not stored in checkpoints). */
  readonly upsamplerAlpha: number;
  /** Attention window (Photo, Pro); inputs are padded to a multiple of it. 1 = no constraint. */
  readonly padMultiple: number;
}

export const VARIANT_DEFAULTS: Readonly<Record<Variant, VariantDefaults>> = {
  realtime: { channels: 16, groups: 1, blocks: 3, upsamplerAlpha: 0.3, padMultiple: 1 },
  stream: { channels: 32, groups: 2, blocks: 3, upsamplerAlpha: 0.0, padMultiple: 1 },
  photo: { channels: 64, groups: 4, blocks: 4, upsamplerAlpha: 0.4, padMultiple: 16 },
  pro: { channels: 64, groups: 6, blocks: 6, upsamplerAlpha: 0.4, padMultiple: 16 },
};

/**
 * SHA-256 of the official ParagonSR2 v11 2x "fidelity" releases. They were trained with
 * upsampler_alpha = 0.0, which the checkpoints do not store; conversion recognises them by hash.
 */
export const OFFICIAL_V11_SHA256: Readonly<Record<string, Variant>> = {
  '887099be7a521817df20573d1c09fddb79a09a37d22048ebe80b2a88ac3b4fbb': 'realtime',
  cdf82e2dc32254853d964651d7107363adf5cc4576a0b043ad8f90ae17644308: 'stream',
  '7c02c13b7f8fafed3f819d7ab7939c15d585e48a9f769a9825e05f028fdf25a0': 'photo',
};

/** ONNX metadata_props keys written by the graph builder and read by every runtime. */
export const META = {
  variant: 'paragon.variant',
  scale: 'paragon.scale',
  channels: 'paragon.feature_channels',
  padMultiple: 'paragon.pad_multiple',
  mode: 'paragon.mode',
  historyWeight: 'paragon.history_weight',
  upsamplerAlpha: 'paragon.upsampler_alpha',
  sha256: 'paragon.checkpoint_sha256',
  precision: 'paragon.precision',
  graph: 'paragon.graph',
  /** Learned parameters of the checkpoint (the fast graph embeds folded tensors, so counting initializers differs). */
  params: 'paragon.params',
  producer: 'paragon.version',
} as const;
