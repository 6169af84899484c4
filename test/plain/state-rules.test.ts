/**
 * The history rules both frame engines follow: weight 0 on the first frame, after a cut, a seek
 * or a size change; the weight otherwise; no state at all with weight 0.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HistoryRules, decideHistory } from '../../src/temporal/state-rules.ts';
import { isParagonError } from '../../src/errors.ts';

const size = { width: 64, height: 48 };

test('decideHistory: the reset reasons, in order of precedence', () => {
  assert.deepEqual(decideHistory(0.2, true, size, size), { alpha: 0.2, reset: undefined, keep: true });
  assert.deepEqual(decideHistory(0.2, false, undefined, size), { alpha: 0, reset: 'first', keep: true });
  assert.deepEqual(decideHistory(0.2, true, size, { width: 64, height: 50 }), { alpha: 0, reset: 'size', keep: true });
  assert.deepEqual(decideHistory(0.2, true, size, { ...size, seek: true, cut: true }), { alpha: 0, reset: 'seek', keep: true });
  assert.deepEqual(decideHistory(0.2, true, size, { ...size, cut: true }), { alpha: 0, reset: 'cut', keep: true });
  assert.deepEqual(decideHistory(0, true, size, size), { alpha: 0, reset: 'off', keep: false });
});

test('HistoryRules over a sequence: first, cut, seek, size change and weight changes', () => {
  const r = new HistoryRules(0.3);
  const run = (ev: { width: number; height: number; cut?: boolean }) => {
    const d = r.next(ev);
    r.done(ev, d);
    return d.reset ?? d.alpha;
  };
  assert.equal(run(size), 'first');
  assert.equal(run(size), 0.3);
  assert.equal(run({ ...size, cut: true }), 'cut');
  assert.equal(run(size), 0.3);
  r.seeked();
  assert.equal(run(size), 'seek');
  assert.equal(run({ width: 32, height: 32 }), 'size');
  r.weight = 0;
  assert.equal(run({ width: 32, height: 32 }), 'off');
  r.weight = 0.5;
  assert.equal(run({ width: 32, height: 32 }), 'first', 'no state was kept at weight 0');
  assert.equal(run({ width: 32, height: 32 }), 0.5);
  r.forget();
  assert.equal(run({ width: 32, height: 32 }), 'first');
  assert.equal(r.resets, 3, 'cut, seek and size change count; first frames and weight 0 do not');
});

test('a history weight outside [0, 1) is a usage error', () => {
  for (const w of [-0.1, 1, Number.NaN]) assert.throws(() => new HistoryRules(w), (e) => isParagonError(e, 'usage'));
});
