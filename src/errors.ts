/**
 * The one error class of the project. Every failure a user can cause carries an exit code and a
 * one-line message that names the file and the cause; the CLI entry prints `message` and exits
 * with `code`. Nothing below the CLI calls `process.exit`.
 */

/** Documented exit codes (README "Exit codes"). */
export const ExitCode = {
  ok: 0,
  /** Generic failure that is not the user's input (a bug). */
  internal: 1,
  /** Bad command line: unknown flag, missing argument, conflicting options. */
  usage: 2,
  /** Bad or unsupported model: safetensors/ONNX parsing, detection, conversion, runtime load. */
  model: 3,
  /** Bad media input: unreadable image or video, no video stream, unsupported format. */
  media: 4,
  /** An outside program: ffmpeg/ffprobe missing or failed, or the farm's Redis unreachable. */
  ffmpeg: 5,
  /** Out of memory or disk. */
  resources: 6,
  /** Interrupted by the user (SIGINT). */
  interrupted: 130,
} as const;

export type ExitCodeName = keyof typeof ExitCode;

/** An error a user can act on: a one-line `message`, an exit `code`, and the `file` it concerns. */
export class ParagonError extends Error {
  override readonly name = 'ParagonError';
  /** Process exit code (see {@link ExitCode}). */
  readonly code: number;
  /** The file the error concerns, when there is one. */
  readonly file: string | undefined;

  constructor(kind: ExitCodeName, message: string, options: { file?: string; cause?: unknown } = {}) {
    // One line, always: callers may pass multi-line causes (ffmpeg stderr) only through `cause`.
    const text = options.file !== undefined ? `${options.file}: ${message}` : message;
    super(text.replace(/\s*\n\s*/g, ' '), options.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = ExitCode[kind];
    this.file = options.file;
  }
}

/** Usage error helper (exit 2). */
export const usageError = (message: string): ParagonError => new ParagonError('usage', message);

/** Model error helper (exit 3), naming the file. */
export const modelError = (file: string, message: string, cause?: unknown): ParagonError =>
  new ParagonError('model', message, cause === undefined ? { file } : { file, cause });

/** Media error helper (exit 4), naming the file. */
export const mediaError = (file: string, message: string, cause?: unknown): ParagonError =>
  new ParagonError('media', message, cause === undefined ? { file } : { file, cause });

/** True for a ParagonError of the given kind. */
export function isParagonError(e: unknown, kind?: ExitCodeName): e is ParagonError {
  return e instanceof ParagonError && (kind === undefined || e.code === ExitCode[kind]);
}
