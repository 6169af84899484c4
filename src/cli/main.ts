/**
 * The `paragon` command. Subcommands load lazily so `paragon info` does not pay for ffmpeg or the
 * player. This is the only module that calls `process.exit`: everything below throws ParagonError.
 */
import { defineCommand, runMain, type CommandDef } from 'citty';
import { ParagonError, ExitCode } from '../errors.ts';

const lazy = (load: () => Promise<{ default: CommandDef<any> }>) => () => load().then((m) => m.default);

/** Subcommands by name; each file under src/cli/ default-exports a citty command. */
export const subCommands = {
  convert: lazy(() => import('./convert.ts')),
  info: lazy(() => import('./info.ts')),
  upscale: lazy(() => import('./upscale.ts')),
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
    process.exit(e.code);
  }
  const msg = e instanceof Error ? e.message : String(e);
  // citty reports unknown commands / missing args as CLIError: those are usage errors.
  if (e instanceof Error && (e as { code?: unknown }).code !== undefined && e.name === 'CLIError') {
    process.stderr.write(`paragon: ${msg}\n`);
    process.exit(ExitCode.usage);
  }
  process.stderr.write(`paragon: internal error: ${msg}\n`);
  if (process.env.PARAGON_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
  process.exit(ExitCode.internal);
}

process.on('SIGINT', () => {
  process.stderr.write('\nparagon: interrupted\n');
  process.exit(ExitCode.interrupted);
});

try {
  await runMain(main, { rawArgs: process.argv.slice(2) });
} catch (e) {
  fail(e);
}
