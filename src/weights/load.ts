/**
 * Reading checkpoints from disk (Node only). Everything else in src/weights is pure and runs in the
 * browser too; the page reads files through the File API and calls the pure functions.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { modelError } from '../errors.ts';
import { checkpointFromBytes, type LoadedCheckpoint } from './checkpoint.ts';
import type { ArchOverrides } from './detect.ts';
import { parseSafetensors, type Safetensors } from './safetensors.ts';

/** A model file's bytes; a read failure is a model error naming the file (exit 3). */
export async function readModelBytes(file: string, what = 'model'): Promise<Uint8Array> {
  try {
    const buf = await readFile(file);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    throw modelError(file, `cannot read ${what}: ${(e as NodeJS.ErrnoException).code ?? e}`, e);
  }
}

/** Read and validate a safetensors file. Any violation of the format is a model error (exit 3). */
export async function readSafetensors(file: string): Promise<Safetensors> {
  return parseSafetensors(await readModelBytes(file, 'safetensors file'), file);
}

/** Load, validate and detect a `.safetensors` ParagonSR2 checkpoint (model errors exit 3). */
export async function loadCheckpoint(file: string, overrides: ArchOverrides = {}): Promise<LoadedCheckpoint> {
  const bytes = await readModelBytes(file, 'checkpoint');
  return checkpointFromBytes(bytes, file, createHash('sha256').update(bytes).digest('hex'), overrides);
}
