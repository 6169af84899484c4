/**
 * A test seam for interruptions at exact points, which a test driving the CLI from outside cannot
 * hit (progress lines are throttled, and a run of a tiny clip takes a second):
 * `PARAGON_TEST_INTERRUPT=WHEN:SIGNAL[,SIGNAL…]` makes a video run send itself the signals, each
 * a moment after the one before (a second Ctrl+C is a second event), where WHEN is `frame=N` (once
 * output frame N, counted from the start of the range, has gone to the encoder) or `join` (once
 * the final join's ffmpeg runs). The signal itself is real: what follows is the real handling.
 */

/** A parsed `PARAGON_TEST_INTERRUPT`. */
export interface InterruptHook {
  readonly frame: number | undefined;
  readonly join: boolean;
  /** Send the signals (once). */
  fire(): void;
}

/** The hook the environment asks for, if any. */
export function interruptHook(env: NodeJS.ProcessEnv = process.env): InterruptHook | undefined {
  const spec = env.PARAGON_TEST_INTERRUPT;
  const m = spec ? /^(?:frame=(\d+)|(join)):((?:SIG[A-Z]+,?)+)$/.exec(spec) : null;
  if (!m) return undefined;
  const signals = m[3]!.split(',').filter(Boolean) as NodeJS.Signals[];
  let fired = false;
  return {
    frame: m[1] !== undefined ? Number(m[1]) : undefined,
    join: m[2] !== undefined,
    fire() {
      if (fired) return;
      fired = true;
      signals.forEach((sig, i) => (i === 0 ? process.kill(process.pid, sig) : setTimeout(() => process.kill(process.pid, sig), i * 50)));
    },
  };
}
