/**
 * The player server's gate, as pure functions of a request's method, URL and headers: only this
 * machine's own pages, with the session token, reach anything. A web page on any other origin
 * (DNS rebinding through a foreign Host, a cross-site request through a foreign Origin or
 * Sec-Fetch-Site) is refused before routing, and so is any path without the token.
 */
import { timingSafeEqual } from 'node:crypto';

/** The verdict on a request: go on with `rest` (the path after the token), or refuse. */
export type Verdict =
  | { readonly ok: true; readonly rest: string; readonly query: string }
  | { readonly ok: false; readonly status: 403 | 405; readonly why: string };

/** Origins the page itself has when served on `port`. */
export const ownOrigins = (port: number): string[] => [`http://127.0.0.1:${port}`, `http://localhost:${port}`];

function sameToken(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Judge a request to the server on `port` with session `token`. Paths are `/s/<token>/<rest>`;
 * `rest` is returned undecoded (routes match it literally, so encoded dots never become a path).
 */
export function judge(method: string | undefined, url: string | undefined, headers: Record<string, string | string[] | undefined>, port: number, token: string): Verdict {
  const origins = ownOrigins(port);
  const host = headers.host;
  if (typeof host !== 'string' || !origins.includes(`http://${host.toLowerCase()}`)) return { ok: false, status: 403, why: 'foreign Host' };
  const origin = headers.origin;
  if (origin !== undefined && (typeof origin !== 'string' || !origins.includes(origin.toLowerCase()))) return { ok: false, status: 403, why: 'foreign Origin' };
  if (headers['sec-fetch-site'] === 'cross-site') return { ok: false, status: 403, why: 'cross-site request' };
  if (method !== 'GET' && method !== 'HEAD') return { ok: false, status: 405, why: 'method not allowed' };
  const raw = url ?? '';
  const q = raw.indexOf('?');
  const pathname = q < 0 ? raw : raw.slice(0, q);
  const m = /^\/s\/([^/]*)(\/.*)?$/.exec(pathname);
  if (!m || !sameToken(m[1]!, token)) return { ok: false, status: 403, why: 'missing or wrong session token' };
  return { ok: true, rest: m[2] ?? '', query: q < 0 ? '' : raw.slice(q) };
}
