/**
 * `paragon engine`: the TensorRT optimisation profiles of every variant (video and standard graphs,
 * fp32 and fp16, dynamic and static), converted from the golden reference weights; the printed
 * trtexec command; the one-line answer without TensorRT; and `--build` running the command it
 * printed (with a stand-in trtexec on PATH: there is no TensorRT on this machine).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ParagonError } from '../../src/errors.ts';
import { buildOnnx, readOnnxInfo } from '../../src/graph/index.ts';
import { loadCheckpoint } from '../../src/weights/load.ts';
import { commandLine, findBuilder, planEngine } from '../../src/bench/tensorrt.ts';
import { needShared, ROOT, shared } from '../helpers/shared.ts';

interface Case {
  name: string;
  variant: string;
  feature_channels: number;
}
const skipGolden = needShared('golden', 'manifest.json');
const manifest = (): Case[] => JSON.parse(readFileSync(shared('golden', 'manifest.json'), 'utf8')) as Case[];

/** The golden model of each variant at x2, converted in the three forms the engine must handle. */
async function graphs(c: Case) {
  const ck = await loadCheckpoint(shared('golden', `${c.name}.weights.safetensors`));
  const build = (video: boolean, fp16: boolean, file: string) =>
    readOnnxInfo(buildOnnx(ck.arch, ck.stateDict, { video, fp16, upsamplerAlpha: ck.upsamplerAlpha }), file);
  return {
    video: build(true, false, `${c.name}.video.onnx`),
    standard: build(false, false, `${c.name}.onnx`),
    fp16: build(true, true, `${c.name}.video.fp16.onnx`),
  };
}

test('profiles of every variant: input [1,3,H,W], prev_feat [1,C,H,W] with C of the variant, alpha [1,1,1,1]', { skip: skipGolden }, async () => {
  const x2 = manifest().filter((c) => c.name.endsWith('_x2'));
  assert.deepEqual(x2.map((c) => c.variant).sort(), ['photo', 'pro', 'realtime', 'stream']);
  for (const c of x2) {
    const g = await graphs(c);
    const C = c.feature_channels; // from the reference's manifest: 16, 32, 64, 64
    const windowed = c.variant === 'photo' || c.variant === 'pro';
    const max = windowed ? [1088, 1920] : [1080, 1920]; // photo/pro inputs are padded to a multiple of 16

    const v = planEngine(g.video);
    assert.equal(v.static, false);
    assert.deepEqual(v.shapes, {
      min: { input: [1, 3, 16, 16], prev_feat: [1, C, 16, 16], alpha: [1, 1, 1, 1] },
      opt: { input: [1, 3, 720, 1280], prev_feat: [1, C, 720, 1280], alpha: [1, 1, 1, 1] },
      max: { input: [1, 3, ...max], prev_feat: [1, C, ...max], alpha: [1, 1, 1, 1] },
    }, c.name);
    assert.ok(!v.args.includes('--fp16'));
    // photo/pro: the padding of max, and the workspace hint.
    assert.equal(v.notes.length, windowed ? 2 : 0, v.notes.join('; '));
    if (windowed) assert.match(v.notes.join('; '), /max 1080x1920 -> 1088x1920.*--workspace 4096/);

    const s = planEngine(g.standard, { min: [64, 64], opt: [360, 640], max: [720, 1280], fp16: true });
    const optH = windowed ? 368 : 360; // 360 is not a multiple of 16
    assert.deepEqual(s.shapes, { min: { input: [1, 3, 64, 64] }, opt: { input: [1, 3, optH, 640] }, max: { input: [1, 3, 720, 1280] } }, c.name);
    assert.ok(s.args.includes('--fp16') && s.engine === `${c.name}.fp16.engine`);

    const h = planEngine(g.fp16);
    assert.ok(h.fp16 && h.args.at(-1) === '--fp16', 'an fp16 model gets --fp16 without asking');
    assert.match(h.notes.join(' '), /fp16 model: --fp16 added/);
    assert.deepEqual(h.shapes?.opt.prev_feat, [1, C, 720, 1280]);
  }
});

