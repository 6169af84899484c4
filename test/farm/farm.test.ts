/**
 * The farm end to end: a real Redis, real `paragon worker` processes and the real coordinator
 * (`paragon upscale --queue`), checked against the single-process run of the same video.
 * - The film clip (../shared; cuts at 90 and 210), scaled down so a CPU gets through it quickly
 *   (rotation and audio kept): every frame equal to the single-process run, audio, timestamps and
 *   rotation too; again with one worker killed (SIGKILL) mid-chunk and another stopped (SIGTERM).
 * - Redis gone mid-job: a clear exit 5; the job completes once Redis is back and the coordinator
 *   is rerun with --resume. Redis unreachable from the start: exit 5, nothing written. Redis that
 *   answers nothing, at the first check or while the chunks are being queued: exit 5 too, not a
 *   wait for ever; Ctrl+C there: exit 130 at once.
 * - Hostile job data is refused and the worker carries on.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { QUEUE_NAME } from '../../src/farm/redis.ts';
import { planId, splitChunks, type FarmPlan } from '../../src/farm/plan.ts';
import { PARAGON_VERSION } from '../../src/graph/model.ts';
import { locateFfmpeg } from '../../src/video/ffmpeg.ts';
import { has } from '../helpers/ffmpeg-features.ts';
import { ffmpeg, ffprobe, videoPts } from '../helpers/media.ts';
import { needShared, shared } from '../helpers/shared.ts';
import { decodeAll, needModel, packetHashes } from '../ffmpeg/upscale-helpers.ts';
import { freePort, freezingRelay, killAll, needRedis, paragon, startParagon, startWorker, TestRedis, type WorkerProc } from './harness.ts';

const skip = needRedis || needModel;
const skipFilm = skip || needShared('video', 'issue-134-rotate.mp4');
let redis: TestRedis;
let store = '';
let film = '';
let reference = '';
const at = (name: string): string => path.join(store, name);
const workers: WorkerProc[] = [];

/** Decoded frames of a file as one hash line each ("pts, md5"). */
function frameHashes(file: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(locateFfmpeg().ffmpeg, ['-hide_banner', '-loglevel', 'error', '-i', file, '-map', '0:v:0', '-f', 'framemd5', '-'], { maxBuffer: 64 << 20 }, (err, out, stderr) =>
      err ? reject(new Error(stderr || err.message)) : resolve(out.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(',').map((x) => x.trim()).slice(2).join(','))),
    );
  });
}

/** Rotation of the first video stream as stored (display matrix), or 0. */
async function rotation(file: string): Promise<number> {
  const out = await ffprobe(['-select_streams', 'v:0', '-show_entries', 'stream_side_data=rotation', '-of', 'csv=p=0', file]);
  return Number(out.trim().split('\n')[0] || 0);
}

/** Everything the single-process run and the farm's must agree on. */
async function assertSameVideo(file: string, ref: string): Promise<void> {
  assert.deepEqual(await frameHashes(file), await frameHashes(ref), `${path.basename(file)}: decoded frames differ from the single-process run`);
  assert.deepEqual(await videoPts(file), await videoPts(ref), 'video timestamps differ');
  assert.deepEqual(await packetHashes(file, 'a:0'), await packetHashes(ref, 'a:0'), 'audio differs');
  assert.equal(await rotation(file), await rotation(ref), 'rotation differs');
}

/** A 10-frame FFV1 clip of 64×48 in the storage. */
async function tinyClip(name: string): Promise<string> {
  const input = at(name);
  await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=64x48:r=25:d=0.4', '-c:v', 'ffv1', input]);
  return input;
}

const farmArgs = (out: string, extra: readonly string[] = []): string[] => [
  'upscale', film, '-o', out, '--codec', 'ffv1', '--temporal', '0.2', '--queue', redis.url, '--storage', store, '--chunk', '130', ...extra,
];

