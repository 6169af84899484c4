/**
 * Finding and running ffmpeg/ffprobe. Every call spawns the binary with an argument ARRAY (never a
 * shell), drains stderr into a ring buffer whatever happens (a full stderr pipe would stall
 * ffmpeg), and turns a failure into one ParagonError line quoting ffmpeg's last meaningful words.
 *
 * Lookup order: `--ffmpeg PATH` → `PARAGON_FFMPEG` → `ffmpeg`/`ffprobe` on PATH → the binaries
 * shipped by `@ffmpeg-installer/ffmpeg` and `@ffprobe-installer/ffprobe`. ffprobe is looked for
 * beside an explicit ffmpeg first, then along the same chain.
 *
 * Signals. The children run in process groups of their own (`detached`), so a Ctrl+C at the
 * terminal (sent to the whole foreground group) or a closed terminal reaches paragon alone: an
 * interrupted video run still finishes the frames it has and closes its files through these very
 * processes, and ffmpeg prints nothing of its own. Paragon stops them itself: killed when their
 * AbortSignal fires, and every one still running when the process exits (a second Ctrl+C). A
 * paragon killed outright (SIGKILL) leaves none running for long: a decoder dies on its closed
 * stdout pipe, an encoder ends on its stdin's end of file, and ffprobe and the final join end on
 * their own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { ParagonError } from '../errors.ts';

/** Where a binary came from. */
export type ToolSource = 'option' | 'env' | 'path' | 'npm';

/** The ffmpeg and ffprobe a run uses. */
export interface FfmpegTools {
  readonly ffmpeg: string;
  readonly ffprobe: string;
  /** Where ffmpeg was found (ffprobe may come from a later stage of the chain). */
  readonly source: ToolSource;
  readonly probeSource: ToolSource;
}

const SOURCE_TEXT: Record<ToolSource, string> = {
  option: '--ffmpeg',
  env: 'PARAGON_FFMPEG',
  path: 'PATH',
  npm: 'npm installer package',
};

/** One line saying which binaries are used, e.g. for a `--verbose` notice. */
export const describeTools = (t: FfmpegTools): string =>
  `ffmpeg ${t.ffmpeg} (${SOURCE_TEXT[t.source]}), ffprobe ${t.ffprobe} (${SOURCE_TEXT[t.probeSource]})`;

const INSTALL_HINT = 'install ffmpeg (e.g. `apt install ffmpeg` or `brew install ffmpeg`) or pass --ffmpeg PATH / set PARAGON_FFMPEG';

function isExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** First executable `name` along PATH. */
function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * A binary of an @ffmpeg-installer style package. Their postinstall `chmod` does not always run
 * (npm without scripts, some npm versions), so the executable bits are restored here if needed.
 */
function fromNpm(pkg: '@ffmpeg-installer/ffmpeg' | '@ffprobe-installer/ffprobe'): string | undefined {
  let file: string;
  try {
    file = (createRequire(import.meta.url)(pkg) as { path: string }).path;
  } catch {
    return undefined;
  }
  try {
    const mode = statSync(file).mode;
    if ((mode & 0o111) !== 0o111) chmodSync(file, mode | 0o755);
  } catch {
    // Not ours to chmod (installed by another user): usable only if already executable.
  }
  return isExecutable(file) ? file : undefined;
}

/** Resolve a user-given binary: a path must exist, a bare name is looked up on PATH. */
function explicitBinary(value: string, origin: string): string {
  const found = value.includes('/') || value.includes('\\') ? (isExecutable(value) ? path.resolve(value) : undefined) : onPath(value);
  if (!found) throw new ParagonError('ffmpeg', `${origin} ${value}: not an executable file; ${INSTALL_HINT}`);
  return found;
}

/** The ffprobe beside an explicit ffmpeg (`/opt/ff/ffmpeg-6` → `/opt/ff/ffprobe-6`), when present. */
function probeBeside(ffmpeg: string): string | undefined {
  const base = path.basename(ffmpeg);
  const probe = /ffmpeg/i.test(base) ? base.replace(/ffmpeg/i, 'ffprobe') : `ffprobe${path.extname(base)}`;
  const candidate = path.join(path.dirname(ffmpeg), probe);
  return isExecutable(candidate) ? candidate : undefined;
}

const located = new Map<string, FfmpegTools>();

/**
 * Find ffmpeg and ffprobe (see the module comment for the order). Missing binaries are an
 * ffmpeg error (exit 5) that says what to install. Results are cached per `--ffmpeg` value.
 */
