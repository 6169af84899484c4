/**
 * Files paragon writes whole or not at all (converted models, reports, benchmark results): a temporary file beside the target,
 * renamed over it when complete, so a failure never leaves half a file at the final path.
 */
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ParagonError } from '../errors.ts';

/**
 * Write `data` to `file` atomically. `makeDir` creates the folder first (otherwise a missing one
 * is the caller's mistake). A full disk is a `resources` error (exit 6), anything else `usage`
 * (exit 2), naming the file; `what` says what could not be written.
 */
export async function writeAtomically(file: string, data: string | Uint8Array, opts: { readonly makeDir?: boolean; readonly what?: string } = {}): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    if (opts.makeDir) await mkdir(path.dirname(path.resolve(file)), { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC') throw new ParagonError('resources', 'no space left on the device', { file, cause: e });
    throw new ParagonError('usage', `cannot write${opts.what ? ` ${opts.what}` : ''} (${code ?? (e as Error).message})`, { file, cause: e });
  }
}
