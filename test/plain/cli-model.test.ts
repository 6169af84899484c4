/**
 * The real CLI (`node bin/paragon.js`) for `convert` and `info`: a golden checkpoint converts and
 * describes itself correctly; user errors give the documented exit code, one line naming the file,
 * and never leave an output (or temp) file behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, needShared, shared } from '../helpers/shared.ts';

const skip = needShared('golden');
const RT = shared('golden', 'realtime_x2.weights.safetensors');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function paragon(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin', 'paragon.js'), ...args], { cwd: ROOT }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const tmp = (): string => mkdtempSync(path.join(tmpdir(), 'paragon-cli-'));

/** Assert a failure: exit code, exactly one stderr line mentioning `mention`. */
function failsWith(r: Run, code: number, mention: string | RegExp): void {
  assert.equal(r.code, code, `exit ${r.code}, stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected: ${r.stderr}`);
  if (typeof mention === 'string') assert.ok(lines[0]!.includes(mention), lines[0]);
  else assert.match(lines[0]!, mention);
}

test('convert a golden checkpoint (standard and video), then info --json on both files', { skip }, async () => {
  const dir = tmp();
  try {
    const out = path.join(dir, 'rt.onnx');
    const r = await paragon(['convert', RT, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /detected: realtime x2 \(C=16, 1x3 blocks\), 16,780 params/);
    assert.match(r.stdout, /upsampler_alpha: 0\.3 \(variant default\)/);
    assert.match(r.stdout, /standard mode, fp32/);
    assert.deepEqual(readdirSync(dir), ['rt.onnx'], 'no temp file left beside the output');

    const info = JSON.parse((await paragon(['info', out, '--json'])).stdout);
    assert.equal(info.signature, 'paragon-standard');
    assert.equal(info.variant, 'realtime');
    assert.equal(info.scale, 2);
    assert.equal(info.params, 16780);
    assert.equal(info.metadata['paragon.graph'], 'fast', 'the optimised graph is the default');
    assert.match(r.stdout, /fast graph/);

    const vid = path.join(dir, 'rt-video.onnx');
    const v = await paragon(['convert', RT, '-o', vid, '--video', '--fp16', '--static', '24x40', '--upsampler-alpha', '0.1', '--literal']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /literal graph/);
    assert.match(v.stdout, /upsampler_alpha: 0\.1 \(flag\)/);
    const vi = JSON.parse((await paragon(['info', vid, '--json'])).stdout);
    assert.equal(vi.signature, 'paragon-video');
    assert.equal(vi.precision, 'fp16');
    assert.equal(vi.upsamplerAlpha, 0.1);
    assert.deepEqual(vi.inputs.map((i: { name: string; dims: unknown[] }) => [i.name, i.dims]), [
      ['input', [1, 3, 24, 40]],
      ['prev_feat', [1, 16, 24, 40]],
      ['alpha', [1, 1, 1, 1]],
    ]);

    const ck = JSON.parse((await paragon(['info', RT, '--json'])).stdout);
    assert.equal(ck.kind, 'checkpoint');
    assert.equal(ck.variant, 'realtime');
    assert.equal(ck.scale, 2);
    assert.equal(ck.params, 16780);
    assert.equal(ck.official, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('info on an official release says so and picks upsampler_alpha 0', { skip: needShared('models', 'paragonsr2-v11') }, async () => {
  const r = await paragon(['info', shared('models', 'paragonsr2-v11', '2xParagonSR2_Stream_fidelity.safetensors'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const ck = JSON.parse(r.stdout);
  assert.equal(ck.official, 'stream');
  assert.equal(ck.upsamplerAlpha, 0);
  assert.equal(ck.upsamplerAlphaSource, 'official release (by sha256)');
});

test('errors: exit codes, one line naming the file, nothing written', { skip }, async () => {
  const dir = tmp();
  try {
    const out = path.join(dir, 'out.onnx');
    const missing = path.join(dir, 'nope.safetensors');
    failsWith(await paragon(['convert', missing, '-o', out]), 3, missing);

    const bad = path.join(dir, 'bad.safetensors');
    writeFileSync(bad, new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x22, 0x78, 0x22]));
    failsWith(await paragon(['convert', bad, '-o', out]), 3, bad);

    failsWith(await paragon(['convert', RT, '-o', out, '--static', '12']), 2, '--static 12');
    failsWith(await paragon(['convert', RT, '-o', out, '--upsampler-alpha', '2']), 2, '--upsampler-alpha 2');
    failsWith(await paragon(['convert', RT, '-o', out, '--scale', 'x']), 2, '--scale x');
    failsWith(await paragon(['convert', RT, '-o', out, '--bogus']), 2, '--bogus');
    failsWith(await paragon(['convert', RT, '-o', out, '--variant', 'photo']), 2, /--variant photo given but the checkpoint is a realtime model/);
    failsWith(await paragon(['convert', RT, '-o', path.join(dir, 'no-such-dir', 'x.onnx')]), 2, 'no-such-dir');

    const broken = path.join(dir, 'broken.onnx');
    writeFileSync(broken, 'definitely not protobuf');
    failsWith(await paragon(['info', broken]), 3, broken);

    assert.ok(!existsSync(out), 'no output on failure');
    assert.deepEqual(readdirSync(dir).sort(), ['bad.safetensors', 'broken.onnx'], 'no temp files left');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
