/**
 * Scene cuts of a whole video file: decode small frames (the analysis size, scaled by ffmpeg, so
 * almost nothing crosses the pipe) and run the {@link SceneCutDetector} over them.
 */
import { SceneCutDetector, analysisSize, type SceneCutOptions } from '../temporal/scene-cut.ts';
import { decodeFrames } from './decode.ts';
import { probeMedia, type ToolOptions } from './probe.ts';

/** A hard cut: `frame` is the 0-based index of the first frame of the new shot, `time` its pts in seconds. */
export interface SceneCut {
  readonly frame: number;
  readonly time: number;
  readonly score: number;
}

/** Find the hard cuts of a video. */
export async function findSceneCuts(
  file: string,
  opts: ToolOptions & { readonly detector?: SceneCutOptions; readonly onFrame?: (index: number, score: number, threshold: number) => void } = {},
): Promise<{ cuts: SceneCut[]; frames: number }> {
  const info = await probeMedia(file, opts);
  const size = analysisSize(info.video.width, info.video.height);
  const detector = new SceneCutDetector(opts.detector);
  const cuts: SceneCut[] = [];
  let frames = 0;
  await using stream = decodeFrames(file, { ...opts, info, size, bitDepth: 8 });
  for await (const f of stream) {
    const d = detector.push(f);
    opts.onFrame?.(f.index, d.score, d.threshold);
    if (d.cut) cuts.push({ frame: f.index, time: f.pts, score: d.score });
    frames++;
  }
  return { cuts, frames };
}
