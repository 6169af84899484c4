/**
 * The player's HTTP server: the page (built by `npm run build`, or from a checkout bundled by
 * esbuild at start; held in memory), the onnxruntime-web runtime files, and the videos and models
 * the command line offers, all by id.
 * It listens on 127.0.0.1 only; every request passes the gate in guard.ts (own Host and Origin,
 * session token in the path) and every response carries the cross-origin isolation headers that
 * WASM threads need (COOP/COEP) and no CORS allowance.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ParagonError } from '../../errors.ts';
import { fromSource } from '../../runtime/sibling.ts';
import { APP_ENTRY, PAGE_DIR, ROOT, bundleBrowser } from './bundle.ts';
import { judge } from './guard.ts';

/** The bundled model offered first (runtime/model.ts's DEFAULT_MODEL; not imported, it pulls in the whole graph layer). */
const DEFAULT_MODEL = 'paragon-realtime-2x';

/** A file the server hands out by id. */
export interface Offered {
  readonly id: string;
  readonly name: string;
  readonly file: string;
  readonly size: number;
}

/** Options of {@link startPlayerServer}. */
export interface PlayerServerOptions {
  /** Video files to offer. */
  readonly videos?: readonly string[];
  /** Model files to offer (`--model`), listed before the bundled ones; the first is the default. */
  readonly models?: readonly string[];
  /** Folder of bundled models (default: the package's `models/`). */
  readonly modelsDir?: string;
  /** Port (default: a free one). */
  readonly port?: number;
  /** One line per refused request (default: none). */
  readonly onRefused?: (line: string) => void;
}

/** A running server. */
export interface PlayerServer {
  /** The page's URL, token included. */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  readonly videos: readonly Offered[];
  readonly models: readonly Offered[];
  close(): Promise<void>;
}

const WEB = path.join(ROOT, 'src', 'player', 'web');

/** The page's files. */
interface Page {
  readonly js: string;
  readonly map: string;
  readonly html: string;
  readonly css: string;
}

/**
 * The page: from a checkout bundled now from its sources (edits show at the next start); in the
 * published package the bundle `npm run build` made (dist/player/page), as plain files.
 */
async function loadPage(): Promise<Page> {
  if (fromSource(import.meta.url)) {
    const bundle = await bundleBrowser(APP_ENTRY, { conditions: ['onnxruntime-web-use-extern-wasm'] });
    return { js: bundle.js, map: bundle.map, html: readFileSync(path.join(WEB, 'index.html'), 'utf8'), css: readFileSync(path.join(WEB, 'style.css'), 'utf8') };
  }
  const read = (name: string): string => {
    try {
      return readFileSync(path.join(PAGE_DIR, name), 'utf8');
    } catch (e) {
      throw new ParagonError('internal', `the player page is missing from this installation (${path.join(PAGE_DIR, name)}: ${(e as NodeJS.ErrnoException).code})`, { cause: e });
    }
  };
  return { js: read('app.js'), map: read('app.js.map'), html: read('index.html'), css: read('style.css') };
}

/** onnxruntime-web's runtime (JSEP build: WebGPU and WASM), by id. */
function ortFiles(): Record<string, string> {
  const file = (name: string) => fileURLToPath(import.meta.resolve(`onnxruntime-web/${name}`));
  return { 'jsep.mjs': file('ort-wasm-simd-threaded.jsep.mjs'), 'jsep.wasm': file('ort-wasm-simd-threaded.jsep.wasm') };
}

const TYPES: Record<string, string> = {
  '.mjs': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.mov': 'video/quicktime',
  '.webm': 'video/webm',
  '.mkv': 'video/x-matroska',
};

const typeOf = (file: string): string => TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';

/** Headers on every response: isolation (COOP/COEP/CORP), no sniffing, no referrer (the URL holds the token). */
const BASE_HEADERS: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
};

/** The page's policy: own scripts and WASM only, workers from itself or blobs, no framing. */
const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "connect-src 'self' blob: data:",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "style-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function offer(prefix: string, files: readonly string[]): Offered[] {
  return files.map((file, i) => ({ id: `${prefix}${i}`, name: path.basename(file), file: path.resolve(file), size: statSync(file).size }));
}