export function locateFfmpeg(opts: { ffmpeg?: string | undefined } = {}): FfmpegTools {
  const env = process.env.PARAGON_FFMPEG;
  const key = `${opts.ffmpeg ?? ''}\0${env ?? ''}\0${process.env.PATH ?? ''}`;
  const cached = located.get(key);
  if (cached) return cached;
  let ffmpeg: string | undefined;
  let source: ToolSource = 'path';
  if (opts.ffmpeg) [ffmpeg, source] = [explicitBinary(opts.ffmpeg, '--ffmpeg'), 'option'];
  else if (env) [ffmpeg, source] = [explicitBinary(env, 'PARAGON_FFMPEG'), 'env'];
  else if ((ffmpeg = onPath('ffmpeg'))) source = 'path';
  else if ((ffmpeg = fromNpm('@ffmpeg-installer/ffmpeg'))) source = 'npm';
  if (!ffmpeg) throw new ParagonError('ffmpeg', `ffmpeg not found; ${INSTALL_HINT}`);

  let ffprobe: string | undefined;
  let probeSource: ToolSource = source;
  if (source === 'option' || source === 'env') ffprobe = probeBeside(ffmpeg);
  if (!ffprobe && (ffprobe = onPath('ffprobe'))) probeSource = 'path';
  if (!ffprobe && (ffprobe = fromNpm('@ffprobe-installer/ffprobe'))) probeSource = 'npm';
  if (!ffprobe) throw new ParagonError('ffmpeg', `ffprobe not found (ffmpeg is ${ffmpeg}); ${INSTALL_HINT}`);
  const tools = { ffmpeg, ffprobe, source, probeSource };
  located.set(key, tools);
  return tools;
}

/** What the located ffmpeg can do; decides between option spellings of different versions. */
export interface FfmpegCaps {
  /** First line of `ffmpeg -version`. */
  readonly version: string;
  /** `-fps_mode` (5.1+) or the older `-vsync`. */
  readonly fpsModeFlag: '-fps_mode' | '-vsync';
  /** showinfo accepts `checksum=0` (4.4+), which saves hashing every frame. */
  readonly showinfoNoChecksum: boolean;
  /** Names of the available encoders. */
  readonly encoders: ReadonlySet<string>;
}

const capsCache = new Map<string, Promise<FfmpegCaps>>();

/** Library version `major.minor` from `ffmpeg -version` (`libavformat    59. 27.100`). */
function libVersion(text: string, lib: string): number {
  const m = new RegExp(`${lib}\\s+(\\d+)\\.\\s*(\\d+)\\.`).exec(text);
  return m ? Number(m[1]) * 1000 + Number(m[2]) : 0;
}

/** Query (once per binary) the version and encoders of `tools.ffmpeg`. */
export function ffmpegCaps(tools: FfmpegTools): Promise<FfmpegCaps> {
  let caps = capsCache.get(tools.ffmpeg);
  if (!caps) {
    caps = (async () => {
      const [version, encoders] = await Promise.all([
        collect(tools.ffmpeg, ['-hide_banner', '-version'], { label: 'ffmpeg' }),
        collect(tools.ffmpeg, ['-hide_banner', '-encoders'], { label: 'ffmpeg' }),
      ]);
      const names = new Set<string>();
      for (const line of encoders.split('\n')) {
        const m = /^\s*[VAS][.A-Z]{5}\s+(\S+)/.exec(line);
        if (m) names.add(m[1]!);
      }
      return {
        version: version.split('\n')[0] ?? '',
        // -fps_mode arrived with libavformat 59.27 (ffmpeg 5.1); showinfo's checksum option with libavfilter 7.110.
        fpsModeFlag: libVersion(version, 'libavformat') >= 59027 ? '-fps_mode' : '-vsync',
        showinfoNoChecksum: libVersion(version, 'libavfilter') >= 7110,
        encoders: names,
      } satisfies FfmpegCaps;
    })();
    caps.catch(() => capsCache.delete(tools.ffmpeg));
    capsCache.set(tools.ffmpeg, caps);
  }
  return caps;
}

/**
 * The name to give ffmpeg for a file: absolute, so a name starting with `-` is never an option
 * and a `:` in it never selects a protocol (ffmpeg only looks for `proto:` before any `/`).
 */
export const fileArg = (file: string): string => path.resolve(file);

// With `-loglevel level+...` a line reads `[mov,mp4 @ 0x55d1] [error] text` or `[error] text`.
const LEVEL = /^(?:\[[^\]]* @ (?:0x)?[0-9a-f]+\]\s*)?\[(panic|fatal|error|warning|info|verbose|debug|trace)\]\s?/;
// Lines that say nothing about the cause.
const GENERIC = /^(Conversion failed!|Exiting normally|Error (initializing|while opening) (output|encoder|decoder).*|Error opening output files?:.*|Nothing was written into output file.*|.*Press \[q\].*)\s*$/;

/**
 * The last one or two error-level lines that carry a cause, joined for a one-line message; `file`
 * (already named by the error) is cut out of them.
 */
export function stderrCause(lines: readonly string[], file?: string): string {
  const parsed = lines
    .map((l) => {
      const m = LEVEL.exec(l);
      let text = (m ? l.slice(m[0].length) : l).trim();
      if (file) text = text.split(`${fileArg(file)}: `).join('').split(`${file}: `).join('');
      return { level: m?.[1] ?? 'error', text };
    })
    .filter((l) => l.text !== '' && !GENERIC.test(l.text));
  const errors = parsed.filter((l) => l.level === 'error' || l.level === 'fatal' || l.level === 'panic');
  const pick = (errors.length > 0 ? errors : parsed.filter((l) => l.level === 'warning')).slice(-2).map((l) => l.text);
  return [...new Set(pick)].join('; ');
}

