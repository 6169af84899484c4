/**
 * The media layer: probe, decode to exact-pts RGB frames, encode with the source's streams and
 * colour, scene cuts. See each module for the details.
 */
export { locateFfmpeg, describeTools, ffmpegCaps, type FfmpegTools, type FfmpegCaps } from './ffmpeg.ts';
export { probeMedia, type MediaInfo, type VideoStreamInfo, type AudioStreamInfo, type SubtitleStreamInfo, type Rational, type ToolOptions } from './probe.ts';
export { decodeFrames, FrameStream, displayFilters, type Frame, type DecodeOptions } from './decode.ts';
export { createEncoder, type EncoderOptions, type EncodeFrame, type VideoEncoder } from './encode.ts';
export { VIDEO_CODECS, OUTPUT_EXTENSIONS, containerFor, type VideoCodec } from './containers.ts';
export { colorOf, type ColorSignal } from './color.ts';
export { framePlanes } from './frame.ts';
export { findSceneCuts, type SceneCut } from './scenes.ts';