/** Bundled models in `dir`: `.safetensors` and `.onnx` files. */
function bundled(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /\.(safetensors|onnx)$/i.test(n))
    // The default model first, then the others by name.
    .sort((a, b) => Number(!a.startsWith(`${DEFAULT_MODEL}.`)) - Number(!b.startsWith(`${DEFAULT_MODEL}.`)) || a.localeCompare(b))
    .map((n) => path.join(dir, n));
}

/** Start the server; resolves once the page is bundled and the port is listening. */
export async function startPlayerServer(opts: PlayerServerOptions = {}): Promise<PlayerServer> {
  const token = randomBytes(18).toString('base64url');
  const videos = offer('v', opts.videos ?? []);
  const extra = (opts.models ?? []).map((m) => path.resolve(m));
  const models = offer('m', [...extra, ...bundled(opts.modelsDir ?? path.join(ROOT, 'models')).filter((f) => !extra.includes(f))]);
  const ort = ortFiles();
  const { js, map, html, css } = await loadPage();
  const catalog = JSON.stringify({
    videos: videos.map(({ id, name, size }) => ({ id, name, size })),
    models: models.map(({ id, name, size }, i) => ({ id, name, size, default: i === 0 })),
    ort: { mjs: 'ort/jsep.mjs', wasm: 'ort/jsep.wasm' },
  });
  let port = 0;

  const server = http.createServer((req, res) => {
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8', headers: Record<string, string> = {}) => {
      res.writeHead(status, { ...BASE_HEADERS, 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)), ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const v = judge(req.method, req.url, req.headers, port, token);
    if (!v.ok) {
      opts.onRefused?.(`${v.status} ${req.method} ${(req.url ?? '').replace(token, '<token>')}: ${v.why}`);
      return send(v.status, `${v.status === 403 ? 'Forbidden' : 'Method Not Allowed'}: ${v.why}\n`, undefined, v.status === 405 ? { Allow: 'GET, HEAD' } : {});
    }
    const { rest } = v;
    if (rest === '') return send(308, '', undefined, { Location: `/s/${token}/${v.query}` });
    if (rest === '/') return send(200, html, 'text/html; charset=utf-8', { 'Content-Security-Policy': CSP });
    if (rest === '/app.js') return send(200, js, TYPES['.js']);
    if (rest === '/app.js.map') return send(200, map, 'application/json');
    if (rest === '/style.css') return send(200, css, 'text/css; charset=utf-8');
    if (rest === '/api/catalog') return send(200, catalog, 'application/json');
    const m = /^\/(files|models|ort)\/([A-Za-z0-9.-]+)$/.exec(rest);
    const file = !m ? undefined : m[1] === 'ort' ? ort[m[2]!] : (m[1] === 'files' ? videos : models).find((o) => o.id === m[2])?.file;
    if (file === undefined) return send(404, 'Not Found\n');
    serveFile(req, res, file);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE' || e.code === 'EACCES'
          ? new ParagonError('usage', `--port ${opts.port}: ${e.code === 'EADDRINUSE' ? 'address already in use' : 'permission denied'}`)
          : e,
      ),
    );
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/s/${token}/`,
    port,
    token,
    videos,
    models,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Send a file, honouring a single byte Range (mediabunny reads videos in ranges). */
function serveFile(req: http.IncomingMessage, res: http.ServerResponse, file: string): void {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    res.writeHead(404, { ...BASE_HEADERS, 'Content-Type': 'text/plain' });
    res.end('Not Found\n');
    return;
  }
  const headers: Record<string, string> = { ...BASE_HEADERS, 'Content-Type': typeOf(file), 'Accept-Ranges': 'bytes' };
  let start = 0;
  let end = size - 1;
  const range = req.headers.range;
  if (range !== undefined) {
    const r = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    const a = r?.[1] ? Number(r[1]) : undefined;
    const b = r?.[2] ? Number(r[2]) : undefined;
    if (r && a !== undefined) [start, end] = [a, Math.min(b ?? size - 1, size - 1)];
    else if (r && b !== undefined) [start, end] = [Math.max(0, size - b), size - 1];
    if (!r || (a === undefined && b === undefined) || start > end || start >= size) {
      res.writeHead(416, { ...BASE_HEADERS, 'Content-Range': `bytes */${size}` });
      res.end();
      return;
    }
    headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  }
  headers['Content-Length'] = String(size === 0 ? 0 : end - start + 1);
  res.writeHead(range !== undefined ? 206 : 200, headers);
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  createReadStream(file, { start, end }).on('error', () => res.destroy()).pipe(res);
}
