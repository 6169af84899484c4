/**
 * TensorRT engines for a ParagonSR2 ONNX model: the optimisation profiles its inputs need, the
 * `trtexec` command that builds one, and the build itself where TensorRT is installed.
 *
 * Profiles: `input` [1,3,H,W]; `prev_feat` [1,C,H,W] with C read from the model (16/32/64);
 * `alpha` [1,1,1,1] in every profile. The graph also accepts a per-pixel [1,1,H,W] history map
 * (it broadcasts), but the runtime feeds one scalar per frame, and a profile whose alpha may be
 * either 1×1 or H×W would make TensorRT resolve the broadcast at run time for no use: the engine
 * is built for the scalar form. Static models (`paragon convert --static`) have fixed dims, which
 * the profile must match, so they need no shape flags at all.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { ParagonError, usageError } from '../errors.ts';
import type { OnnxInfo } from '../graph/onnx-info.ts';
import { rolesOf } from '../temporal/roles.ts';

/** `[height, width]`. */
export type HW = readonly [number, number];

/** Profile sizes asked for (any left out take the defaults). */
export interface ProfileRequest {
  readonly min?: HW;
  readonly opt?: HW;
  readonly max?: HW;
}

/** Default profile: thumbnails up to 1080p, tuned for 720p. */
export const DEFAULT_PROFILE = { min: [16, 16], opt: [720, 1280], max: [1080, 1920] } as const satisfies Record<string, HW>;

/** Shapes per input name for min/opt/max. */
export type ProfileShapes = Record<'min' | 'opt' | 'max', Record<string, number[]>>;

/** What to build and how. */
export interface EnginePlan {
  readonly onnx: string;
  readonly engine: string;
  readonly fp16: boolean;
  /** True when the model's H and W are fixed (no profile flags). */
  readonly static: boolean;
  /** Undefined for static models. */
  readonly shapes: ProfileShapes | undefined;
  /** The `trtexec` argument list (without the program). */
  readonly args: string[];
  /** TensorRT builder workspace limit (MiB), when asked for. */
  readonly workspaceMiB?: number;
  /** One-line remarks: padding, static dims, implied flags. */
  readonly notes: string[];
}

const dimsText = (d: readonly number[]): string => d.join('x');
const up = (n: number, m: number): number => Math.ceil(n / m) * m;

/** A shape list in trtexec's form: `input:1x3x720x1280,prev_feat:1x16x720x1280`. */
export const shapeFlag = (s: Record<string, number[]>): string => Object.entries(s).map(([k, v]) => `${k}:${dimsText(v)}`).join(',');

/**
 * Plan the engine of the ONNX model described by `info`. Throws a usage error when asked-for
 * profiles contradict the model (static dims) or are not ordered min ≤ opt ≤ max.
 */
