/**
 * What each model input and output is for, read from the session's own names, so our graphs and
 * the ones the Python scripts export are driven the same way:
 * - `video`: input, prev_feat, alpha → output, feature_map (our video mode);
 * - `baked`: input, prev_feat → output, feature (Python video export, history weight fixed inside);
 * - `tap`: input → output, feature (features exported but no way to feed them back);
 * - `standard`: input → output.
 * A single-image graph with the pixel-history head (graph/pixel-history.ts: input, prev_history,
 * alpha → output, history) is driven as a video graph whose state is its input's pixels.
 */
import { modelError } from '../errors.ts';
import { HISTORY_INPUT, WEIGHT_INPUT } from '../graph/warp-head.ts';
import type { ValueInfo, WireType } from '../runtime/protocol.ts';

/** How the orchestrator drives a model. */
export type DriveMode = 'video' | 'baked' | 'tap' | 'standard';

/** Input/output names by role, and the element type each input wants. */
export interface Roles {
  readonly mode: DriveMode;
  readonly input: string;
  readonly prev: string | undefined;
  readonly alpha: string | undefined;
  readonly output: string;
  readonly feature: string | undefined;
  readonly types: Readonly<Record<string, WireType>>;
}

const PREV = HISTORY_INPUT;
const ALPHA = WEIGHT_INPUT;
// The carried output: features, or the pixel-history head's `history`.
const FEAT = /feat|^history$/i;

function wireType(file: string, v: ValueInfo): WireType {
  if (v.type === 'float32' || v.type === 'float16') return v.type;
  throw modelError(file, `input ${v.name} has element type ${v.type}; expected float32 or float16`);
}

/**
 * The output a model's runs carry from one to the next (the feature state): named like features
 * when the model also takes a history input; else undefined. From the names in the file
 * (graph/onnx-info.ts `readOnnxInfo`), so that it is known before the session loads
 * (runtime/resident.ts keeps it on the GPU).
 */
export function carriedOutput(io: { readonly inputs: readonly { name: string }[]; readonly outputs: readonly { name: string }[] }): string | undefined {
  const own = (n: string) => !n.startsWith('paragon_');
  if (!io.inputs.some((v) => own(v.name) && PREV.test(v.name))) return undefined;
  return io.outputs.find((v) => own(v.name) && FEAT.test(v.name))?.name;
}

/** Assign roles to a session's inputs and outputs. */
export function rolesOf(file: string, allInputs: readonly ValueInfo[], allOutputs: readonly ValueInfo[]): Roles {
  // The heads' inputs and outputs (graph/pack-head.ts, graph/warp-head.ts) are extras, not the model's own.
  const inputs = allInputs.filter((v) => !v.name.startsWith('paragon_'));
  const outputs = allOutputs.filter((v) => !v.name.startsWith('paragon_'));
  const prev = inputs.find((v) => PREV.test(v.name))?.name;
  const alpha = inputs.find((v) => v.name !== prev && ALPHA.test(v.name))?.name;
  const input = inputs.find((v) => v.name === 'input')?.name ?? inputs.find((v) => v.name !== prev && v.name !== alpha)?.name;
  const feature = outputs.find((v) => FEAT.test(v.name))?.name;
  const output = outputs.find((v) => v.name === 'output')?.name ?? outputs.find((v) => v.name !== feature)?.name;
  if (input === undefined || output === undefined)
    throw modelError(file, `cannot tell the image input/output among inputs [${inputs.map((v) => v.name)}] and outputs [${outputs.map((v) => v.name)}]`);
  const extra = inputs.filter((v) => ![input, prev, alpha].includes(v.name));
  if (extra.length > 0) throw modelError(file, `unexpected model inputs: ${extra.map((v) => v.name).join(', ')}`);
  if (prev !== undefined && feature === undefined) throw modelError(file, `model takes ${prev} but returns no features`);
  const mode: DriveMode =
    prev !== undefined ? (alpha !== undefined ? 'video' : 'baked') : feature !== undefined ? 'tap' : 'standard';
  const types: Record<string, WireType> = {};
  for (const v of inputs) types[v.name] = wireType(file, v);
  return { mode, input, prev, alpha, output, feature, types };
}
