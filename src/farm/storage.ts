/**
 * The farm's shared storage: one folder every machine mounts (NFS, SMB, a cluster filesystem), as
 * render farms use. Machines may mount it at different places, so nothing crossing the queue or
 * the plan names an absolute path: paths are relative to the storage root, and each machine
 * resolves them against its own `--storage`.
 *
 * It is also the security boundary of a worker: a path from the plan is refused when it is
 * absolute, climbs out with `..`, or leads outside the root through a symbolic link, so job data
 * can never make a worker read or write anything but the farm's own files.
 */
import { constants } from 'node:fs';
import { access, mkdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ParagonError, usageError } from '../errors.ts';

/** Folder of the farm's work files inside the storage root (one sub-folder per output). */
export const FARM_DIR = '.paragon-farm';

/** A path from job data or a plan that a worker refuses to touch. */
export class RefusedPath extends Error {
  override readonly name = 'RefusedPath';
}

/** The storage root of this machine. */
export class Storage {
  /** The root, absolute and with symbolic links resolved. */
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  /** Open `root`: it must be an existing, writable folder (`--storage` names it). */
  static async open(root: string, flag = '--storage'): Promise<Storage> {
    let real: string;
    try {
      real = await realpath(root);
      if (!(await stat(real)).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
      await access(real, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : code === 'EACCES' ? 'not writable' : String(code ?? e);
      throw usageError(`${flag} ${root}: ${why} (the farm needs a shared folder every machine can read and write)`);
    }
    return new Storage(real);
  }

  /**
   * The path of `file` relative to the root, for the plan (coordinator side). `what` names the
   * file in the error when it lies outside the root (workers could not reach it).
   */
  async relative(file: string, what: string): Promise<string> {
    const abs = await realpath(file).catch(async () => path.join(await realpath(path.dirname(path.resolve(file))), path.basename(file)));
    const rel = path.relative(this.root, abs);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel))
      throw usageError(`${file}: the ${what} must be inside the shared storage ${this.root} so every worker can reach it`);
    return rel.split(path.sep).join('/');
  }

  /**
   * Resolve a relative path from a plan (worker side). Refused: absolute paths, `..` segments,
   * empty or odd names, and anything whose real location (symbolic links followed, for the file
   * or, when it does not exist yet, its folder) is outside the root.
   */
  async resolve(rel: unknown, what: string): Promise<string> {
    if (typeof rel !== 'string' || rel === '' || rel.length > 4096 || rel.includes('\0') || rel.includes('\\'))
      throw new RefusedPath(`${what}: not a relative path`);
    if (rel.startsWith('/') || /^[A-Za-z]:/.test(rel)) throw new RefusedPath(`${what} ${rel}: absolute paths are refused`);
    const parts = rel.split('/');
    if (parts.some((p) => p === '..' || p === '' || p === '.')) throw new RefusedPath(`${what} ${rel}: only plain relative paths inside the storage are accepted`);
    const abs = path.join(this.root, ...parts);
    const real = await realpath(abs).catch(async () => path.join(await realpath(path.dirname(abs)).catch(() => path.dirname(abs)), path.basename(abs)));
    if (!this.contains(real)) throw new RefusedPath(`${what} ${rel}: leads outside the storage ${this.root}`);
    return real;
  }

  /** True when `abs` (already real) is inside the root. */
  contains(abs: string): boolean {
    return abs.startsWith(this.root + path.sep);
  }

  /** The work folder of job `key` (created when `create`). */
  async jobDir(key: string, create = false): Promise<string> {
    if (!/^[0-9a-f]{16,64}$/.test(key)) throw new RefusedPath(`job ${JSON.stringify(key).slice(0, 80)}: not a farm job id`);
    const dir = path.join(this.root, FARM_DIR, key);
    if (create) {
      try {
        await mkdir(dir, { recursive: true });
      } catch (e) {
        throw new ParagonError('media', `cannot create the farm's work folder: ${(e as NodeJS.ErrnoException).code ?? e}`, { file: dir });
      }
    }
    const real = await realpath(dir).catch(() => dir);
    if (!this.contains(real)) throw new RefusedPath(`${FARM_DIR}/${key}: leads outside the storage ${this.root}`);
    return real;
  }
}