export function planEngine(info: OnnxInfo, req: ProfileRequest & { fp16?: boolean; out?: string; workspaceMiB?: number } = {}): EnginePlan {
  const file = info.file;
  const roles = rolesOf(
    file,
    info.inputs.map((v) => ({ name: v.name, type: v.dtype, shape: (v.dims ?? []).map((d) => d ?? '?') })),
    info.outputs.map((v) => ({ name: v.name, type: v.dtype, shape: [] })),
  );
  const dims = info.inputs.find((v) => v.name === roles.input)?.dims ?? [];
  const [fh, fw] = [dims[2], dims[3]];
  const isStatic = typeof fh === 'number' && typeof fw === 'number';
  const fp16Model = info.precision === 'fp16' || info.inputs.some((v) => v.dtype === 'float16');
  const fp16 = req.fp16 === true || fp16Model;
  const notes: string[] = [];
  if (fp16Model && req.fp16 !== true) notes.push('fp16 model: --fp16 added (TensorRT builds fp32 layers otherwise)');
  const engine = req.out ?? `${file.replace(/\.onnx$/i, '')}${fp16 && !fp16Model ? '.fp16' : ''}.engine`;
  const args = [`--onnx=${file}`, `--saveEngine=${engine}`];

  let shapes: ProfileShapes | undefined;
  if (isStatic) {
    for (const [k, v] of Object.entries(req) as [string, unknown][]) {
      if (!['min', 'opt', 'max'].includes(k) || v === undefined) continue;
      const [h, w] = v as HW;
      if (h !== fh || w !== fw)
        throw usageError(`${file}: static model fixed at ${fh}x${fw} (HxW): --${k} ${h}x${w} must match it (or leave the profiles out)`);
    }
    notes.push(`static model: shapes fixed at ${dimsText(dims as number[])}; no optimisation profile needed`);
  } else {
    const pad = info.padMultiple ?? 1;
    const pick = (k: 'min' | 'opt' | 'max'): HW => {
      const [h, w] = req[k] ?? DEFAULT_PROFILE[k];
      if (!(h >= 1 && w >= 1)) throw usageError(`--${k} ${h}x${w}: expected positive HxW`);
      return pad > 1 ? [up(h, pad), up(w, pad)] : [h, w];
    };
    const p = { min: pick('min'), opt: pick('opt'), max: pick('max') };
    if (pad > 1) {
      for (const k of ['min', 'opt', 'max'] as const) {
        const asked = req[k] ?? DEFAULT_PROFILE[k];
        if (asked[0] !== p[k][0] || asked[1] !== p[k][1])
          notes.push(`${info.variant ?? 'model'} pads inputs to a multiple of ${pad}: ${k} ${asked[0]}x${asked[1]} -> ${p[k][0]}x${p[k][1]}`);
      }
    }
    for (const i of [0, 1]) {
      if (!(p.min[i]! <= p.opt[i]! && p.opt[i]! <= p.max[i]!))
        throw usageError(`profiles must satisfy min <= opt <= max in ${i ? 'width' : 'height'}: ${p.min[i]}, ${p.opt[i]}, ${p.max[i]}`);
    }
    const C = channelsOf(info, roles.prev);
    const at = ([h, w]: HW): Record<string, number[]> => {
      const s: Record<string, number[]> = { [roles.input]: [1, 3, h, w] };
      if (roles.prev) s[roles.prev] = [1, C, h, w];
      if (roles.alpha) s[roles.alpha] = [1, 1, 1, 1];
      return s;
    };
    shapes = { min: at(p.min), opt: at(p.opt), max: at(p.max) };
    args.push(`--minShapes=${shapeFlag(shapes.min)}`, `--optShapes=${shapeFlag(shapes.opt)}`, `--maxShapes=${shapeFlag(shapes.max)}`);
  }
  if (fp16) args.push('--fp16');
  if (req.workspaceMiB !== undefined) args.push(`--memPoolSize=workspace:${req.workspaceMiB}`);
  else if (info.variant === 'photo' || info.variant === 'pro')
    notes.push('attention models can exhaust the default builder workspace: add --workspace 4096 if the build fails (the reference built Photo so)');
  return { onnx: file, engine, fp16, static: isStatic, shapes, args, notes, ...(req.workspaceMiB !== undefined ? { workspaceMiB: req.workspaceMiB } : {}) };
}

/** Feature channels of the `prev` input: its declared dim 1, else the model metadata. */
function channelsOf(info: OnnxInfo, prev: string | undefined): number {
  if (prev === undefined) return 0;
  const d = info.inputs.find((v) => v.name === prev)?.dims?.[1];
  const c = typeof d === 'number' ? d : info.channels;
  if (c === undefined) throw new ParagonError('model', `cannot tell the feature channels of ${prev} (no fixed dim, no metadata)`, { file: info.file });
  return c;
}

/** The command as one shell line (arguments quoted where needed). */
export function commandLine(program: string, args: readonly string[]): string {
  const q = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return [program, ...args].map(q).join(' ');
}

