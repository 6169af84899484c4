/**
 * Argument helpers shared by the subcommands: citty parses flags but silently ignores unknown ones,
 * and leaves value validation to us.
 */
import type { ArgsDef } from 'citty';
import { usageError } from '../errors.ts';

/** Reject flags the command does not define (citty ignores them), as a usage error. */
export function rejectUnknownFlags(rawArgs: string[], def: ArgsDef): void {
  const known = new Set<string>(['help', 'h']);
  for (const [k, a] of Object.entries(def)) {
    known.add(k);
    known.add(k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
    const alias = (a as { alias?: string | string[] }).alias;
    for (const al of alias === undefined ? [] : Array.isArray(alias) ? alias : [alias]) known.add(al);
  }
  for (const raw of rawArgs) {
    if (raw === '--') break;
    if (!raw.startsWith('-') || raw === '-' || /^-\d/.test(raw)) continue;
    const name = raw.replace(/^--?/, '').split('=')[0]!;
    const names = raw.startsWith('--') ? [name.replace(/^no-/, '')] : [...name];
    for (const n of names) if (!known.has(n)) throw usageError(`unknown option ${raw}`);
  }
}

/** `HxW` → [h, w]. */
export function parseSize(v: string): [number, number] {
  const m = /^(\d+)x(\d+)$/i.exec(v.trim());
  const size = m ? ([Number(m[1]), Number(m[2])] as [number, number]) : undefined;
  if (!size || size[0] < 1 || size[1] < 1) throw usageError(`--static ${v}: expected HxW, e.g. 720x1280`);
  return size;
}

/** Parse an integer flag of at least `min` (undefined when absent); anything else is a usage error. */
export function intFlag(name: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw usageError(`--${name} ${v}: expected an integer ≥ ${min}`);
  return n;
}
