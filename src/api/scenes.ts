/**
 * The scene-cut detector on a whole video file from a Node program (what `paragon scenes` prints,
 * and where `upscaleVideo` resets the temporal state).
 */
import { locateFfmpeg } from '../video/ffmpeg.ts';
import { findSceneCuts, type SceneCut } from '../video/scenes.ts';

/** Options of {@link detectScenes}. */
export interface DetectScenesOptions {
  /** The ffmpeg binary (ffprobe is looked for beside it); default: PARAGON_FFMPEG, PATH, then the npm-installed one. */
  readonly ffmpeg?: string;
  /** Stops decoding: rejects with a ParagonError of code 130. */
  readonly signal?: AbortSignal;
  /** Called for every frame with its change score and the threshold it was judged against. */
  readonly onFrame?: (index: number, score: number, threshold: number) => void;
}

/** The hard cuts of a video, and how many frames it has. */
export interface SceneReport {
  /** `frame`: 0-based index of the first frame of the new shot; `time`: its timestamp, s; `score`: how different it was. */
  readonly cuts: SceneCut[];
  readonly frames: number;
}

/** Find the hard scene cuts of a video file (decoded small, so fast). */
export async function detectScenes(file: string, opts: DetectScenesOptions = {}): Promise<SceneReport> {
  const tools = locateFfmpeg({ ffmpeg: opts.ffmpeg });
  return findSceneCuts(file, { tools, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onFrame ? { onFrame: opts.onFrame } : {}) });
}
