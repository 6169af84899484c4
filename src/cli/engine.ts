/**
 * `paragon engine MODEL.onnx [--min HxW --opt HxW --max HxW] [--fp16] [--build] [--out ENGINE]`:
 * print the `trtexec` command that builds a TensorRT engine with the right optimisation profiles
 * (stdout: the command alone, so `$(paragon engine m.onnx)` runs it; remarks on stderr), or with
 * `--build` build it where TensorRT is installed. No TensorRT: one line, exit 3.
 */
import { defineCommand, type ArgsDef } from 'citty';
import { ParagonError, modelError, usageError } from '../errors.ts';
import { readOnnxInfo } from '../graph/onnx-info.ts';
import { readModelBytes } from '../weights/load.ts';
import { buildEngine, commandLine, findBuilder, NO_TENSORRT, planEngine, type HW } from '../bench/tensorrt.ts';
import { rejectUnknownFlags } from './args.ts';
import { claimInterrupt, interrupted } from './interrupt.ts';

const args = {
  model: { type: 'positional', required: true, description: 'The ONNX model (paragon convert output or a Python export)' },
  min: { type: 'string', description: 'Smallest input HxW of the profile (default 16x16)' },
  opt: { type: 'string', description: 'Input HxW TensorRT tunes for (default 720x1280)' },
  max: { type: 'string', description: 'Largest input HxW (default 1080x1920; photo/pro round up to 16)' },
  fp16: { type: 'boolean', description: 'Let TensorRT use fp16 kernels (implied for fp16 models)' },
  build: { type: 'boolean', description: 'Build the engine now (trtexec, else the TensorRT Python API, else onnxruntime-gpu with an engine cache)' },
  out: { type: 'string', description: 'Engine file (default: beside the model, .engine)' },
  workspace: { type: 'string', description: 'TensorRT builder workspace limit in MiB (--memPoolSize=workspace:N)' },
  json: { type: 'boolean', description: 'Print the plan (shapes, command, notes) as JSON' },
} as const satisfies ArgsDef;

function hw(flag: string, v: string | undefined): HW | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)x(\d+)$/i.exec(v.trim());
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw usageError(`--${flag} ${v}: expected HxW (height x width), e.g. 720x1280`);
  return [Number(m[1]), Number(m[2])];
}

function mib(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw usageError(`--workspace ${v}: expected a size in MiB, e.g. 4096`);
  return n;
}

export default defineCommand({
  meta: { name: 'engine', description: 'Print (or --build) the TensorRT trtexec command with optimisation profiles for an ONNX model.' },
  args,
  async run({ args: a, rawArgs }) {
    rejectUnknownFlags(rawArgs, args);
    const file = a.model;
    if (!/\.onnx$/i.test(file)) throw usageError(`${file}: expected an .onnx model (convert a checkpoint first: paragon convert ${file} -o model.onnx --video)`);
    const bytes = await readModelBytes(file);
    const info = readOnnxInfo(bytes, file);
    if (info.signature === 'unknown') throw modelError(file, info.explanation);
    const req = { min: hw('min', a.min), opt: hw('opt', a.opt), max: hw('max', a.max) };
    const plan = planEngine(info, {
      ...(req.min ? { min: req.min } : {}),
      ...(req.opt ? { opt: req.opt } : {}),
      ...(req.max ? { max: req.max } : {}),
      fp16: a.fp16 === true,
      ...(a.out !== undefined ? { out: a.out } : {}),
      ...(a.workspace !== undefined ? { workspaceMiB: mib(a.workspace) } : {}),
    });
    const cmd = commandLine('trtexec', plan.args);
    if (!a.build) {
      process.stdout.write(a.json ? `${JSON.stringify({ ...plan, command: cmd })}\n` : `${cmd}\n`);
      for (const n of plan.notes) process.stderr.write(`note: ${n}\n`);
      return;
    }
    // Look for TensorRT before saying anything else: without it the answer is one line.
    const builder = findBuilder();
    if (!builder) throw new ParagonError('model', NO_TENSORRT);
    for (const n of plan.notes) process.stderr.write(`note: ${n}\n`);
    const release = claimInterrupt();
    try {
      await buildEngine(plan, builder, (l) => void process.stderr.write(`${l}\n`), interrupted);
      const what = builder.kind === 'python-onnxruntime' ? `${plan.engine}.cache/ (onnxruntime TensorRT engine cache)` : plan.engine;
      process.stdout.write(`built ${what} with ${builder.kind}\n`);
    } finally {
      release();
    }
  },
});
