/**
 * HDR static metadata: the mastering display (primaries, white point, luminance range) and the
 * content light levels (MaxCLL, MaxFALL) that PQ and HLG sources carry beside their colour tags.
 * Players tone-map by them, so an upscale that drops them looks different from its source. Raw
 * frames through a pipe lose all side data, so the values are read from the source's first frame
 * (ffprobe) and handed to encoders that can write them.
 */
import { collect, fileArg, type FfmpegTools } from './ffmpeg.ts';

/** CIE 1931 xy. */
export type Chromaticity = readonly [number, number];

/** What a source states of its HDR grading. */
export interface HdrMetadata {
  /** Primaries and white point (xy), luminance in cd/m². */
  readonly masteringDisplay?: {
    readonly red: Chromaticity;
    readonly green: Chromaticity;
    readonly blue: Chromaticity;
    readonly whitePoint: Chromaticity;
    readonly minLuminance: number;
    readonly maxLuminance: number;
  };
  /** Maximum content and maximum frame-average light level, cd/m². */
  readonly contentLight?: { readonly maxCll: number; readonly maxFall: number };
}

/** Transfers whose sources carry HDR static metadata (PQ, HLG). */
export const isHdrTransfer = (transfer: string | undefined): boolean => transfer === 'smpte2084' || transfer === 'arib-std-b67';

/** "34000/50000" or 0.68 → 0.68. */
function ratio(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return undefined;
  const [a, b] = v.split('/').map(Number);
  const r = b === undefined ? a : a! / b;
  return r !== undefined && Number.isFinite(r) ? r : undefined;
}

/** The metadata in one frame's ffprobe `side_data_list`, if any. */
export function hdrFromSideData(list: readonly Record<string, unknown>[]): HdrMetadata | undefined {
  let masteringDisplay: HdrMetadata['masteringDisplay'];
  let contentLight: HdrMetadata['contentLight'];
  for (const d of list) {
    if (d.side_data_type === 'Mastering display metadata') {
      const xy = (c: string): Chromaticity | undefined => {
        const x = ratio(d[`${c}_x`]);
        const y = ratio(d[`${c}_y`]);
        return x !== undefined && y !== undefined ? [x, y] : undefined;
      };
      const [red, green, blue, whitePoint] = [xy('red'), xy('green'), xy('blue'), xy('white_point')];
      const [minLuminance, maxLuminance] = [ratio(d.min_luminance), ratio(d.max_luminance)];
      if (red && green && blue && whitePoint && minLuminance !== undefined && maxLuminance !== undefined)
        masteringDisplay = { red, green, blue, whitePoint, minLuminance, maxLuminance };
    } else if (d.side_data_type === 'Content light level metadata') {
      const [maxCll, maxFall] = [ratio(d.max_content), ratio(d.max_average)];
      if (maxCll !== undefined && maxFall !== undefined) contentLight = { maxCll, maxFall };
    }
  }
  return masteringDisplay || contentLight ? { ...(masteringDisplay ? { masteringDisplay } : {}), ...(contentLight ? { contentLight } : {}) } : undefined;
}

/** Read the HDR metadata of a file's first video frame (one frame decoded). */
export async function probeHdr(tools: FfmpegTools, file: string, signal?: AbortSignal): Promise<HdrMetadata | undefined> {
  const out = await collect(
    tools.ffprobe,
    ['-hide_banner', '-loglevel', 'error', '-select_streams', 'V:0', '-read_intervals', '%+#1', '-show_frames', '-show_entries', 'frame=side_data_list', '-of', 'json', fileArg(file)],
    { label: 'ffprobe', file, input: 'all', signal },
  );
  try {
    const frames = (JSON.parse(out) as { frames?: { side_data_list?: Record<string, unknown>[] }[] }).frames ?? [];
    return hdrFromSideData(frames[0]?.side_data_list ?? []);
  } catch {
    return undefined;
  }
}

/** x265's `master-display`/`max-cll` parameters (xy in 1/50000, luminance in 1/10000 cd/m²). */
export function x265Hdr(h: HdrMetadata): string[] {
  const out: string[] = [];
  const m = h.masteringDisplay;
  const xy = (c: Chromaticity) => `(${Math.round(c[0] * 50000)},${Math.round(c[1] * 50000)})`;
  if (m) out.push(`master-display=G${xy(m.green)}B${xy(m.blue)}R${xy(m.red)}WP${xy(m.whitePoint)}L(${Math.round(m.maxLuminance * 10000)},${Math.round(m.minLuminance * 10000)})`);
  if (h.contentLight) out.push(`max-cll=${Math.round(h.contentLight.maxCll)},${Math.round(h.contentLight.maxFall)}`);
  return out;
}

/** SVT-AV1's `mastering-display`/`content-light` parameters (xy and cd/m² as decimals). */
export function svtav1Hdr(h: HdrMetadata): string[] {
  const out: string[] = [];
  const m = h.masteringDisplay;
  const xy = (c: Chromaticity) => `(${c[0].toFixed(4)},${c[1].toFixed(4)})`;
  if (m) out.push(`mastering-display=G${xy(m.green)}B${xy(m.blue)}R${xy(m.red)}WP${xy(m.whitePoint)}L(${m.maxLuminance.toFixed(4)},${m.minLuminance.toFixed(4)})`);
  if (h.contentLight) out.push(`content-light=${Math.round(h.contentLight.maxCll)},${Math.round(h.contentLight.maxFall)}`);
  return out;
}
