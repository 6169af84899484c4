/**
 * Worker-thread host of one ORT session. `InferenceSession.run` blocks the thread it runs on,
 * so the session lives here and the main thread keeps decoding and encoding meanwhile. Kept
 * small on purpose: load (with device fallback), run, close. Tensors travel as transferred
 * ArrayBuffers both ways.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { shortOrtMessage, isOutOfMemory } from './devices.ts';
import { Downloader, onDevice, release as releaseTensor, residentSessionOptions } from './resident.ts';
import { hasNonFinite } from './tensor.ts';
import { currentThreadId, threadIds } from './priority.ts';
import type { Carry, FeedTensor, OutTensor, Request, Reply, WireTensor } from './protocol.ts';

// Missing CUDA/TensorRT libraries make ORT log an error per attempt; the fallback notice is enough.
ort.env.logLevel = process.env.PARAGON_DEBUG ? 'warning' : 'fatal';

const port = parentPort;
if (!port) throw new Error('runtime/worker.ts must run in a worker thread');

let session: ort.InferenceSession | undefined;
/** Reads outputs left on the device back to the CPU (resident.ts); made at load. */
let downloader: Downloader | undefined;

function reply(msg: Reply, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

function failure(id: number, e: unknown): Reply {
  return { id, ok: false, message: shortOrtMessage(e), oom: isOutOfMemory(e) };
}

async function load(id: number, req: Extract<Request, { type: 'load' }>): Promise<void> {
  const failures: { device: string; message: string }[] = [];
  for (const device of req.devices) {
    try {
      const before = new Set(threadIds());
      session = await ort.InferenceSession.create(req.model, residentSessionOptions(device, req.cpu, req.resident));
      downloader = new Downloader(device, req.cpu);
      // This thread and the ones the session started (ORT's pool): the model's threads.
      const self = currentThreadId();
      const threads = self === undefined ? [] : [self, ...threadIds().filter((t) => !before.has(t))];
      const meta = (m: readonly ort.InferenceSession.ValueMetadata[]) =>
        m.map((v) => ({ name: v.name, type: v.isTensor ? v.type : 'unknown', shape: v.isTensor ? [...v.shape] : [] }));
      reply({ id, ok: true, device, failures, inputs: meta(session.inputMetadata), outputs: meta(session.outputMetadata), threads });
      return;
    } catch (e) {
      failures.push({ device, message: shortOrtMessage(e) });
    }
  }
  reply({ id, ok: false, message: failures.map((f) => `${f.device}: ${f.message}`).join('; '), oom: false, failures });
}

/** Feature state kept between runs (see `Carry` in protocol.ts). */
let kept: ort.Tensor | undefined;
let broken = false;
/**
 * The state before `kept`, free once `kept` was made: the next carried run has ORT write its
 * state straight into it (a preallocated output). The binding still hands back a copy, but that
 * one dies at once, young; without this every frame's state (15 MB at 640×360) lived a frame,
 * was promoted, and brought a full collection every few frames.
 */
let spare: ort.Tensor | undefined;

async function run(id: number, feeds: Record<string, FeedTensor>, carry: Carry | undefined, fetch: string[] | undefined, into: Record<string, ArrayBuffer> = {}): Promise<void> {
  // The feeds' buffers were transferred here; they go back with the reply, so the main thread can
  // fill them with the next frame instead of allocating (and page-faulting) fresh megabytes.
  const back = [...new Set(Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer))];
  const fail = (r: Reply): void => reply({ ...r, inputs: feeds } as Reply, back);
  if (!session) return fail({ id, ok: false, message: 'no model loaded', oom: false });
  const inputs: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) inputs[name] = new ort.Tensor(t.type, t.data as Float32Array, t.dims);
  // A carried state has the size of the state it follows (the frame size did not change).
  let target: ort.Tensor | undefined;
  if (carry && !(carry.input in inputs)) {
    if (broken || !kept) return fail({ id, ok: false, message: 'no carried feature state (an earlier run failed)', oom: false, broken: true });
    inputs[carry.input] = kept;
    if (spare && !onDevice(kept) && spare.type === kept.type && spare.data.length === kept.data.length) target = new ort.Tensor(kept.type as 'float32', spare.data as Float32Array, kept.dims);
  }
  try {
    const names = fetch ?? session.outputNames;
    const out = target
      ? await session.run(inputs, Object.fromEntries(names.map((n) => [n, n === carry!.output ? target : null])) as ort.InferenceSession.FetchesType)
      : await session.run(inputs, [...names]);
    let nonFinite = false;
    if (carry) {
      const f = out[carry.output];
      if (!f) throw new Error(`model returned no ${carry.output}`);
      // A state left on the device is not read back for the check: a NaN or Inf in the features
      // reaches this frame's image, which is checked.
      nonFinite = carry.guard === true && Object.values(out).some((t) => !onDevice(t) && (t.type === 'float32' || t.type === 'float16') && anyNonFinite(t.data as Float32Array | Uint16Array));
      if (nonFinite) {
        broken = true;
        releaseTensor(f);
      } else {
        // The state before is free now (it was this run's input, or not used at all).
        if (kept && kept !== target) {
          if (onDevice(kept)) kept.dispose();
          else spare = kept;
        }
        kept = target ?? f;
        broken = false;
      }
    }
    const outputs: Record<string, OutTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, o] of Object.entries(out)) {
      if (carry && name === carry.output) continue;
      // A resident output asked for by a run that does not carry it (tiles, reruns): read back.
      const t = onDevice(o) ? await downloader!.toCpu(o) : o;
      releaseTensor(o);
      const data = t.data as OutTensor['data'];
      const mine = into[name];
      if (mine && mine.byteLength === data.byteLength) {
        // Into the caller's own buffer: ORT's is garbage at once (a cheap young collection here),
        // and the main thread sees no new megabytes a frame, nor the full collections they bring.
        const filled = new (data.constructor as Uint8ArrayConstructor)(mine);
        filled.set(data as Uint8Array);
        outputs[name] = { type: t.type as OutTensor['type'], data: filled, dims: [...t.dims] };
        transfer.push(mine);
        continue;
      }
      outputs[name] = { type: t.type as OutTensor['type'], data, dims: [...t.dims] };
      // ORT hands back exactly-sized buffers; a view into a shared one must be copied, not transferred.
      if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) transfer.push(data.buffer as ArrayBuffer);
      else outputs[name] = { ...outputs[name]!, data: data.slice() };
    }
    reply({ id, ok: true, outputs, ...(nonFinite ? { nonFinite } : {}), inputs: feeds }, [...transfer, ...back]);
  } catch (e) {
    if (carry) broken = true;
    fail(failure(id, e));
  }
}

