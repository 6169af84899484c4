/**
 * A model session hosted in a worker thread, so inference never blocks the event loop. The
 * worker tries the device candidates one at a time and the first that loads wins; an explicit
 * device that fails gives a one-line notice before CPU takes over.
 */
import { Worker } from 'node:worker_threads';
import { ParagonError, modelError } from '../errors.ts';
import { deviceCandidates, providerInstallHint, type CpuOptions, type Device, type DeviceRequest } from './devices.ts';
import type { Carry, FeedTensor, OutTensor, Reply, Request, ValueInfo, WireTensor } from './protocol.ts';
import { fromSource, siblingModule } from './sibling.ts';

/** Options of {@link ModelSession.create}. */
export interface SessionOptions {
  /** `--device` value (default 'auto'). */
  readonly device?: DeviceRequest;
  readonly cpu?: CpuOptions;
  /** Name of the model file, for error messages. */
  readonly label?: string;
  /** Receives one-line notices (device fallback). Default: none. */
  readonly onNotice?: (line: string) => void;
  /**
   * Outputs to leave on the device between runs where it can (WebGPU: GPU buffers; ignored
   * elsewhere): the carried feature state (see {@link ModelSession.runCarried}), so that it never
   * crosses to the CPU. Read back only when asked for: {@link ModelSession.take}, or a run that
   * does not carry it.
   */
  readonly resident?: readonly string[];
}

const WORKER_URL = siblingModule(import.meta.url, 'worker');

/**
 * Start the worker. Built (dist/), it is plain JavaScript. From source it must import TypeScript
 * whether the process came up through `node --import tsx` or through bin/paragon.js (tsx
 * registered by API, which workers do not inherit): a tiny eval'd ESM bootstrap registers tsx in
 * the worker, then imports the real entry.
 */
function startWorker(): Worker {
  const options = { execArgv: [], stdout: false, stderr: false };
  if (!fromSource(import.meta.url)) return new Worker(WORKER_URL, options);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(code, { ...options, eval: true });
}

type Pending = { resolve: (r: Reply) => void; reject: (e: unknown) => void };

/** One ORT inference session in its own worker thread. Dispose with `await using` or {@link close}. */
export class ModelSession implements AsyncDisposable {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly #label: string;
  #nextId = 1;
  #closed = false;
  #device: Device = 'cpu';
  #inputs: ValueInfo[] = [];
  #outputs: ValueInfo[] = [];
  #threads: number[] = [];