test('the trtexec command line, written out by hand for the realtime video graph', { skip: skipGolden }, async () => {
  const rt = manifest().find((c) => c.name === 'realtime_x2')!;
  const plan = planEngine((await graphs(rt)).video, { min: [32, 32], opt: [540, 960], max: [1080, 1920], out: 'rt 16.engine' });
  assert.equal(
    commandLine('trtexec', plan.args),
    "trtexec --onnx=realtime_x2.video.onnx '--saveEngine=rt 16.engine' " +
      '--minShapes=input:1x3x32x32,prev_feat:1x16x32x32,alpha:1x1x1x1 ' +
      '--optShapes=input:1x3x540x960,prev_feat:1x16x540x960,alpha:1x1x1x1 ' +
      '--maxShapes=input:1x3x1080x1920,prev_feat:1x16x1080x1920,alpha:1x1x1x1',
  );
});

test('static models need no profile; profiles that contradict them or min<=opt<=max are usage errors', { skip: skipGolden }, async () => {
  const ck = await loadCheckpoint(shared('golden', 'stream_x2.weights.safetensors'));
  const info = readOnnxInfo(buildOnnx(ck.arch, ck.stateDict, { video: true, static: [360, 640], upsamplerAlpha: 0 }), 's.onnx');
  const p = planEngine(info, { opt: [360, 640] });
  assert.equal(p.static, true);
  assert.equal(p.shapes, undefined);
  assert.deepEqual(p.args, ['--onnx=s.onnx', '--saveEngine=s.engine']);
  assert.match(p.notes[0]!, /static model: shapes fixed at 1x3x360x640/);
  const usage = (e: unknown) => e instanceof ParagonError && e.code === 2 && !e.message.includes('\n');
  assert.throws(() => planEngine(info, { max: [720, 1280] }), (e: unknown) => usage(e) && /fixed at 360x640.*--max 720x1280/.test((e as Error).message));
  const dyn = readOnnxInfo(buildOnnx(ck.arch, ck.stateDict, { video: true, upsamplerAlpha: 0 }), 'd.onnx');
  assert.throws(() => planEngine(dyn, { min: [800, 64], opt: [720, 1280] }), (e: unknown) => usage(e) && /min <= opt <= max in height/.test((e as Error).message));
});

const BIN = path.join(ROOT, 'bin', 'paragon.js');
const paragon = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, timeout: 60_000 });

test('CLI: prints the command; --build without TensorRT is one line and exit 3; --build runs what it printed', { skip: skipGolden }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'paragon-engine-'));
  try {
    const ck = await loadCheckpoint(shared('golden', 'photo_x2.weights.safetensors'));
    const model = path.join(dir, 'photo.onnx');
    await writeFile(model, buildOnnx(ck.arch, ck.stateDict, { video: true, upsamplerAlpha: 0.4 }));
    const printed = paragon(['engine', model, '--max', '720x1280', '--fp16', '--workspace', '4096']);
    assert.equal(printed.status, 0, printed.stderr);
    const cmd = printed.stdout.trim();
    assert.ok(cmd.startsWith('trtexec ') && !cmd.includes('\n'), cmd);
    assert.match(cmd, /--maxShapes=input:1x3x720x1280,prev_feat:1x64x720x1280,alpha:1x1x1x1 --fp16 --memPoolSize=workspace:4096$/);

    if (!findBuilder()) {
      const none = paragon(['engine', model, '--build']);
      assert.equal(none.status, 3);
      assert.equal(none.stdout, '');
      assert.equal(none.stderr.trim().split('\n').length, 1, none.stderr);
      assert.match(none.stderr, /^paragon: TensorRT not found .*install TensorRT/);
    }

    // A stand-in trtexec that records its arguments and writes the engine file it was asked for.
    const bin = path.join(dir, 'bin');
    const log = path.join(dir, 'args.txt');
    await mkdir(bin);
    const fake = path.join(bin, 'trtexec');
    await writeFile(fake, `#!/bin/sh\nprintf '%s\\n' "$@" > '${log}'\nfor a in "$@"; do case "$a" in --saveEngine=*) echo engine > "\${a#--saveEngine=}";; esac; done\necho "&&&& PASSED TensorRT.trtexec"\n`);
    chmodSync(fake, 0o755);
    const built = paragon(['engine', model, '--max', '720x1280', '--fp16', '--workspace', '4096', '--build'], { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}` });
    assert.equal(built.status, 0, built.stderr);
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), cmd.split(' ').slice(1), 'trtexec got exactly the printed arguments');
    assert.ok(existsSync(path.join(dir, 'photo.fp16.engine')));
    assert.match(built.stdout, /built .*photo\.fp16\.engine with trtexec/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
