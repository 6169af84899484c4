/**
 * Export: every frame of the video through the scene-cut detector and the upscaler, encoded with
 * WebCodecs and muxed by mediabunny (a Conversion whose video `process` step upscales). Audio is
 * kept: copied when the container allows the codec, else re-encoded by mediabunny (AAC → Opus
 * for WebM). No frame is dropped here, unlike playback.
 */
import { BufferTarget, Conversion, ConversionCanceledError, Mp4OutputFormat, Output, VideoSample, WebMOutputFormat } from 'mediabunny';
import { mediaError } from '../../errors.ts';
import { SceneCutDetector } from '../../temporal/scene-cut.ts';
import { FrameReader, rgbaFromPlanar } from './frames.ts';
import { mediaInput, type VideoSource } from './playback.ts';
import type { WebUpscaler } from './upscaler.ts';

/** Output container: MP4 (H.264) or WebM (VP9). */
export type Container = 'mp4' | 'webm';

/** Options of {@link exportVideo}. */
export interface ExportOptions {
  readonly container: Container;
  /** 0..1 as frames are done. */
  readonly onProgress?: (fraction: number) => void;
  /** Abort to cancel; {@link exportVideo} then resolves to undefined. */
  readonly signal?: AbortSignal;
}

/** The export: the file's bytes, its MIME type and the number of scene cuts met. */
export interface Exported {
  readonly blob: Blob;
  readonly cuts: number;
  readonly frames: number;
}

/**
 * Upscale a whole video into a new file. The upscaler's state is reset before and after (the
 * player shows its next frame from no history). Resolves to undefined when cancelled.
 */
export async function exportVideo(src: VideoSource, name: string, up: WebUpscaler, opts: ExportOptions): Promise<Exported | undefined> {
  const input = mediaInput(src);
  const track = await input.getPrimaryVideoTrack();
  if (!track) throw mediaError(name, 'no video track');
  const scale = up.info.scale;
  const mp4 = opts.container === 'mp4';
  const target = new BufferTarget();
  const output = new Output({ format: mp4 ? new Mp4OutputFormat({ fastStart: 'in-memory' }) : new WebMOutputFormat(), target });
  const reader = new FrameReader();
  const detector = new SceneCutDetector();
  let cuts = 0;
  let frames = 0;
  up.reset();
  const conversion = await Conversion.init({
    input,
    output,
    video: {
      codec: mp4 ? 'avc' : 'vp9',
      forceTranscode: true,
      // Rotation is applied when reading the frame, so the output needs no rotation metadata.
      allowTransformationMetadata: false,
      processedWidth: track.displayWidth * scale,
      processedHeight: track.displayHeight * scale,
      process: async (sample: VideoSample) => {
        const px = reader.read(sample);
        const d = detector.push(px.packed);
        if (d.cut) cuts++;
        const out = await up.process(px.planar, { cut: d.cut });
        frames++;
        return new VideoSample(rgbaFromPlanar(out.rgb, out.width, out.height), {
          format: 'RGBX',
          codedWidth: out.width,
          codedHeight: out.height,
          timestamp: sample.timestamp,
          duration: sample.duration,
        });
      },
    },
  });
  if (!conversion.isValid)
    throw mediaError(name, `cannot export: ${conversion.discardedTracks.map((t) => `${t.track.type} track ${t.reason}`).join(', ')}`);
  conversion.onProgress = (p) => opts.onProgress?.(p);
  const cancel = () => void conversion.cancel();
  opts.signal?.addEventListener('abort', cancel, { once: true });
  try {
    await conversion.execute();
  } catch (e) {
    if (e instanceof ConversionCanceledError) return undefined;
    throw mediaError(name, `export failed: ${e instanceof Error ? e.message : String(e)}`, e);
  } finally {
    opts.signal?.removeEventListener('abort', cancel);
    up.reset();
    input.dispose();
  }
  return { blob: new Blob([target.buffer!], { type: mp4 ? 'video/mp4' : 'video/webm' }), cuts, frames };
}