before(async () => {
  if (skip) return;
  redis = await TestRedis.start();
  store = await mkdtemp(path.join(os.tmpdir(), 'paragon-farm-'));
  workers.push(...(await Promise.all(['a', 'b', 'c'].map((name) => startWorker(name, redis.url, store)))));
  if (skipFilm) return;
  film = at('film.mp4');
  // The film clip at 192×82 (stored size), its rotation and audio kept: cuts at 90 and 210.
  await ffmpeg(['-noautorotate', '-i', shared('video', 'issue-134-rotate.mp4'), '-vf', 'scale=192:82', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-c:a', 'copy', film]);
  reference = at('single.mkv');
  const r = await paragon(['upscale', film, '-o', reference, '--codec', 'ffv1', '--temporal', '0.2', '--threads', '1']);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await killAll(workers);
  await redis?.stop();
  if (store) await rm(store, { recursive: true, force: true });
});

test('film clip on three workers: every frame, the audio, timestamps and rotation equal the single-process run', { skip: skipFilm }, async () => {
  const out = at('farm.mkv');
  const r = await paragon([...farmArgs(out), '--report', at('farm.json')]);
  assert.equal(r.code, 0, r.stderr);
  // Chunks: the shots [0,90), [90,210) and [210,240), each starting at a cut (the pre-roll is
  // tested on a long shot below).
  assert.match(r.stderr, /240 frames in 3 chunks \(2 scene cuts\)/);
  await assertSameVideo(out, reference);
  // The work folder is gone once the output is complete.
  assert.equal(existsSync(at('.paragon-farm')), false);
  // Every worker took part: the queue spread the chunks.
  for (const w of workers) assert.match(w.log(), /done in/, `worker ${w.name} ran no chunk`);
});

test('a worker killed with SIGKILL mid-chunk and one stopped with SIGTERM: the job completes, no chunk lost, same frames', { skip: skipFilm }, async () => {
  const out = at('farm-kill.mkv');
  const [a, b] = workers;
  const mark = { a: a!.log().length, b: b!.log().length };
  const run = startParagon(farmArgs(out));
  // Kill a the moment it starts a chunk: the chunk stays locked until its lock runs out (3 s).
  await a!.waitFor(/started/, mark.a);
  a!.child.kill('SIGKILL');
  // Stop b gracefully in the middle of a chunk: it finishes the chunk, then exits.
  await b!.waitFor(/started/, mark.b);
  b!.child.kill('SIGTERM');
  assert.equal(await b!.exited, 0, b!.log());
  assert.match(b!.log().slice(mark.b), /started[\s\S]*done in[\s\S]*worker stopped/, 'the chunk in hand was finished before the worker stopped');
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  await assertSameVideo(out, reference);
  // Fresh workers for the tests that follow.
  workers.splice(0, 2, ...(await Promise.all([startWorker('d', redis.url, store), startWorker('e', redis.url, store)])));
});

test('Redis gone mid-job: exit 5 naming it; rerun with --resume once it is back: the job completes, same frames', { skip: skipFilm }, async () => {
  const out = at('farm-redis.mkv');
  const from = workers.map((w) => w.log().length);
  const run = startParagon(farmArgs(out, ['--redis-timeout', '2']));
  // Once chunks run, freeze the workers (so none finishes meanwhile) and take Redis away.
  await Promise.race(workers.map((w, i) => w.waitFor(/started/, from[i], 120_000)));
  for (const w of workers) w.child.kill('SIGSTOP');
  await redis.stop();
  const r = await run.done;
  assert.equal(r.code, 5, r.stderr);
  const lines = r.stderr.trim().split('\n').filter((l) => !/frames \d+%|planning/.test(l));
  assert.match(lines.at(-1)!, new RegExp(`${redis.url}: Redis unreachable .* rerun with --resume once Redis is back`));
  assert.equal(existsSync(out), false, 'no output while chunks are missing');
  // The workers go on with the chunks in hand without Redis: the storage records them.
  for (const w of workers) w.child.kill('SIGCONT');
  const jobs = at('.paragon-farm');
  const finished = async (): Promise<number> => {
    const [dir] = await readdir(jobs);
    return (await readdir(path.join(jobs, dir!))).filter((n) => n.endsWith('.done.json')).length;
  };
  for (let i = 0; i < 600 && (await finished()) === 0; i++) await new Promise((res) => setTimeout(res, 100));
  await redis.start();
  // A bare rerun refuses to throw the finished chunks away; --resume continues.
  const again = await paragon(farmArgs(out));
  assert.equal(again.code, 2, again.stderr);
  assert.match(again.stderr, /add --resume to continue it/);
  const resumed = await paragon(farmArgs(out, ['--resume']));
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /already finished/);
  await assertSameVideo(out, reference);
});

test('Redis unreachable: exit 5, one line naming the URL, nothing written', { skip }, async () => {
  const url = `redis://127.0.0.1:${await freePort()}`;
  const out = at('never.mkv');
  const input = await tinyClip('tiny.mkv');
  const before = await readdir(at('.paragon-farm')).catch(() => []);
  const r = await paragon(['upscale', input, '-o', out, '--queue', url, '--storage', store]);
  assert.equal(r.code, 5, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`${url}: Redis unreachable \\(ECONNREFUSED\\); nothing was queued or written`));
  assert.equal(existsSync(out), false);
  assert.deepEqual(await readdir(at('.paragon-farm')).catch(() => []), before, 'no work folder made');
});

