/**
 * Colour signalling: which YUV↔RGB matrix and range a stream uses, in the spellings swscale (the
 * `scale` filter) and the encoders (`-colorspace`, `-color_range`, ...) expect. Decode and encode
 * use the SAME description, so a round trip converts with one matrix both ways, and the output is
 * always tagged with the matrix that was actually used — leaving it unspecified would let players
 * guess from the (upscaled) size, e.g. BT.709 for HD output of a BT.601 SD source.
 */
import type { VideoStreamInfo } from './probe.ts';

/** Matrix names of the scale filter's `in_color_matrix` / `out_color_matrix`. */
export type ScaleMatrix = 'bt601' | 'bt709' | 'fcc' | 'smpte240m' | 'bt2020';

/** How a stream's YUV relates to RGB. */
export interface ColorSignal {
  /** Matrix as an ffmpeg `-colorspace` name (`bt709`, `smpte170m`, `bt470bg`, `bt2020nc`, ...). */
  readonly matrix: string;
  /** `tv` (limited, 16–235) or `pc` (full). */
  readonly range: 'tv' | 'pc';
  /** Primaries and transfer, only when the source states them (they are copied, never guessed). */
  readonly primaries: string | undefined;
  readonly transfer: string | undefined;
  /** True when the source left the matrix unspecified and it was guessed from the frame size. */
  readonly guessed: boolean;
}

const TO_SCALE: Record<string, ScaleMatrix> = {
  bt709: 'bt709',
  smpte170m: 'bt601',
  bt470bg: 'bt601',
  fcc: 'fcc',
  smpte240m: 'smpte240m',
  bt2020nc: 'bt2020',
  // Constant-luminance BT.2020 has no swscale matrix; the non-constant one is the closest.
  bt2020c: 'bt2020',
};

/** The scale-filter matrix for an ffmpeg colorspace name (unknown names → BT.709). */
export const scaleMatrix = (matrix: string): ScaleMatrix => TO_SCALE[matrix] ?? 'bt709';

/** True for pixel formats that carry YUV (or grey) samples, i.e. need a matrix and a range. */
export const isYuv = (pixFmt: string): boolean =>
  /^(yuv|yuvj|yuva|nv\d|p0\d|p2\d|p4\d|y2\d|uyvy|yuyv|yvyu|v210|v30|ayuv|xv\d|vuy|uyyvyy|y4\d)/.test(pixFmt);

/**
 * The colour description of a video stream. An unspecified matrix is guessed the way players do:
 * BT.709 from 1280 wide or 577 lines up, else BT.601 (NTSC/PAL). An unspecified range is limited,
 * except for the full-range `yuvj*` formats.
 */
export function colorOf(v: Pick<VideoStreamInfo, 'colorSpace' | 'colorRange' | 'colorPrimaries' | 'colorTransfer' | 'pixFmt' | 'storedWidth' | 'storedHeight'>): ColorSignal {
  const known = v.colorSpace !== undefined && v.colorSpace in TO_SCALE;
  const hd = v.storedWidth >= 1280 || v.storedHeight > 576;
  const matrix = known ? v.colorSpace! : hd ? 'bt709' : v.storedHeight <= 480 ? 'smpte170m' : 'bt470bg';
  const range = v.colorRange === 'pc' || v.colorRange === 'jpeg' || (v.colorRange === undefined && v.pixFmt.startsWith('yuvj')) ? 'pc' : 'tv';
  return { matrix, range, primaries: v.colorPrimaries, transfer: v.colorTransfer, guessed: !known };
}
