/**
 * Ctrl+C handling. The first SIGINT aborts {@link interrupted}; long-running commands pass its signal
 * down (ffmpeg processes, workers, temp files) so they stop cleanly, remove partial outputs, and end
 * with ParagonError('interrupted') → exit 130. A second SIGINT, or a first one that nothing listens
 * to, exits at once with 130.
 */
import { ExitCode } from '../errors.ts';

const controller = new AbortController();

/** Aborted on the first Ctrl+C (SIGINT) or SIGTERM. */
export const interrupted: AbortSignal = controller.signal;

let installed = false;

/** Install the SIGINT/SIGTERM handlers (the CLI entry does this once). */
export function onInterrupt(): void {
  if (installed) return;
  installed = true;
  const handler = (sig: NodeJS.Signals): void => {
    const listening = hasListeners();
    if (controller.signal.aborted || !listening) {
      process.stderr.write(`\nparagon: interrupted\n`);
      process.exit(ExitCode.interrupted);
    }
    process.stderr.write(`\nparagon: interrupted (${sig}); cleaning up, press Ctrl+C again to quit at once\n`);
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

let listeners = 0;
const hasListeners = (): boolean => listeners > 0;

/**
 * Mark that the current command handles interruption through {@link interrupted}; returns a function
 * that unmarks it. Without a claim, Ctrl+C exits at once (nothing to clean up).
 */
export function claimInterrupt(): () => void {
  listeners++;
  let done = false;
  return () => {
    if (!done) listeners--;
    done = true;
  };
}
