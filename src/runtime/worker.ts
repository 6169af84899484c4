/**
 * Worker-thread host of one ORT session. `InferenceSession.run` blocks the thread it runs on,
 * so the session lives here and the main thread keeps decoding and encoding meanwhile. Kept
 * small on purpose: load (with device fallback), run, close. Tensors travel as transferred
 * ArrayBuffers both ways.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { sessionOptions, shortOrtMessage, isOutOfMemory } from './devices.ts';
import type { Request, Reply, WireTensor } from './protocol.ts';

// Missing CUDA/TensorRT libraries make ORT log an error per attempt; the fallback notice is enough.
ort.env.logLevel = process.env.PARAGON_DEBUG ? 'warning' : 'fatal';

const port = parentPort;
if (!port) throw new Error('runtime/worker.ts must run in a worker thread');

let session: ort.InferenceSession | undefined;

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
      session = await ort.InferenceSession.create(req.model, sessionOptions(device, req.cpu));
      const meta = (m: readonly ort.InferenceSession.ValueMetadata[]) =>
        m.map((v) => ({ name: v.name, type: v.isTensor ? v.type : 'unknown', shape: v.isTensor ? [...v.shape] : [] }));
      reply({ id, ok: true, device, failures, inputs: meta(session.inputMetadata), outputs: meta(session.outputMetadata) });
      return;
    } catch (e) {
      failures.push({ device, message: shortOrtMessage(e) });
    }
  }
  reply({ id, ok: false, message: failures.map((f) => `${f.device}: ${f.message}`).join('; '), oom: false, failures });
}

async function run(id: number, feeds: Record<string, WireTensor>): Promise<void> {
  if (!session) return reply({ id, ok: false, message: 'no model loaded', oom: false });
  const inputs: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) inputs[name] = new ort.Tensor(t.type, t.data, t.dims);
  try {
    const out = await session.run(inputs);
    const outputs: Record<string, WireTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(out)) {
      const data = t.data as Float32Array | Uint16Array;
      outputs[name] = { type: t.type as WireTensor['type'], data, dims: [...t.dims] };
      // ORT hands back exactly-sized buffers; a view into a shared one must be copied, not transferred.
      if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) transfer.push(data.buffer as ArrayBuffer);
      else outputs[name] = { ...outputs[name]!, data: data.slice() };
    }
    reply({ id, ok: true, outputs }, transfer);
  } catch (e) {
    reply(failure(id, e));
  }
}

port.on('message', (msg: Request & { id: number }) => {
  const { id } = msg;
  const task =
    msg.type === 'load' ? load(id, msg) : msg.type === 'run' ? run(id, msg.feeds) : release(id);
  task.catch((e) => reply(failure(id, e)));
});

async function release(id: number): Promise<void> {
  await session?.release();
  session = undefined;
  reply({ id, ok: true, closed: true });
  port!.close();
}
