/**
 * A minimal Matroska writer for uncompressed RGB video, used to hand frames to ffmpeg on stdin
 * WITH their timestamps. A raw pipe (`-f rawvideo`) carries none, so ffmpeg would invent a constant
 * frame rate; Matroska gives every frame its own timestamp and ffmpeg's demuxer reads
 * `V_UNCOMPRESSED` with a `ColourSpace` FourCC (`RGB\x18` = rgb24, `RGB0` = rgb48le) as rawvideo.
 *
 * The timestamp scale is 1 ns and every frame gets its own cluster, so a timestamp is the
 * cluster's (unsigned, 8 bytes) and never needs the 16-bit block-relative offset: any time base
 * the source had is represented to within 0.5 ns, which ffmpeg rescales back exactly (see
 * `-enc_time_base` in encode.ts).
 */

const ID = {
  ebml: 0x1a45dfa3,
  ebmlVersion: 0x4286,
  ebmlReadVersion: 0x42f7,
  ebmlMaxIdLength: 0x42f2,
  ebmlMaxSizeLength: 0x42f3,
  docType: 0x4282,
  docTypeVersion: 0x4287,
  docTypeReadVersion: 0x4285,
  segment: 0x18538067,
  info: 0x1549a966,
  timestampScale: 0x2ad7b1,
  muxingApp: 0x4d80,
  writingApp: 0x5741,
  tracks: 0x1654ae6b,
  trackEntry: 0xae,
  trackNumber: 0xd7,
  trackUid: 0x73c5,
  trackType: 0x83,
  defaultDuration: 0x23e383,
  flagLacing: 0x9c,
  language: 0x22b59c,
  codecId: 0x86,
  video: 0xe0,
  pixelWidth: 0xb0,
  pixelHeight: 0xba,
  colourSpace: 0x2eb524,
  cluster: 0x1f43b675,
  timestamp: 0xe7,
  simpleBlock: 0xa3,
} as const;

/** Bytes of an element id (ids carry their own length marker, so write them big-endian as is). */
function idBytes(id: number): number[] {
  const out: number[] = [];
  for (let v = id; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return out;
}

/** An EBML variable-length size, always 8 bytes: simple, and any frame size fits. */
function sizeBytes(size: number): number[] {
  const out = new Array<number>(8);
  let v = size;
  for (let i = 7; i >= 1; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  out[0] = 0x01;
  return out;
}

/** Unsigned integer payload, big-endian, minimal length (at least one byte). */
function uintBytes(value: number | bigint): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  do {
    out.unshift(Number(v & 0xffn));
    v >>= 8n;
  } while (v > 0n);
  return out;
}

const el = (id: number, payload: number[]): number[] => [...idBytes(id), ...sizeBytes(payload.length), ...payload];
const uint = (id: number, value: number | bigint): number[] => el(id, uintBytes(value));
const str = (id: number, s: string): number[] => el(id, [...new TextEncoder().encode(s)]);

/** Pixel layouts the writer can declare. */
export type RawRgbFormat = 'rgb24' | 'rgb48le';

const FOURCC: Record<RawRgbFormat, number[]> = {
  rgb24: [0x52, 0x47, 0x42, 24], // MKTAG('R','G','B',24)
  rgb48le: [0x52, 0x47, 0x42, 48], // MKTAG('R','G','B',48)
};

/**
 * The stream header: EBML header, a Segment of unknown size (it is a live stream), Info with a
 * 1 ns timestamp scale, and one video track. `frameNs`, the nominal frame duration, becomes every
 * frame's duration in ffmpeg; only the last frame's matters (the others end where the next one
 * starts), and without it an MP4/MOV muxer ends the track at the last frame's start, which drops
 * that frame from a 2-frame file.
 */
export function mkvHeader(width: number, height: number, format: RawRgbFormat, frameNs?: bigint): Uint8Array {
  const ebml = el(ID.ebml, [
    ...uint(ID.ebmlVersion, 1),
    ...uint(ID.ebmlReadVersion, 1),
    ...uint(ID.ebmlMaxIdLength, 4),
    ...uint(ID.ebmlMaxSizeLength, 8),
    ...str(ID.docType, 'matroska'),
    ...uint(ID.docTypeVersion, 4),
    ...uint(ID.docTypeReadVersion, 2),
  ]);
  const info = el(ID.info, [...uint(ID.timestampScale, 1), ...str(ID.muxingApp, 'paragon'), ...str(ID.writingApp, 'paragon')]);
  const track = el(ID.trackEntry, [
    ...uint(ID.trackNumber, 1),
    ...uint(ID.trackUid, 1),
    ...uint(ID.trackType, 1),
    ...uint(ID.flagLacing, 0),
    ...(frameNs !== undefined && frameNs > 0n ? uint(ID.defaultDuration, frameNs) : []),
    // Without it Matroska means "eng", which ffmpeg would copy into the output.
    ...str(ID.language, 'und'),
    ...str(ID.codecId, 'V_UNCOMPRESSED'),
    ...el(ID.video, [...uint(ID.pixelWidth, width), ...uint(ID.pixelHeight, height), ...el(ID.colourSpace, FOURCC[format])]),
  ]);
  const unknownSize = [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  return new Uint8Array([...ebml, ...idBytes(ID.segment), ...unknownSize, ...info, ...el(ID.tracks, track)]);
}

/**
 * The bytes that precede one frame's pixels: a Cluster holding the timestamp (ns, ≥ 0) and a
 * SimpleBlock header (track 1, relative time 0, keyframe). Write the frame data right after it.
 */
export function mkvFrameHeader(timestampNs: bigint, dataBytes: number): Uint8Array {
  if (timestampNs < 0n) throw new RangeError(`negative Matroska timestamp ${timestampNs}`);
  const blockHead = [0x81, 0x00, 0x00, 0x80];
  const blockSize = blockHead.length + dataBytes;
  const ts = uint(ID.timestamp, timestampNs);
  const block = [...idBytes(ID.simpleBlock), ...sizeBytes(blockSize), ...blockHead];
  const clusterSize = ts.length + block.length + dataBytes;
  return new Uint8Array([...idBytes(ID.cluster), ...sizeBytes(clusterSize), ...ts, ...block]);
}