/** Where trtexec is: on PATH, or in the TensorRT packages' /usr/src/tensorrt/bin. */
export function findTrtexec(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/src/tensorrt/bin'];
  for (const d of dirs) {
    const p = path.join(d, process.platform === 'win32' ? 'trtexec.exe' : 'trtexec');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Builders other than trtexec, as Python programs run with one JSON argument. */
const PY_TENSORRT = `
import json, sys, tensorrt as trt
a = json.loads(sys.argv[1])
log = trt.Logger(trt.Logger.WARNING)
b = trt.Builder(log)
flag = getattr(trt.NetworkDefinitionCreationFlag, 'EXPLICIT_BATCH', None)
net = b.create_network(0 if flag is None else 1 << int(flag))
parser = trt.OnnxParser(net, log)
if not parser.parse_from_file(a['onnx']):
    sys.exit('; '.join(str(parser.get_error(i)) for i in range(parser.num_errors)))
cfg = b.create_builder_config()
if a['workspace']:
    cfg.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, a['workspace'] << 20)
if a['fp16']:
    cfg.set_flag(trt.BuilderFlag.FP16)
if a['shapes']:
    p = b.create_optimization_profile()
    for name in a['shapes']['min']:
        p.set_shape(name, a['shapes']['min'][name], a['shapes']['opt'][name], a['shapes']['max'][name])
    cfg.add_optimization_profile(p)
plan = b.build_serialized_network(net, cfg)
if plan is None:
    sys.exit('TensorRT could not build the engine')
open(a['engine'], 'wb').write(plan)
print('wrote', a['engine'])
`;

const PY_ORT = `
import json, os, sys, numpy as np, onnxruntime as ort
a = json.loads(sys.argv[1])
fmt = lambda s: ','.join(k + ':' + 'x'.join(map(str, v)) for k, v in s.items())
o = {'trt_engine_cache_enable': True, 'trt_engine_cache_path': a['cache'], 'trt_fp16_enable': a['fp16']}
if a['workspace']:
    o['trt_max_workspace_size'] = a['workspace'] << 20
if a['shapes']:
    o.update(trt_profile_min_shapes=fmt(a['shapes']['min']), trt_profile_opt_shapes=fmt(a['shapes']['opt']), trt_profile_max_shapes=fmt(a['shapes']['max']))
s = ort.InferenceSession(a['onnx'], providers=[('TensorrtExecutionProvider', o)])
if s.get_providers()[0] != 'TensorrtExecutionProvider':
    sys.exit('onnxruntime did not enable TensorRT')
opt = a['shapes']['opt'] if a['shapes'] else {}
feeds = {i.name: np.zeros(opt.get(i.name, [d if isinstance(d, int) else 1 for d in i.shape]), np.float16 if 'float16' in i.type else np.float32) for i in s.get_inputs()}
s.run(None, feeds)
print('engine cache in', a['cache'], ':', ', '.join(sorted(os.listdir(a['cache']))))
`;

/** True when `python3 -c CODE` succeeds (quietly, within a few seconds). */
const pythonHas = (code: string): boolean => spawnSync('python3', ['-c', code], { stdio: 'ignore', timeout: 20000 }).status === 0;

/** Which builder is available: trtexec, the TensorRT Python API, or onnxruntime-gpu's TensorRT EP. */
export type Builder = { kind: 'trtexec'; path: string } | { kind: 'python-tensorrt' } | { kind: 'python-onnxruntime' };

export function findBuilder(): Builder | undefined {
  const trtexec = findTrtexec();
  if (trtexec) return { kind: 'trtexec', path: trtexec };
  if (pythonHas('import tensorrt')) return { kind: 'python-tensorrt' };
  if (pythonHas("import onnxruntime as o, sys; sys.exit('TensorrtExecutionProvider' not in o.get_available_providers())"))
    return { kind: 'python-onnxruntime' };
  return undefined;
}

/** The one-line error when no TensorRT is installed. */
export const NO_TENSORRT =
  'TensorRT not found (no trtexec on PATH or in /usr/src/tensorrt/bin, no Python tensorrt, no onnxruntime-gpu with TensorRT): ' +
  'install TensorRT 10 with trtexec (NVIDIA apt repo: apt install tensorrt; or pip install tensorrt), then run again';

/**
 * Build the engine with `builder` (from {@link findBuilder}; its output goes to `log`). The
 * onnxruntime route writes an engine cache folder (`<engine>.cache/`) instead of one file.
 */
export async function buildEngine(plan: EnginePlan, builder: Builder, log: (line: string) => void, signal?: AbortSignal): Promise<void> {
  const job = JSON.stringify({ onnx: plan.onnx, engine: plan.engine, cache: `${plan.engine}.cache`, fp16: plan.fp16, shapes: plan.shapes ?? null, workspace: plan.workspaceMiB ?? null });
  const [program, args] =
    builder.kind === 'trtexec'
      ? [builder.path, plan.args]
      : ['python3', ['-c', builder.kind === 'python-tensorrt' ? PY_TENSORRT : PY_ORT, job]];
  log(builder.kind === 'trtexec' ? commandLine(program, args) : `building with ${builder.kind}`);
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], signal });
    const tail: string[] = [];
    const take = (d: Buffer): void => {
      for (const l of d.toString().split('\n')) if (l.trim()) (tail.push(l), log(l));
      tail.splice(0, Math.max(0, tail.length - 20));
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (e) => reject(signal?.aborted ? new ParagonError('interrupted', 'engine build interrupted') : e));
    child.on('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0) throw new ParagonError('model', `engine build failed (${builder.kind} exited with ${code})`, { file: plan.onnx });
  if (builder.kind !== 'python-onnxruntime' && !existsSync(plan.engine))
    throw new ParagonError('model', `the builder reported success but wrote no ${plan.engine}`, { file: plan.onnx });
}