  private constructor(worker: Worker, label: string) {
    this.#worker = worker;
    this.#label = label;
    worker.on('message', (r: Reply) => {
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (this.#pending.size === 0) worker.unref();
      p.resolve(r);
    });
    const failAll = (e: unknown) => {
      for (const p of this.#pending.values()) p.reject(e);
      this.#pending.clear();
    };
    worker.on('error', (e) => failAll(new ParagonError('internal', `inference worker failed: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => {
      this.#closed = true;
      failAll(new ParagonError('internal', `inference worker exited (code ${code})`));
    });
    worker.unref();
  }

  /** Load `model` (ONNX bytes) on the first device of the request's candidates that accepts it. */
  static async create(model: Uint8Array, options: SessionOptions = {}): Promise<ModelSession> {
    const request = options.device ?? 'auto';
    const label = options.label ?? 'model';
    const s = new ModelSession(startWorker(), label);
    const reply = await s.#call({ type: 'load', model, devices: deviceCandidates(request), cpu: options.cpu ?? {}, ...(options.resident?.length ? { resident: options.resident } : {}) }).catch(
      async (e) => {
        await s.close();
        throw e;
      },
    );
    if (!reply.ok) {
      await s.close();
      throw modelError(label, `cannot load the model: ${reply.message}`);
    }
    if (!('device' in reply)) throw new ParagonError('internal', 'unexpected worker reply to load');
    s.#device = reply.device;
    s.#inputs = reply.inputs;
    s.#outputs = reply.outputs;
    s.#threads = reply.threads;
    if (request !== 'auto' && reply.device !== request) {
      const why = reply.failures.find((f) => f.device === request)?.message ?? 'not available';
      const hint = providerInstallHint(request);
      const get = hint ? `; onnxruntime-node's ${request === 'cuda' ? 'CUDA' : 'TensorRT'} provider is not installed, get it with: ${hint}` : '';
      options.onNotice?.(`device ${request} unavailable (${why}${get}); using ${reply.device}`);
    }
    return s;
  }

  /** The device the session runs on. */
  get device(): Device {
    return this.#device;
  }
  /** Model inputs as the session reports them. */
  get inputs(): readonly ValueInfo[] {
    return this.#inputs;
  }
  /** Ids of the threads that run this model (Linux; empty elsewhere): see priority.ts. */
  get threads(): readonly number[] {
    return this.#threads;
  }
  /** Model outputs as the session reports them. */
  get outputs(): readonly ValueInfo[] {
    return this.#outputs;
  }

  /**
   * Run the model. The feeds' buffers are TRANSFERRED to the worker (they are detached here
   * afterwards), so pass arrays you no longer need. Out-of-memory becomes a `resources` error
   * (callers retry with smaller tiles); anything else a `model` error.
   */
  async run(feeds: Record<string, FeedTensor>): Promise<Record<string, WireTensor>> {
    // The model's own outputs (float): not the packing head's (graph/pack-head.ts), if it has one.
    const own = this.#outputs.map((o) => o.name).filter((n) => !n.startsWith('paragon_'));
    const r = await this.runCarried(feeds, undefined, own.length < this.#outputs.length ? own : undefined);
    if (!r.ok) throw r.error;
    return r.outputs as Record<string, WireTensor>;
  }

  /**
   * Run with feature state kept in the worker (see `Carry`): the `carry.output` tensor stays there
   * and is fed as `carry.input` to the next run that leaves that feed out, so the caller can queue
   * the next frame at once. Answers `{ ok: false }` for a run that could not be done and can be
   * redone another way: out of memory (`error` is the `resources` error), or a carried run after a
   * failed one (`broken`: the chain is broken until a run feeds the input again). `nonFinite` says
   * a guarded run's outputs held NaN/Inf (they were not kept). The kept output itself is not
   * returned (see {@link take}); `fetch` names the outputs wanted (default: all); `into` lends buffers (transferred) that outputs of the same byte size are copied into, instead of new ones. Either way
   * `inputs` hands the feeds' buffers back for reuse.
   * Other failures throw a `model` error.
   */
  async runCarried(
    feeds: Record<string, FeedTensor>,
    carry: Carry | undefined,
    fetch?: string[],
    into?: Record<string, ArrayBuffer>,
  ): Promise<
    | { ok: true; outputs: Record<string, OutTensor>; nonFinite: boolean; inputs: Record<string, FeedTensor> | undefined }
    | { ok: false; broken: boolean; error: ParagonError; inputs: Record<string, FeedTensor> | undefined }
  > {
    const transfer = new Set<ArrayBuffer>();
    for (const t of Object.values(feeds)) transfer.add(t.data.buffer as ArrayBuffer);
    for (const b of Object.values(into ?? {})) transfer.add(b);
    const reply = await this.#call({ type: 'run', feeds, ...(carry ? { carry } : {}), ...(fetch ? { fetch } : {}), ...(into ? { into } : {}) }, [...transfer]);
    if (!reply.ok) {
      const error = reply.oom
        ? new ParagonError('resources', `out of memory on ${this.#device}: ${reply.message}`, { file: this.#label })
        : reply.broken
          ? new ParagonError('internal', reply.message)
          : modelError(this.#label, `inference failed on ${this.#device}: ${reply.message}`);
      if (!reply.oom && !reply.broken) throw error;
      return { ok: false, broken: reply.broken === true, error, inputs: reply.inputs };
    }
    if (!('outputs' in reply) || 'device' in reply) throw new ParagonError('internal', 'unexpected worker reply to run');
    return { ok: true, outputs: reply.outputs, nonFinite: reply.nonFinite === true, inputs: reply.inputs };
  }

  /**
   * The feature state the worker keeps (queued behind every run already asked for): a copy that
   * stays there too (`copy: true`), or the state itself, which the worker then forgets.
   */
  async take(copy: boolean): Promise<WireTensor | undefined> {
    const reply = await this.#call({ type: 'take', copy });
    if (!reply.ok || !('kept' in reply)) throw new ParagonError('internal', 'unexpected worker reply to take');
    return reply.kept;
  }

  /** Release the session and end its worker. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#call({ type: 'close' }, [], true).catch(() => undefined);
    await this.#worker.terminate();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #call(req: Request, transfer: ArrayBuffer[] = [], closing = false): Promise<Reply> {
    if (this.#closed && !closing) return Promise.reject(new ParagonError('internal', 'session is closed'));
    const id = this.#nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.ref();
      try {
        this.#worker.postMessage({ ...req, id }, transfer);
      } catch (e) {
        // Nothing was sent (a detached buffer, say): no reply will come, so do not keep the worker up for one.
        this.#pending.delete(id);
        if (this.#pending.size === 0) this.#worker.unref();
        reject(e);
      }
    });
  }
}
