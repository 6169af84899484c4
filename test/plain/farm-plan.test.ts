/**
 * The farm's pure parts: how a video is cut into chunks, what a worker accepts from a plan and
 * from job data, where a path from a plan may lead, and what `--queue` accepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkPlan, planId, splitChunks, type FarmPlan } from '../../src/farm/plan.ts';
import { parseQueueUrl } from '../../src/farm/redis.ts';
import { RefusedPath, Storage } from '../../src/farm/storage.ts';
import { checkJobData } from '../../src/farm/worker.ts';
import { isParagonError } from '../../src/errors.ts';

test('chunks: whole shots packed up to the limit, long shots split evenly with a pre-roll inside the shot, the video covered once', () => {
  const cases: [number, number[], number, number][] = [
    [240, [90, 210], 60, 32],
    [240, [90, 210], 130, 32],
    [240, [90, 210], 1000, 32],
    [1000, [], 300, 48],
    [500, [3, 4, 5, 200, 201, 499], 100, 10],
    [7, [], 1, 5],
  ];
  for (const [frames, cuts, max, preroll] of cases) {
    const chunks = splitChunks(frames, cuts, max, preroll);
    let next = 0;
    const shotOf = (i: number): number => [0, ...cuts].filter((c) => c <= i).at(-1)!;
    for (const [k, c] of chunks.entries()) {
      assert.equal(c.index, k);
      assert.equal(c.first, next, 'contiguous');
      assert.ok(c.frames >= 1 && c.frames <= max, `chunk ${k} has ${c.frames} frames (max ${max})`);
      next += c.frames;
      const startsShot = c.first === 0 || cuts.includes(c.first);
      // A chunk starts at a cut (exact) or inside a shot, warmed only by frames of that shot.
      if (startsShot) assert.equal(c.preroll, 0);
      else assert.equal(c.preroll, Math.min(preroll, c.first - shotOf(c.first)), `chunk ${k} pre-roll`);
    }
    assert.equal(next, frames, 'every frame once');
  }
  // Short shots share a chunk; a cut never falls inside a split piece of a long shot.
  assert.deepEqual(
    splitChunks(240, [90, 210], 130, 32).map((c) => [c.first, c.frames, c.preroll]),
    [[0, 90, 0], [90, 120, 0], [210, 30, 0]],
  );
  assert.deepEqual(
    splitChunks(240, [90, 210], 60, 32).map((c) => [c.first, c.frames, c.preroll]),
    [[0, 45, 0], [45, 45, 32], [90, 60, 0], [150, 60, 32], [210, 30, 0]],
  );
});

/** A valid plan to spoil. */
function samplePlan(): FarmPlan {
  const body: Omit<FarmPlan, 'id'> = {
    version: 1,
    producer: '0.1.0',
    input: { path: 'in/film.mp4', bytes: 1000, mtimeMs: 1.5 },
    ext: '.mkv',
    settings: { model: { name: 'paragon-realtime-2x', sha256: 'f'.repeat(64) }, fp16: false, tile: 0, historyWeight: 'auto', codec: 'ffv1', crf: null, preset: null },
    chunkFrames: 4,
    preroll: 2,
    frames: 10,
    pts: Array.from({ length: 10 }, (_, i) => i * 0.04),
    cuts: [5],
    chunks: splitChunks(10, [5], 4, 2),
  };
  const { version, producer, ...rest } = body;
  return { version, producer, id: planId(body), ...rest };
}

test('plans: a well-formed plan passes; unknown fields, bad values, broken chunking and a wrong id are refused', () => {
  const good = samplePlan();
  assert.deepEqual(checkPlan(JSON.parse(JSON.stringify(good))), good);
  const spoil = (f: (p: Record<string, any>) => void): unknown => {
    const p = JSON.parse(JSON.stringify(good));
    f(p);
    return p;
  };
  const bad: [string, unknown, RegExp][] = [
    ['extra field', spoil((p) => (p.ffmpeg = '/bin/sh')), /unknown fields ffmpeg/],
    ['extra setting', spoil((p) => (p.settings.command = 'x')), /unknown settings command/],
    ['codec', spoil((p) => (p.settings.codec = 'libx264 -vf')), /codec/],
    ['preset with spaces', spoil((p) => (p.settings.preset = 'slow -y /etc/passwd')), /preset/],
    ['model path and name', spoil((p) => (p.settings.model = { name: 'a', path: 'b', sha256: 'f'.repeat(64) })), /model/],
    ['history weight', spoil((p) => (p.settings.historyWeight = 1)), /historyWeight/],
    ['gap between chunks', spoil((p) => (p.chunks[1].first += 1)), /chunk 1/],
    ['pre-roll before the video', spoil((p) => (p.chunks[0].preroll = 1)), /chunk 0/],
    ['unsorted cuts', spoil((p) => (p.cuts = [5, 3])), /cuts/],
    ['pts count', spoil((p) => p.pts.pop()), /pts/],
    ['tampered content', spoil((p) => (p.input.path = 'other.mp4')), /id does not match/],
    ['not an object', 'plan', /not an object/],
  ];
  for (const [name, plan, re] of bad) assert.throws(() => checkPlan(plan), (e: unknown) => e instanceof RefusedPath && re.test(e.message), name);
});