test('Redis that answers nothing at the first check: exit 5 once the check\'s deadline passes, one line, nothing written', { skip }, async () => {
  const relay = await freezingRelay(redis.port, 0);
  const out = at('never-frozen.mkv');
  try {
    const input = await tinyClip('tiny-never.mkv');
    const before = await readdir(at('.paragon-farm')).catch(() => []);
    const r = await paragon(['upscale', input, '-o', out, '--queue', relay.url, '--storage', store], 60_000);
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${relay.url}: Redis unreachable \\(.+\\); nothing was queued or written`));
    assert.equal(existsSync(out), false);
    assert.deepEqual(await readdir(at('.paragon-farm')).catch(() => []), before, 'no work folder made');
  } finally {
    await relay.close();
  }
});

test('Redis that stops answering while the chunks are queued: exit 5 after --redis-timeout, one line; --resume on a live Redis finishes the job', { skip }, async () => {
  // The relay lets the coordinator's first check through, then answers nothing: BullMQ would wait
  // for ever on the first queued chunk.
  const relay = await freezingRelay(redis.port, 1);
  const out = at('frozen.mkv');
  const input = await tinyClip('tiny-frozen.mkv');
  try {
    const r = await paragon(['upscale', input, '-o', out, '--codec', 'ffv1', '--queue', relay.url, '--storage', store, '--redis-timeout', '2'], 90_000);
    assert.equal(r.code, 5, r.stderr);
    const lines = r.stderr.trim().split('\n').filter((l) => !/frames \d+%|planning/.test(l));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`${relay.url}: Redis unreachable \\(.+\\); 0 of 10 frames are finished and kept in .*: rerun with --resume once Redis is back`));
    assert.equal(existsSync(out), false, 'no output');
  } finally {
    await relay.close();
  }
  const resumed = await paragon(['upscale', input, '-o', out, '--codec', 'ffv1', '--queue', redis.url, '--storage', store, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal((await frameHashes(out)).length, 10);
});

test('Ctrl+C while the chunks are queued on a Redis that answers nothing: exit 130, one line saying how many were queued', { skip }, async () => {
  const relay = await freezingRelay(redis.port, 1);
  const input = await tinyClip('tiny-stopped.mkv');
  try {
    const run = startParagon(['upscale', input, '-o', at('stopped.mkv'), '--codec', 'ffv1', '--queue', relay.url, '--storage', store, '--redis-timeout', '120'], 90_000);
    // Planned (the progress says so), then stuck on the first queued chunk: stop it there.
    for (let i = 0; i < 600 && !/planning: 10\/10/.test(run.stderr()); i++) await new Promise((res) => setTimeout(res, 100));
    await new Promise((res) => setTimeout(res, 500));
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 130, r.stderr);
    const lines = r.stderr.trim().split('\n').filter((l) => !/frames \d+%|planning/.test(l));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /stopped while queueing the chunks \(0 of 1 queued; 0 of 10 frames finished, in .*\): rerun with --resume/);
    assert.equal(existsSync(at('stopped.mkv')), false, 'no output');
  } finally {
    await relay.close();
  }
});

test('hostile job data is refused (paths out of the storage, unknown fields) and the worker carries on', { skip }, async () => {
  const outside = await mkdtemp(path.join(os.tmpdir(), 'paragon-outside-'));
  const queue = new Queue(QUEUE_NAME, { connection: { url: redis.url } });
  queue.on('error', () => undefined);
  try {
    // A plan that is well formed but names a file outside the storage, directly or through a link.
    const plan = async (key: string, input: string): Promise<string> => {
      const dir = at(path.join('.paragon-farm', key));
      await mkdir(dir, { recursive: true });
      const body: Omit<FarmPlan, 'id'> = {
        version: 1,
        producer: PARAGON_VERSION,
        input: { path: input, bytes: 1, mtimeMs: 1 },
        ext: '.mkv',
        settings: { model: { name: 'paragon-realtime-2x', sha256: '0'.repeat(64) }, fp16: false, tile: 0, historyWeight: 0.2, codec: 'ffv1', crf: null, preset: null },
        chunkFrames: 10,
        preroll: 0,
        frames: 10,
        pts: Array.from({ length: 10 }, (_, i) => i / 25),
        cuts: [],
        chunks: splitChunks(10, [], 10, 0),
      };
      const { version, producer, ...rest } = body;
      const id = planId(body);
      await writeFile(path.join(dir, 'plan.json'), JSON.stringify({ version, producer, id, ...rest }));
      return id;
    };
    await writeFile(path.join(outside, 'secret.mp4'), 'not for workers');
    await symlink(outside, at('link'));
    const k1 = 'a'.repeat(16);
    const k2 = 'b'.repeat(16);
    const hostile: [string, Record<string, unknown>, RegExp][] = [
      ['traversal', { v: 1, key: '../../../etc', plan: '0'.repeat(16), chunk: 0 }, /not a farm job id/],
      ['extra', { v: 1, key: k1, plan: '0'.repeat(16), chunk: 0, ffmpeg: '/bin/sh' }, /unexpected fields ffmpeg/],
      ['escape', { v: 1, key: k1, plan: await plan(k1, '../secret.mp4'), chunk: 0 }, /only plain relative paths/],
      ['link', { v: 1, key: k2, plan: await plan(k2, 'link/secret.mp4'), chunk: 0 }, /leads outside the storage/],
    ];
    for (const [name, data] of hostile) await queue.add('chunk', data as never, { jobId: `hostile-${name}`, attempts: 3 });
    for (const [name, , reason] of hostile) {
      let state = '';
      for (let i = 0; i < 200 && state !== 'failed'; i++) {
        state = (await (await queue.getJob(`hostile-${name}`))?.getState()) ?? '';
        if (state !== 'failed') await new Promise((r) => setTimeout(r, 50));
      }
      const job = await queue.getJob(`hostile-${name}`);
      assert.equal(state, 'failed', `${name}: ${state}`);
      assert.match(job!.failedReason, /^E2 refused: /, name);
      assert.match(job!.failedReason, reason, name);
      // Refused at once: no retry spent on it.
      assert.equal(job!.attemptsMade, 1, name);
    }
    for (const w of workers) assert.equal(w.child.exitCode, null, `worker ${w.name} is still running`);
  } finally {
    await queue.close();
    await rm(outside, { recursive: true, force: true });
    await rm(at('link'), { force: true });
    await rm(at('.paragon-farm'), { recursive: true, force: true });
  }
});

/** Per-frame largest sample difference and PSNR (dB, 8-bit scale) of two videos of equal frames. */
async function frameErrors(file: string, ref: string): Promise<{ max: number; psnr: number }[]> {
  const [a, b] = [await decodeAll(file), await decodeAll(ref)];
  assert.equal(a.length, b.length, 'frame counts differ');
  return a.map((f, i) => {
    const g = b[i]!;
    let max = 0;
    let se = 0;
    for (let k = 0; k < f.data.length; k++) {
      const d = Math.abs(f.data[k]! - g.data[k]!);
      if (d > max) max = d;
      se += d * d;
    }
    return { max, psnr: se === 0 ? Infinity : 10 * Math.log10((255 * 255 * f.data.length) / se) };
  });
}

test('noisy shots, one long, on the farm under --temporal auto: chunks at cuts exact, pre-roll chunks within the documented bound, every timestamp kept', { skip }, async () => {
  // Two noisy shots, cut at frame 24: chunks [0,24) and [24,48) start at cuts, [48,72) and [72,96)
  // inside the second shot, warmed by a pre-roll. Variable frame rate (every third frame held twice
  // as long). With noise the estimator of --temporal auto opens its gate: history is kept.
  const clip = at('noisy.mkv');
  await ffmpeg([
    '-f', 'lavfi', '-i', 'mandelbrot=size=96x64:rate=24,noise=alls=12:allf=t+u', '-f', 'lavfi', '-i', 'testsrc2=size=96x64:rate=24,noise=alls=12:allf=t+u',
    '-filter_complex', '[0]trim=end_frame=24[a];[1]trim=end_frame=72,setpts=PTS-STARTPTS[b];[a][b]concat=n=2:v=1,setpts=(N+floor(N/3))/(24*TB)',
    // -fps_mode arrived in ffmpeg 5.1; older builds (the npm-installed one) spell it -vsync.
    (await has({ option: 'fps_mode' })) ? '-fps_mode' : '-vsync', 'passthrough', '-c:v', 'ffv1', clip,
  ]);
  // (A fixed weight W converges faster, by W^K: docs/farm.md; the film test runs W 0.2 at cuts.)
  for (const [weight, preroll] of [['auto', '32']] as const) {
    const single = at(`noisy-single-${weight}.mkv`);
    const farm = at(`noisy-farm-${weight}.mkv`);
    const s = await paragon(['upscale', clip, '-o', single, '--codec', 'ffv1', '--temporal', weight]);
    assert.equal(s.code, 0, s.stderr);
    const r = await paragon(['upscale', clip, '-o', farm, '--codec', 'ffv1', '--temporal', weight, '--queue', redis.url, '--storage', store, '--chunk', '24', '--preroll', preroll]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /96 frames in 4 chunks \(1 scene cuts\)/);
    assert.deepEqual(await videoPts(farm), await videoPts(single), `${weight}: timestamps`);
    const errors = await frameErrors(farm, single);
    // The chunks that start at a cut give the single-process frames bit for bit (a cut resets all
    // the temporal state, the noise level of auto included).
    assert.ok(errors.slice(0, 48).every((e) => e.max === 0), `${weight}: ${errors.slice(0, 48).map((e) => e.max).join(' ')}`);
    // auto keeps up to 0.8 of the history on still noise: docs/farm.md measures what K = 32 gives.
    const worst = Math.min(...errors.map((e) => e.psnr));
    assert.ok(worst >= 50, `auto: worst frame ${worst.toFixed(1)} dB against the single-process run`);
  }
});

test('a chunk that fails for good fails the job at once, naming the chunk, its frames, the worker and the cause', { skip }, async () => {
  // A queue of its own (database 1) and a worker whose --storage is not the coordinator's: it
  // cannot see the plan, as on a machine where the share is not mounted.
  const queue = `${redis.url}/1`;
  const elsewhere = await mkdtemp(path.join(os.tmpdir(), 'paragon-not-shared-'));
  const lone = await startWorker('lone', queue, elsewhere);
  try {
    const input = at('fail.mkv');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=64x48:r=25:d=0.8', '-c:v', 'ffv1', input]);
    const r = await paragon(['upscale', input, '-o', at('fail-out.mkv'), '--queue', queue, '--storage', store, '--chunk', '10']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /chunk \d+\/2 \(frames \d+–\d+\) failed on lone: refused: no plan in .*is the storage shared with the coordinator/);
    assert.match(r.stderr, /rerun with --resume once the cause is fixed/);
    assert.equal(existsSync(at('fail-out.mkv')), false);
  } finally {
    await killAll([lone]);
    await rm(elsewhere, { recursive: true, force: true });
  }
});

test('a transient failure (ffmpeg dying once) is retried by the queue after its backoff, and the job completes', { skip }, async () => {
  // The worker's own ffmpeg (its --ffmpeg, never job data): a wrapper that fails the first encode.
  const bin = await mkdtemp(path.join(os.tmpdir(), 'paragon-flaky-'));
  const real = locateFfmpeg();
  await writeFile(
    path.join(bin, 'ffmpeg'),
    `#!/bin/sh\ncase "$*" in *"-c:v"*) if [ ! -e "${bin}/failed" ]; then : > "${bin}/failed"; echo "simulated crash" >&2; exit 1; fi;; esac\nexec "${real.ffmpeg}" "$@"\n`,
    { mode: 0o755 },
  );
  await symlink(real.ffprobe, path.join(bin, 'ffprobe'));
  const queue = `${redis.url}/2`;
  const flaky = await startWorker('flaky', queue, store, ['--ffmpeg', path.join(bin, 'ffmpeg')]);
  try {
    const input = await tinyClip('flaky.mkv');
    const r = await paragon(['upscale', input, '-o', at('flaky-out.mkv'), '--codec', 'ffv1', '--queue', queue, '--storage', store]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(flaky.log(), /chunk job \S+: .*simulated crash[\s\S]*done in/, flaky.log());
    assert.equal(existsSync(path.join(bin, 'failed')), true);
  } finally {
    await killAll([flaky]);
    await rm(bin, { recursive: true, force: true });
  }
});
