/**
 * `paragon worker --queue redis://… --storage DIR`: run chunks of farm jobs (`paragon upscale …
 * --queue`) until stopped. The first SIGINT/SIGTERM/SIGHUP stops taking chunks and finishes the
 * ones in hand (or, with `--on-stop requeue`, puts them back in the queue at once); a second one
 * quits at once, and the queue then gives the chunks in hand to another worker once their lock
 * runs out (`--stall-timeout`).
 */
import { defineCommand } from 'citty';
import { usageError } from '../errors.ts';
import { parseDevice } from '../runtime/devices.ts';
import { startFarmWorker } from '../api/farm.ts';
import { intFlag, rejectUnknownFlags } from './args.ts';
import { claimInterrupt, interrupted } from './interrupt.ts';

const argsDef = {
  queue: { type: 'string', required: true, description: 'Redis of the farm: redis://HOST:PORT[/DB]' },
  storage: { type: 'string', required: true, description: "The farm's shared folder, as mounted on this machine (job paths are resolved inside it, nothing outside is touched)" },
  concurrency: { type: 'string', description: 'Chunks run at once (default 1; each gets its share of the CPU threads)' },
  device: { type: 'string', default: 'auto', description: 'auto | cpu | webgpu | cuda | tensorrt (falls back to cpu with a notice)' },
  threads: { type: 'string', description: 'CPU threads per operator (default: all cores, divided among concurrent chunks)' },
  ffmpeg: { type: 'string', description: 'ffmpeg binary to use (ffprobe is looked for beside it)' },
  'stall-timeout': { type: 'string', description: 'Seconds after which a chunk of a worker that stopped answering goes to another worker (default 30)' },
  'on-stop': { type: 'string', description: 'On the first stop signal: finish (default: finish the chunks in hand) | requeue (put them back in the queue at once)' },
  name: { type: 'string', description: "This worker's name in the coordinator's progress and logs (default HOST-PID)" },
} as const;

export default defineCommand({
  meta: {
    name: 'worker',
    description: 'Run chunks of farm jobs (paragon upscale … --queue) from a Redis queue until stopped (docs/farm.md).',
  },
  args: argsDef,
  async run({ args, rawArgs }) {
    rejectUnknownFlags(rawArgs, argsDef);
    const concurrency = intFlag('concurrency', args.concurrency, 1) ?? 1;
    const threads = intFlag('threads', args.threads, 1);
    const stallTimeout = intFlag('stall-timeout', args['stall-timeout'], 1);
    const onStop = args['on-stop'] ?? 'finish';
    if (onStop !== 'finish' && onStop !== 'requeue') throw usageError(`--on-stop ${onStop}: expected finish or requeue`);
    const log = (line: string): void => void process.stderr.write(`paragon: ${line}\n`);
    const release = claimInterrupt();
    try {
      const worker = await startFarmWorker({
        queue: args.queue,
        storage: args.storage,
        concurrency,
        device: parseDevice(args.device),
        ...(threads !== undefined ? { threads } : {}),
        ...(args.ffmpeg !== undefined ? { ffmpeg: args.ffmpeg } : {}),
        ...(stallTimeout !== undefined ? { stallTimeout } : {}),
        ...(args.name !== undefined ? { name: args.name } : {}),
        onNotice: log,
      });
      await new Promise<void>((resolve) => (interrupted.aborted ? resolve() : interrupted.addEventListener('abort', () => resolve(), { once: true })));
      if (onStop === 'requeue') {
        if (worker.busy > 0) log(`putting ${worker.busy} chunk(s) back in the queue`);
        await worker.requeue();
      } else {
        if (worker.busy > 0) log(`finishing the ${worker.busy} chunk(s) in hand; stop again to quit at once (they then go back to the queue)`);
        await worker.close();
      }
      log('worker stopped');
    } finally {
      release();
    }
  },
});