// Causes that lie in the input file rather than in ffmpeg: reported as media errors (exit 4).
const INPUT_FAULT =
  /Invalid data found when processing input|moov atom not found|does not contain any stream|could not find codec parameters|Invalid NAL unit|End of file|error reading header|Failed to read|No such file or directory|Permission denied/i;

/** Options of {@link spawnTool}. */
export interface SpawnOptions {
  /** Which tool (for messages). */
  readonly label: 'ffmpeg' | 'ffprobe';
  /** The file the run concerns, named in errors. */
  readonly file?: string;
  /**
   * `file` is an input: stderr that blames the input makes a failure a media error (exit 4)
   * rather than exit 5; `'all'` makes every failed exit one (ffprobe fails only on its input).
   */
  readonly input?: boolean | 'all';
  /** Give the process a stdin pipe (otherwise stdin is closed). */
  readonly stdin?: boolean;
  /** Abort kills the process; `done` then rejects with ParagonError('interrupted') (or the reason, if a ParagonError). */
  readonly signal?: AbortSignal | undefined;
  /** Sees every stderr line first; return true to keep it out of the error ring buffer. */
  readonly onLine?: (line: string) => boolean;
}

/** A running ffmpeg/ffprobe. Disposing kills it if it still runs. */
export interface ToolProcess extends AsyncDisposable {
  readonly child: ChildProcess;
  readonly stdout: Readable;
  readonly stdin: Writable | null;
  /** Settles when the process has exited and stderr is drained: resolves on exit 0, else rejects with a ParagonError. */
  readonly done: Promise<void>;
  /** The last stderr lines (level-prefixed), for diagnostics. */
  tail(): string[];
  /** Kill the process (SIGKILL: it writes nothing we still want). Idempotent. */
  kill(): void;
}

const RING = 40;

/** Children still running, killed (with their process groups) if this process exits first. */
const live = new Set<ChildProcess>();
let exitHook = false;

function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('close', () => live.delete(child));
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const c of live) {
      try {
        if (c.pid !== undefined && process.platform !== 'win32') process.kill(-c.pid, 'SIGKILL');
        else c.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

/**
 * Spawn `bin args` without a shell. stderr is always drained; a non-zero exit becomes
 * `ParagonError('ffmpeg')` (exit 5), or `'media'` (exit 4) when the cause is the input file.
 */
export function spawnTool(bin: string, args: readonly string[], opts: SpawnOptions): ToolProcess {
  // A group of its own: the terminal's signals are paragon's to handle (see the module comment).
  const child = spawn(bin, args, { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], windowsHide: true, detached: process.platform !== 'win32' });
  killOnExit(child);
  const ring: string[] = [];
  let partial = '';
  let killed = false;
  const take = (line: string): void => {
    if (opts.onLine?.(line)) return;
    ring.push(line);
    if (ring.length > RING) ring.shift();
  };
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split(/\r?\n|\r/);
    partial = lines.pop() ?? '';
    for (const l of lines) take(l);
  });
  // A dead ffmpeg turns writes into EPIPE: the exit status below is the error worth reporting.
  child.stdin?.on('error', () => {});
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null && !killed) {
      killed = true;
      child.kill('SIGKILL');
    }
  };
  const onAbort = (): void => kill();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) kill();

  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' ? 'not found' : e.code === 'EACCES' ? 'not executable' : e.message;
      reject(new ParagonError('ffmpeg', `cannot run ${opts.label} ${bin}: ${why}; ${INSTALL_HINT}`, { cause: e }));
    });
    child.once('close', (code, signal) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (partial) take(partial);
      partial = '';
      if (code === 0) return resolve();
      if (opts.signal?.aborted) {
        const r: unknown = opts.signal.reason;
        return reject(r instanceof ParagonError ? r : new ParagonError('interrupted', `${opts.label} interrupted`, { cause: r }));
      }
      if (killed) return reject(new ParagonError('interrupted', `${opts.label} stopped`));
      const why = stderrCause(ring, opts.file) || (signal ? `killed by ${signal}` : `exit status ${code}`);
      const media = opts.input === 'all' || (opts.input === true && INPUT_FAULT.test(why));
      const message = media ? `cannot read media: ${why}` : `${opts.label} failed: ${why}`;
      reject(new ParagonError(media ? 'media' : 'ffmpeg', message, opts.file !== undefined ? { file: opts.file } : {}));
    });
  });
  done.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection

  return {
    child,
    stdout: child.stdout!,
    stdin: child.stdin,
    done,
    tail: () => [...ring],
    kill,
    async [Symbol.asyncDispose]() {
      kill();
      await done.catch(() => {});
    },
  };
}

/** Run a tool to completion collecting its stdout as text (ffprobe JSON and the like). */
export async function collect(bin: string, args: readonly string[], opts: SpawnOptions): Promise<string> {
  const proc = spawnTool(bin, args, opts);
  let out = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (c: string) => (out += c));
  await proc.done;
  return out;
}
