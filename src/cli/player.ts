/**
 * `paragon player [VIDEO...] [--port N] [--open] [--model FILE]`: serve the browser player on
 * 127.0.0.1 and print its URL (with the session token). Runs until Ctrl+C.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { defineCommand, type ArgsDef } from 'citty';
import { ParagonError, mediaError, modelError, usageError } from '../errors.ts';
import { startPlayerServer } from '../player/server/server.ts';
import { rejectUnknownFlags } from './args.ts';
import { claimInterrupt, interrupted } from './interrupt.ts';

const args = {
  video: { type: 'positional', required: false, description: 'Video files to offer in the page (any number)' },
  port: { type: 'string', description: 'Port to listen on (default: a free one)' },
  open: { type: 'boolean', description: 'Open the page in the default browser' },
  model: { type: 'string', alias: 'm', description: 'Extra model to offer (.safetensors or .onnx; repeatable); the first is the default' },
} as const satisfies ArgsDef;

const isFile = (f: string): boolean => {
  try {
    return statSync(f).isFile();
  } catch {
    return false;
  }
};

/** Every value of a repeatable flag (citty keeps only the last): `--model A -m B --model=C`. */
function repeated(rawArgs: readonly string[], long: string, short: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i]!;
    if (a === '--') break;
    if (a.startsWith(`${long}=`)) out.push(a.slice(long.length + 1));
    else if (a === long || a === short) {
      const v = rawArgs[++i];
      if (v === undefined) throw usageError(`${a} needs a value`);
      out.push(v);
    }
  }
  return out;
}

/** Open a URL with the desktop's opener; failures are only reported. */
function openBrowser(url: string, say: (l: string) => void): void {
  const [cmd, argv] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  const child = spawn(cmd, argv as string[], { stdio: 'ignore', detached: true });
  child.on('error', (e) => say(`cannot open a browser (${cmd}: ${e.message}); open the URL yourself`));
  child.unref();
}

export default defineCommand({
  meta: { name: 'player', description: 'Serve the browser player (real-time upscaling with WebGPU or WASM) on 127.0.0.1.' },
  args,
  async run({ args: a, rawArgs }) {
    rejectUnknownFlags(rawArgs, args);
    const videos = a._.map(String);
    for (const v of videos) if (!isFile(v)) throw mediaError(v, 'no such video file');
    const models = repeated(rawArgs, '--model', '-m');
    for (const m of models) {
      if (!isFile(m)) throw modelError(m, 'no such model file');
      if (!/\.(safetensors|onnx)$/i.test(m)) throw modelError(m, 'expected a .safetensors checkpoint or an .onnx model');
    }
    let port: number | undefined;
    if (a.port !== undefined) {
      port = Number(a.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw usageError(`--port ${a.port}: expected a port number 1-65535`);
    }
    const say = (l: string) => process.stderr.write(`paragon: ${l}\n`);
    const release = claimInterrupt();
    try {
      const server = await startPlayerServer({ videos, models, ...(port !== undefined ? { port } : {}) });
      say(`player serving ${server.videos.length} video${server.videos.length === 1 ? '' : 's'} and ${server.models.length} model${server.models.length === 1 ? '' : 's'} on 127.0.0.1 only; Ctrl+C stops it`);
      if (server.models.length === 0) say('no model to offer: drop a .safetensors or .onnx file into the page');
      process.stdout.write(`${server.url}\n`);
      if (a.open) openBrowser(server.url, say);
      await new Promise<void>((resolve) => interrupted.addEventListener('abort', () => resolve(), { once: true }));
      await server.close();
      throw new ParagonError('interrupted', 'player stopped');
    } finally {
      release();
    }
  },
});