/** NaN or ±Inf anywhere: float32 values, or float16 bits with an all-ones exponent. */
function anyNonFinite(a: Float32Array | Uint16Array): boolean {
  if (a instanceof Uint16Array) return a.some((h) => (h & 0x7c00) === 0x7c00);
  return hasNonFinite(a);
}

/** Hand the kept state to the main thread: a copy (it stays here), or the tensor itself (then forgotten). */
async function take(id: number, copy: boolean): Promise<void> {
  const k = kept;
  if (!copy) kept = undefined;
  if (!k) return reply({ id, ok: true, kept: undefined });
  // A state on the device comes back as a fresh CPU copy, which is the caller's to keep.
  const t = await downloader!.toCpu(k);
  if (!copy) releaseTensor(k);
  const data = copy && t === k ? (t.data as Float32Array | Uint16Array).slice() : (t.data as Float32Array | Uint16Array);
  const owned = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  const wired = { type: t.type as WireTensor['type'], data: owned ? data : data.slice(), dims: [...t.dims] };
  reply({ id, ok: true, kept: wired }, [wired.data.buffer as ArrayBuffer]);
}

// Requests are handled strictly one after another: a run that carries state must see the state
// of the run queued before it, and ORT's run is asynchronous.
let queue: Promise<void> = Promise.resolve();
port.on('message', (msg: Request & { id: number }) => {
  const { id } = msg;
  const task = (): Promise<void> =>
    msg.type === 'load' ? load(id, msg) : msg.type === 'run' ? run(id, msg.feeds, msg.carry, msg.fetch, msg.into) : msg.type === 'take' ? take(id, msg.copy) : release(id);
  queue = queue.then(task).catch((e) => reply(failure(id, e)));
});

async function release(id: number): Promise<void> {
  releaseTensor(kept);
  kept = spare = undefined;
  await downloader?.close();
  await session?.release();
  session = undefined;
  reply({ id, ok: true, closed: true });
  port!.close();
}
