/**
 * Interruption: SIGINT (Ctrl+C), SIGTERM (`kill`, `docker stop`, job managers) and SIGHUP (the
 * terminal closed). The first one aborts {@link interrupted}; long-running commands pass its signal
 * down and stop cleanly (a video finishes the frames in the model and keeps every finished frame
 * for --resume), then end with ParagonError('interrupted'). A second signal, or a first one that
 * nothing listens to, exits at once (the ffmpeg children are killed on the way out, see
 * video/ffmpeg.ts). The exit status is 128 + the first signal's number: 130 SIGINT, 143 SIGTERM,
 * 129 SIGHUP (README "Exit codes").
 */
import { ExitCode } from '../errors.ts';

const controller = new AbortController();

/** Aborted on the first SIGINT, SIGTERM or SIGHUP. */
export const interrupted: AbortSignal = controller.signal;

const NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
let first: NodeJS.Signals | undefined;

/** Exit status of an interrupted command: 128 + the number of the signal that interrupted it (130 when none did). */
export function interruptExitCode(): number {
  const n = first !== undefined ? NUMBERS[first] : undefined;
  return n !== undefined ? 128 + n : ExitCode.interrupted;
}

let installed = false;

/** Install the signal handlers (the CLI entry does this once). */
export function onInterrupt(): void {
  if (installed) return;
  installed = true;
  const handler = (sig: NodeJS.Signals): void => {
    // The terminal is gone: writing to it fails (EIO), which must not end the clean-up.
    if (sig === 'SIGHUP') for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined);
    const again = controller.signal.aborted;
    if (again || !hasListeners()) {
      first ??= sig;
      const nl = process.stderr.isTTY ? '\n' : '';
      process.stderr.write(again ? `${nl}paragon: interrupted again (${sig}): quit at once\n` : `${nl}paragon: interrupted\n`);
      process.exit(interruptExitCode());
    }
    first = sig;
    // Nothing printed here: the command ends with one line saying what was kept.
    controller.abort(new Error(`interrupted (${sig})`));
  };
  for (const sig of Object.keys(NUMBERS) as NodeJS.Signals[]) process.on(sig, handler);
}

let listeners = 0;
const hasListeners = (): boolean => listeners > 0;

/**
 * Mark that the current command handles interruption through {@link interrupted}; returns a function
 * that unmarks it. Without a claim, a signal exits at once (nothing to clean up).
 */
export function claimInterrupt(): () => void {
  listeners++;
  let done = false;
  return () => {
    if (!done) listeners--;
    done = true;
  };
}
