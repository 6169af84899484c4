/**
 * The `paragon` command. Subcommands load lazily so `paragon info` does not pay for ffmpeg or the
 * player. This is the only module that calls `process.exit`: everything below throws ParagonError.
 */
import { defineCommand, runCommand, showUsage, type CommandDef } from 'citty';
import { ParagonError, ExitCode, usageError } from '../errors.ts';
import { interruptExitCode, onInterrupt } from './interrupt.ts';

const lazy = (load: () => Promise<{ default: CommandDef<any> }>) => () => load().then((m) => m.default);

/** Subcommands by name; each file under src/cli/ default-exports a citty command. */
export const subCommands = {
  bench: lazy(() => import('./bench.ts')),
  convert: lazy(() => import('./convert.ts')),
  degrade: lazy(() => import('./degrade.ts')),
  engine: lazy(() => import('./engine.ts')),
  eval: lazy(() => import('./eval.ts')),
  info: lazy(() => import('./info.ts')),
  player: lazy(() => import('./player.ts')),
  scenes: lazy(() => import('./scenes.ts')),
  upscale: lazy(() => import('./upscale.ts')),
  worker: lazy(() => import('./worker.ts')),
};

const main = defineCommand({
  meta: {
    name: 'paragon',
    version: '0.1.0',
    description: 'ParagonSR2 super-resolution: convert checkpoints to ONNX, upscale images and video.',
  },
  subCommands,
});

/** Print a one-line error and exit with its documented code. */
function fail(e: unknown): never {
  if (e instanceof ParagonError) {
    process.stderr.write(`paragon: ${e.message}\n`);
    // Interrupted: 128 + the signal's number (130 for Ctrl+C, 143 for SIGTERM, 129 for SIGHUP).
    process.exit(e.code === ExitCode.interrupted ? interruptExitCode() : e.code);
  }
  // citty colours its messages; a one-line error should be plain text.
  const msg = (e instanceof Error ? e.message : String(e)).replace(/\x1b\[[0-9;]*m/g, '');
  // citty reports unknown subcommands and missing required arguments as CLIError: usage errors.
  if (e instanceof Error && e.name === 'CLIError') {
    process.stderr.write(`paragon: ${msg} (see paragon --help)\n`);
    process.exit(ExitCode.usage);
  }
  process.stderr.write(`paragon: internal error: ${msg}\n`);
  if (process.env.PARAGON_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
  process.exit(ExitCode.internal);
}

/** `--help` for the command or subcommand named by the leading positional arguments. */
async function showHelp(args: string[]): Promise<void> {
  const name = args.find((a) => !a.startsWith('-'));
  const load = name !== undefined ? (subCommands as Record<string, (() => Promise<CommandDef<any>>) | undefined>)[name] : undefined;
  if (name !== undefined && load === undefined) throw usageError(`unknown command ${name}`);
  if (load) await showUsage(await load(), main);
  else await showUsage(main);
}

// Ctrl+C, SIGTERM, SIGHUP: commands that own resources listen on `interrupted` (src/cli/interrupt.ts)
// and clean up, then throw ParagonError('interrupted'); a second signal, or none listening, exits at once.
onInterrupt();

const rawArgs = process.argv.slice(2);
const wantsHelp = rawArgs.length === 0 || rawArgs.some((a) => a === '--help' || a === '-h');
const wantsVersion = rawArgs.length === 1 && (rawArgs[0] === '--version' || rawArgs[0] === '-v');
try {
  if (wantsHelp) await showHelp(rawArgs);
  else if (wantsVersion) process.stdout.write('0.1.0\n');
  // runCommand (not runMain): runMain catches every error itself and exits 1, losing our exit codes.
  else await runCommand(main, { rawArgs });
} catch (e) {
  fail(e);
}
