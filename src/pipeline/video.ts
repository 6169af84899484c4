/**
 * The video hook of `paragon upscale`: inputs recognised as video by extension come here. The
 * frame engine (TemporalUpscaler.process with `cut` from the scene-cut detector) is ready; the
 * ffmpeg decode/encode side plugs in here.
 */
import path from 'node:path';
import { ParagonError } from '../errors.ts';
import type { UpscaleJobOptions } from './job.ts';

/** Extensions treated as video (case-insensitive). */
export const VIDEO_EXTENSIONS = ['.mp4', '.mkv', '.mov', '.webm', '.avi', '.m4v', '.ts', '.mts', '.m2ts', '.y4m', '.gif'] as const;

/** True for a path with a video extension. */
export const isVideoPath = (file: string): boolean =>
  (VIDEO_EXTENSIONS as readonly string[]).includes(path.extname(file).toLowerCase());

/** Upscale a video file. Not wired yet: the ffmpeg decode/encode layer lands separately. */
export async function upscaleVideo(opts: UpscaleJobOptions): Promise<never> {
  throw new ParagonError('usage', 'video upscaling is not available in this build yet (images and folders are)', { file: opts.input });
}
