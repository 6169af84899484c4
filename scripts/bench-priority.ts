/**
 * How much an x264 encode running beside the model slows it, by the encoder's scheduling class:
 * the evidence behind src/runtime/priority.ts (the CLI puts everything but the model's threads in
 * SCHED_IDLE rather than merely lowering their niceness).
 *
 *   npx tsx scripts/bench-priority.ts [--size 640x360] [--frames 40] [--rounds 2] [--preset medium]
 *
 * Per round, one after the other: the bundled model alone (the ONNX session in its worker, the
 * feature state carried, two requests in flight, as in bench-pipeline.ts), then the same while an
 * endless 720p x264 encode (`ffmpeg -f lavfi -i testsrc2 … -f null -`) runs under `chrt --idle 0`,
 * `nice -n 10` and `nice -n 19`. Prints ms per frame and CPU-ms per frame of the model's process.
 * Linux with util-linux's chrt; compare within a round (a shared machine drifts between rounds).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { backToBack } from './back-to-back.ts';
import { resolveModel } from '../src/runtime/model.ts';
import { ModelSession } from '../src/runtime/session.ts';
import { wire } from '../src/runtime/tensor.ts';
import { rolesOf } from '../src/temporal/roles.ts';
import { locateFfmpeg } from '../src/video/ffmpeg.ts';

const { values: a } = parseArgs({
  options: {
    size: { type: 'string', default: '640x360' },
    frames: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '2' },
    preset: { type: 'string', default: 'medium' },
  },
});
const [W, H] = a.size!.split('x').map(Number) as [number, number];
const N = Number(a.frames);
const ffmpeg = locateFfmpeg().ffmpeg;

const resolved = await resolveModel(undefined, { mode: 'video' });
await using s = await ModelSession.create(resolved.bytes, { device: 'cpu' });
const roles = rolesOf(resolved.info.file, s.inputs, s.outputs);
const C = resolved.info.channels!;
const feeds = (first: boolean) => {
  const fd: Record<string, ReturnType<typeof wire>> = {
    [roles.input]: wire(new Float32Array(3 * W * H).map(() => Math.random()), [1, 3, H, W], roles.types[roles.input]),
    [roles.alpha!]: first ? wire(Float32Array.of(0), [1, 1, 1, 1], roles.types[roles.alpha!]) : wire(new Float32Array(W * H).fill(0.5), [1, 1, H, W], roles.types[roles.alpha!]),
  };
  if (first) fd[roles.prev!] = wire(new Float32Array(C * W * H), [1, C, H, W], roles.types[roles.prev!]);
  return fd;
};
const carry = { input: roles.prev!, output: roles.feature! };
const frames = Array.from({ length: N }, () => feeds(false));

/** The model alone over the frames: ms and CPU-ms (every thread of this process) per frame. */
async function model(): Promise<{ ms: number; cpuMs: number }> {
  await s.runCarried(feeds(true), carry);
  // The buffers are transferred to the worker: copies, so that every setting has its frames.
  return backToBack(s, frames.map((fd) => Object.fromEntries(Object.entries(fd).map(([k, v]) => [k, { ...v, data: v.data.slice() }]))), carry);
}

/** An endless 720p encode under `prefix` (a command and its arguments before ffmpeg's). */
function encoder(prefix: string[]): ChildProcess {
  const args = ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=1280x720:r=24', '-c:v', 'libx264', '-preset', a.preset!, '-crf', '18', '-f', 'null', '-'];
  return spawn(prefix[0]!, [...prefix.slice(1), ffmpeg, ...args], { stdio: 'ignore' });
}

const settings: [string, string[] | undefined][] = [
  ['model alone', undefined],
  ['x264 in SCHED_IDLE', ['chrt', '--idle', '0']],
  ['x264 at nice 10', ['nice', '-n', '10']],
  ['x264 at nice 19', ['nice', '-n', '19']],
];
console.log(`bundled model, ${W}x${H}, ${N} frames, video mode, x264 ${a.preset} at 1280x720 beside it`);
console.log('round  setting               ms/frame  cpu-ms/frame (model process)');
for (let r = 1; r <= Number(a.rounds); r++) {
  for (const [label, prefix] of settings) {
    const enc = prefix ? encoder(prefix) : undefined;
    if (enc) await new Promise((res) => setTimeout(res, 1000)); // the encoder up and running
    const m = await model();
    if (enc) {
      enc.kill('SIGKILL');
      await new Promise((res) => enc.once('close', res));
    }
    console.log(`${String(r).padStart(5)}  ${label.padEnd(20)}  ${m.ms.toFixed(1).padStart(8)}  ${m.cpuMs.toFixed(1).padStart(8)}`);
  }
}