test('job data: exactly {v, key, plan, chunk}; ids that are not hex, extra fields and odd chunks are refused', () => {
  const ok = { v: 1, key: '0123456789abcdef', plan: 'fedcba9876543210', chunk: 3 };
  assert.deepEqual(checkJobData(ok), ok);
  for (const bad of [
    { ...ok, key: '../../etc/passwd' },
    { ...ok, key: '/abs' },
    { ...ok, plan: 'x'.repeat(16) },
    { ...ok, chunk: -1 },
    { ...ok, chunk: 1.5 },
    { ...ok, v: 2 },
    { ...ok, ffmpeg: '/bin/sh' },
    { ...ok, input: '/etc/shadow' },
    null,
    [ok],
  ])
    assert.throws(() => checkJobData(bad), RefusedPath, JSON.stringify(bad));
});

test('storage: relative paths inside the root resolve; absolute paths, .. and links that lead out are refused', async () => {
  const base = await mkdtemp(path.join(os.tmpdir(), 'paragon-storage-'));
  try {
    const root = path.join(base, 'root');
    const outside = path.join(base, 'outside');
    await mkdir(path.join(root, 'in'), { recursive: true });
    await mkdir(outside);
    await writeFile(path.join(root, 'in', 'a.mp4'), 'x');
    await writeFile(path.join(outside, 'secret'), 'x');
    await symlink(outside, path.join(root, 'out-link'));
    await symlink(path.join(root, 'in'), path.join(root, 'in-link'));
    const s = await Storage.open(root);
    assert.equal(await s.resolve('in/a.mp4', 'input'), path.join(s.root, 'in', 'a.mp4'));
    // A link that stays inside is followed.
    assert.equal(await s.resolve('in-link/a.mp4', 'input'), path.join(s.root, 'in', 'a.mp4'));
    for (const p of ['/etc/passwd', '../outside/secret', 'in/../../outside/secret', 'out-link/secret', 'out-link/new-file', './in/a.mp4', 'in//a.mp4', 'C:/x', 'in\\a.mp4', '', 'a\0b', 42])
      await assert.rejects(s.resolve(p, 'input'), RefusedPath, String(p));
    // Coordinator side: files outside the root cannot be planned (workers could not reach them).
    assert.equal(await s.relative(path.join(root, 'in', 'a.mp4'), 'input'), 'in/a.mp4');
    await assert.rejects(s.relative(path.join(outside, 'secret'), 'input'), (e: unknown) => isParagonError(e, 'usage') && /must be inside the shared storage/.test((e as Error).message));
    await assert.rejects(Storage.open(path.join(base, 'missing')), (e: unknown) => isParagonError(e, 'usage') && /no such folder/.test((e as Error).message));
    await assert.rejects(s.jobDir('../x'), RefusedPath);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test('--queue: redis:// and rediss:// URLs with host, port and database; anything else is a usage error; passwords never shown', () => {
  assert.equal(parseQueueUrl('redis://10.0.0.5:6379/2').display, 'redis://10.0.0.5:6379/2');
  assert.equal(parseQueueUrl('rediss://farm.example:6380').url, 'rediss://farm.example:6380');
  assert.equal(parseQueueUrl('redis://:s3cret@host:6379/0').display, 'redis://:***@host:6379/0');
  for (const bad of ['localhost:6379', 'http://host:6379', 'redis://host:6379/db', 'redis://host:6379/0?x=1', 'redis://', 'not a url'])
    assert.throws(() => parseQueueUrl(bad), (e: unknown) => isParagonError(e, 'usage'), bad);
});
