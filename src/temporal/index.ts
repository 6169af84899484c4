/**
 * The temporal orchestrator: frames in, upscaled frames out, with the video-mode feature state
 * carried between them (scene cuts and size changes reset it exactly), padding, tiling and
 * fp32 reruns. `openUpscaler` is the one call most code needs.
 */
export { openUpscaler } from './open.ts';
export type { OpenOptions } from './open.ts';
export { TemporalUpscaler } from './upscaler.ts';
export type { PlanarFrame, UpscalerOptions, UpscalerSnapshot, UpscalerStats } from './upscaler.ts';
export { rolesOf } from './roles.ts';
export type { DriveMode, Roles } from './roles.ts';
export { planTiles, halveTile, TILE_OVERLAP, MIN_TILE } from './tiles.ts';
export type { Tile } from './tiles.ts';
export { reflectPad, crop, blit, planarFromPacked, packedFromPlanar, roundUp } from './planes.ts';
export type { Rect } from './planes.ts';
export { SceneCutDetector } from './scene-cut.ts';
