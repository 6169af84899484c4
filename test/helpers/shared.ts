/**
 * Access to the reference data in ../shared (beside the project root). Tests that need it skip with
 * a clear message when it is absent, so a fresh clone still runs the core tests.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Project root (the folder holding package.json). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of ../shared, or of PARAGON_SHARED when set. */
export const SHARED = process.env.PARAGON_SHARED ?? path.resolve(ROOT, '..', 'shared');

/** Path inside ../shared. */
export const shared = (...parts: string[]): string => path.join(SHARED, ...parts);

/** Skip reason when a ../shared path is missing, else undefined (use as `{ skip: needShared('golden') }`). */
export function needShared(...parts: string[]): string | false {
  const p = shared(...parts);
  return existsSync(p) ? false : `needs ${p} (the reference data beside the project); absent here`;
}
