/**
 * The checkpoint's `progress.json` is trusted only when it is one of ours, whole and consistent:
 * foreign JSON, another version, names that lead out of the folder, segments that do not follow
 * one another, or spool timestamps that do not match the frames are refused with a reason (the run
 * then starts over with a notice; test/ffmpeg/resume.test.ts shows that end to end). Also the
 * checkpoint interval setting and the interruption test seam's syntax.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { framesIn, parseManifest, type Manifest } from '../../src/pipeline/manifest.ts';
import { checkpointSeconds } from '../../src/pipeline/video.ts';
import { interruptHook } from '../../src/pipeline/test-hook.ts';

const good = {
  version: 2,
  identity: { input: '/v/in.mp4', inputBytes: 1000, inputMtimeMs: 1.5, settings: { model: 'abc', codec: 'x264', from: 10, to: null } },
  segmentFrames: 16,
  commits: 3,
  segments: [
    { file: 'seg-000000.mp4', first: 10, frames: 16, startUs: 400000, bytes: 5000 },
    { file: 'seg-000001.mp4', first: 26, frames: 16, startUs: 1040000, bytes: 4000 },
  ],
  open: { first: 42, parts: [{ file: 'spool-00000042.mkv', first: 42, frames: 2, bytes: 900, pts: [1.68, 1.72] }] },
  complete: false,
  state: { file: 'state-3.f32', length: 96 },
  weights: null,
  last: { width: 64, height: 48 },
  stats: { frames: 34, resets: 1, nanReruns: 0, nonFinite: 0, tile: 0, runs: 34 },
  device: 'cpu',
  sceneCuts: [30],
  shift: 0.4,
  firstPts: 0.4,
  lastPts: 1.72,
};

/** `good` with a change made by `edit`, as text. */
const variant = (edit: (m: any) => void): string => {
  const m = structuredClone(good);
  edit(m);
  return JSON.stringify(m);
};

test('a consistent manifest is accepted and its frames counted (segments and spool)', () => {
  const m = parseManifest(JSON.stringify(good));
  assert.equal(typeof m, 'object');
  assert.equal(framesIn(m as Manifest), 34);
  // The estimator's planes, on a large frame's half plane with the frame's own luma.
  const half = variant((x) => (x.weights = { file: 'weights-3.f32', width: 320, height: 180, frameWidth: 640, frameHeight: 360, noiseVar: 1.2, residual: [0.1, -0.02, 0.03, 0.12], parts: ['prev', 'ref', 'refVar', 'difference', 'frame'] }));
  assert.equal(typeof parseManifest(half), 'object');
});

test('foreign, older, malformed or inconsistent manifests are refused with a reason', () => {
  const cases: [string, RegExp][] = [
    ['{"version": 2, "segm', /not JSON/],
    ['[1, 2, 3]', /not a paragon checkpoint/],
    ['{"name": "some other tool", "version": "1.0"}', /not a paragon checkpoint/],
    [variant((m) => (m.version = 1)), /another paragon version \(1\)/],
    [variant((m) => (m.segments[1].file = '../../../etc/passwd')), /malformed segment/],
    [variant((m) => (m.state.file = '/tmp/x.f32')), /malformed state/],
    [variant((m) => (m.segments[1].first = 27)), /seg-000001\.mp4 does not follow/],
    [variant((m) => (m.segments[0].first = 0)), /seg-000000\.mp4 does not follow/], // the range starts at 10
    [variant((m) => (m.open.first = 40)), /open segment does not follow/],
    [variant((m) => m.open.parts[0].pts.pop()), /spool part spool-00000042\.mkv is inconsistent/],
    [variant((m) => (m.open.parts[0].pts[1] = 'x')), /inconsistent/],
    [variant((m) => (m.complete = true)), /complete with a segment still open/],
    [variant((m) => (m.segments[0].bytes = 0)), /malformed segment/],
    [variant((m) => delete m.identity.settings.from), /no valid range/],
    [variant((m) => (m.stats.frames = 'many')), /malformed counters/],
    [variant((m) => (m.weights = { file: 'w.f32', width: 4, height: 4, noiseVar: null, parts: ['prev', 'evil'] })), /malformed weights/],
    [variant((m) => (m.weights = { file: 'w.f32', width: 4, height: 4, frameWidth: 8, noiseVar: null, parts: ['prev', 'frame'] })), /malformed weights/],
    [variant((m) => (m.weights = { file: 'w.f32', width: 4, height: 4, frameWidth: 8, frameHeight: 0.5, noiseVar: null, parts: ['prev', 'frame'] })), /malformed weights/],
    [variant((m) => (m.weights = { file: 'w.f32', width: 4, height: 4, noiseVar: null, residual: [0.1, 0.2], parts: ['prev'] })), /malformed weights/],
    [variant((m) => (m.weights = { file: 'w.f32', width: 4, height: 4, noiseVar: null, residual: [0.1, 0.2, 'x', 0], parts: ['prev'] })), /malformed weights/],
  ];
  for (const [text, why] of cases) {
    const r = parseManifest(text);
    assert.equal(typeof r, 'string', `accepted: ${text.slice(0, 80)}`);
    assert.match(r as string, why);
  }
});

test('checkpoint interval: the option, else PARAGON_CHECKPOINT_SECONDS, else 30 s; nonsense is a usage error', () => {
  assert.equal(checkpointSeconds(undefined, {}), 30);
  assert.equal(checkpointSeconds(undefined, { PARAGON_CHECKPOINT_SECONDS: '0.5' }), 0.5);
  assert.equal(checkpointSeconds(5, { PARAGON_CHECKPOINT_SECONDS: '0.5' }), 5);
  assert.throws(() => checkpointSeconds(undefined, { PARAGON_CHECKPOINT_SECONDS: 'soon' }), /PARAGON_CHECKPOINT_SECONDS soon: expected seconds ≥ 0/);
  assert.throws(() => checkpointSeconds(-1, {}), { code: 2 });
});

test('the interruption seam: frame=N or join, one or more signals; anything else is no hook', () => {
  const a = interruptHook({ PARAGON_TEST_INTERRUPT: 'frame=12:SIGTERM' });
  assert.deepEqual([a?.frame, a?.join], [12, false]);
  const b = interruptHook({ PARAGON_TEST_INTERRUPT: 'join:SIGINT,SIGINT' });
  assert.deepEqual([b?.frame, b?.join], [undefined, true]);
  for (const bad of [undefined, '', 'frame=x:SIGINT', 'frame=3', 'later:SIGINT', 'frame=3:sigint']) assert.equal(interruptHook({ PARAGON_TEST_INTERRUPT: bad }), undefined, String(bad));
});
