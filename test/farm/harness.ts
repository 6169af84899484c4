/**
 * The farm tests' world: a real Redis (Debian's redis-server on a free loopback port, data in a
 * temp folder, no persistence) and real `paragon worker` / `paragon upscale --queue` processes
 * (bin/paragon.js), all stopped when the test ends.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/shared.ts';

const BIN = path.join(ROOT, 'bin', 'paragon.js');

/** Skip reason when Debian's redis-server is not installed. */
export const needRedis: string | false =
  spawnSync('redis-server', ['--version']).status === 0 ? false : 'needs redis-server (Debian: apt-get install redis-server; .ci/run installs it)';

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A Redis server of the test's own; `stop` and `start` again on the same port. */
export class TestRedis {
  readonly port: number;
  readonly url: string;
  readonly #dir = mkdtempSync(path.join(os.tmpdir(), 'paragon-redis-'));
  #proc: ChildProcess | undefined;

  private constructor(port: number) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
  }

  static async start(): Promise<TestRedis> {
    const r = new TestRedis(await freePort());
    await r.start();
    return r;
  }

  /** Start the server (empty: no persistence) and wait until it answers. */
  async start(): Promise<void> {
    this.#proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.#dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await this.#answers()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on port ${this.port} did not start`);
  }

  /** Stop the server (its data is gone: nothing is saved). */
  async stop(): Promise<void> {
    const p = this.#proc;
    this.#proc = undefined;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  }

  #answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = net.connect(this.port, '127.0.0.1');
      s.once('error', () => resolve(false));
      s.once('connect', () => s.write('PING\r\n'));
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
    });
  }
}

/**
 * A TCP relay to the Redis on `port` that passes its first `pass` connections through and leaves
 * later ones open but unanswered: a Redis that stops answering (frozen, or behind a dead link)
 * without the connection being refused.
 */
export async function freezingRelay(port: number, pass: number): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let seen = 0;
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => undefined).on('close', () => sockets.delete(client));
    if (seen++ >= pass) return; // accepted, read, never answered
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('error', () => client.destroy()).on('close', () => sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A `paragon worker` process; `log()` is its stderr so far. */
export interface WorkerProc {
  readonly child: ChildProcess;
  readonly name: string;
  log(): string;
  /** Resolves with the exit code (or 128 + signal number for a signal). */
  readonly exited: Promise<number>;
  /** Resolves once the log from character `from` on matches `re`. */
  waitFor(re: RegExp, from?: number, timeoutMs?: number): Promise<void>;
}

/** Start `paragon worker` on `queue` with `storage`, one thread, a short stall timeout; resolves when it waits for chunks. */
export async function startWorker(name: string, queue: string, storage: string, extra: readonly string[] = []): Promise<WorkerProc> {
  const child = spawn(process.execPath, [BIN, 'worker', '--queue', queue, '--storage', storage, '--threads', '1', '--stall-timeout', '3', '--name', name, ...extra], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const waiters: { re: RegExp; from: number; resolve: () => void }[] = [];
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    log += c;
    for (const w of waiters.splice(0)) if (w.re.test(log.slice(w.from))) w.resolve();
    else waiters.push(w);
  });
  const exited = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0))));
  const w: WorkerProc = {
    child,
    name,
    log: () => log,
    exited,
    waitFor(re, from = 0, timeoutMs = 60_000) {
      if (re.test(log.slice(from))) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`worker ${name}: no ${re} within ${timeoutMs} ms; log:\n${log}`)), timeoutMs);
        waiters.push({ re, from, resolve: () => (clearTimeout(t), resolve()) });
        void exited.then(() => reject(new Error(`worker ${name} exited before ${re}; log:\n${log}`)));
      });
    },
  };
  await w.waitFor(/waiting for chunks/);
  return w;
}

/** Stop workers still running (SIGKILL) and wait for them. */
export async function killAll(workers: readonly WorkerProc[]): Promise<void> {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
}

/** Result of a CLI run. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** How long a CLI run of a test may take before it is killed (a hang fails the test, not CI). */
const RUN_LIMIT_MS = 300_000;

/** Run `paragon ...args` to the end; never rejects. One that outlives `limitMs` is killed (code -1). */
export function paragon(args: readonly string[], limitMs = RUN_LIMIT_MS): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, maxBuffer: 16 << 20, timeout: limitMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const killed = err !== null && (err as { killed?: boolean }).killed === true;
      resolve({ code: killed ? -1 : err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr: killed ? `${stderr}\n(no exit within ${limitMs} ms: killed)` : stderr });
    });
  });
}

/** Start `paragon ...args`; `stderr()` is what it printed so far. Killed (code -1) after `limitMs`. */
export function startParagon(args: readonly string[], limitMs = RUN_LIMIT_MS): { child: ChildProcess; done: Promise<CliResult>; stderr: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, limitMs);
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(killed ? { code: -1, stdout, stderr: `${stderr}\n(no exit within ${limitMs} ms: killed)` } : { code: code ?? 1, stdout, stderr });
    }),
  );
  return { child, done, stderr: () => stderr };
}
