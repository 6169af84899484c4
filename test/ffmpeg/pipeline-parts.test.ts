/**
 * Parts of the video pipeline on their own: the bounded look-ahead between stages (order, bound,
 * errors, early stop), the concat script that keeps timestamps exact, start-time parsing, the
 * `--frames` syntax, and the progress line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concatScript } from '../../src/pipeline/mux.ts';
import { Progress } from '../../src/pipeline/progress.ts';
import { parseStartUs } from '../../src/pipeline/resume.ts';
import { ahead } from '../../src/pipeline/stages.ts';
import { parseFrames } from '../../src/pipeline/video.ts';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('ahead: items in order, the source never more than `depth` ahead of a slow consumer', async () => {
  let produced = 0;
  async function* source() {
    for (let i = 0; i < 10; i++) {
      produced = i + 1;
      yield i;
    }
  }
  const seen: number[] = [];
  for await (const v of ahead(source(), 3)) {
    for (let k = 0; k < 5; k++) await tick();
    // Consumed v + 1 items; the producer holds at most 3 more, plus the one it is pulling.
    assert.ok(produced - (v + 1) <= 4, `produced ${produced} while consuming ${v}`);
    seen.push(v);
  }
  assert.deepEqual(seen, [...Array(10).keys()]);
});

test('ahead: a source error reaches the consumer after the items before it; an early stop closes the source', async () => {
  async function* failing() {
    yield 1;
    yield 2;
    throw new Error('decoder died');
  }
  const got: number[] = [];
  await assert.rejects(async () => {
    for await (const v of ahead(failing(), 4)) got.push(v);
  }, /decoder died/);
  assert.deepEqual(got, [1, 2]);

  let closed = false;
  async function* endless() {
    try {
      for (let i = 0; ; i++) yield i;
    } finally {
      closed = true;
    }
  }
  for await (const v of ahead(endless(), 2)) if (v === 3) break;
  assert.equal(closed, true);
});

test('concat script: durations are exact differences of the files\' start times; names are quoted', () => {
  const text = concatScript([
    { file: "/tmp/a dir/it's.mkv", startUs: 0 },
    { file: '/tmp/b.mkv', startUs: 10_010_000 },
    { file: '/tmp/c.mkv', startUs: 10_427_083 },
  ]);
  assert.equal(text, "ffconcat version 1.0\nfile '/tmp/a dir/it'\\''s.mkv'\nduration 10.010000\nfile '/tmp/b.mkv'\nduration 0.417083\nfile '/tmp/c.mkv'\n");
  // Files without a start time (Matroska written without one) count as starting at 0.
  assert.match(concatScript([{ file: '/x.mkv', startUs: null }, { file: '/y.mkv', startUs: null }]), /duration 0\.000000\n/);
});

test('start times parse to whole microseconds; N/A is none', () => {
  assert.equal(parseStartUs('0.233000\n'), 233_000);
  assert.equal(parseStartUs('-0.023220'), -23_220);
  assert.equal(parseStartUs('12'), 12_000_000);
  assert.equal(parseStartUs('N/A\n'), null);
});

test('--frames: FROM:TO with either side optional, TO excluded; bad ranges are usage errors', () => {
  assert.deepEqual(parseFrames('10:20'), { from: 10, to: 20 });
  assert.deepEqual(parseFrames('250:'), { from: 250, to: undefined });
  assert.deepEqual(parseFrames(':48'), { from: 0, to: 48 });
  for (const bad of ['20:10', '5:5', 'abc', '1:2:3', '-1:4']) assert.throws(() => parseFrames(bad), (e: Error & { code?: number }) => e.code === 2, bad);
});

test('progress: JSON updates with frames, total, fps and ETA; resumed frames count as done but not in the rate', async () => {
  const events: Record<string, unknown>[] = [];
  const p = new Progress({ mode: 'json', json: (e) => events.push(e) }, 100, 40);
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 10; i++) p.tick();
  const first = events[0]!;
  assert.deepEqual([first.event, first.frames, first.total], ['progress', 41, 100]);
  const fps = first.fps as number;
  assert.ok(fps > 0 && fps < 1 / 0.05 + 1, `fps ${fps} counts only this run's frame`);
  assert.ok(Math.abs((first.eta as number) - 59 / fps) < 0.2, `eta ${first.eta}`);
  // The end shows what was done as the total (the container's count was an estimate).
  p.end();
  const last = events.at(-1)!;
  assert.deepEqual([last.event, last.frames, last.total, last.eta], ['progress', 50, 50, 0]);
});
