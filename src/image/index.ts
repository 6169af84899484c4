/** Image utilities: file I/O, MATLAB-compatible bicubic resize, SR quality metrics. */
export { cropImage, readImage, writePng, toInterleaved } from './io.ts';
export type { RgbImage, DecodedImage } from './io.ts';
export { imresize, imresizeBy, type ResizeOptions } from './resize.ts';
export { lumaY, psnrY, ssim, temporalError } from './metrics.ts';
export type { MetricOptions } from './metrics.ts';
