// Reading and writing image files (PNG through pngjs, JPEG through jpeg-js) as 8-bit pixel arrays.
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { DataError } from "./types.js";

export interface DecodedImage {
  width: number;
  height: number;
  /** RGB bytes, [height, width, 3] row-major. */
  rgb: Uint8Array;
  /** True when every pixel has R = G = B, so the image loses nothing as one grey channel. */
  grey: boolean;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return magic.every((b, i) => bytes[i] === b);
}

/**
 * Decodes a PNG or JPEG (recognised by content, not extension) to RGB. Transparency is composited
 * over black (each colour channel multiplied by alpha), which is what a model sees for "nothing".
 * Throws DataError naming `file` when the bytes are not a decodable PNG or JPEG.
 */
export function decodeImage(bytes: Uint8Array, file: string): DecodedImage {
  let width: number;
  let height: number;
  let rgba: Uint8Array;
  if (startsWith(bytes, PNG_MAGIC)) {
    try {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      ({ width, height } = png);
      rgba = png.data;
    } catch (err) {
      throw new DataError(`cannot decode PNG (${errorText(err)}); the file is corrupt or truncated`, file);
    }
  } else if (startsWith(bytes, JPEG_MAGIC)) {
    try {
      // tolerantDecoding off: a truncated JPEG is an error, not a half-grey image.
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, tolerantDecoding: false, maxMemoryUsageInMB: 512 });
      ({ width, height } = img);
      rgba = img.data;
    } catch (err) {
      throw new DataError(`cannot decode JPEG (${errorText(err)}); the file is corrupt or truncated`, file);
    }
  } else {
    const found = bytes.length === 0 ? "an empty file" : `a file starting with bytes ${hex(bytes.subarray(0, 4))}`;
    throw new DataError(`expected a PNG or JPEG image, found ${found}`, file);
  }
  if (!(width > 0 && height > 0) || rgba.length < width * height * 4) {
    throw new DataError(`decoded image has no pixels (${width}×${height})`, file);
  }
  const rgb = new Uint8Array(width * height * 3);
  let grey = true;
  for (let p = 0; p < width * height; p++) {
    const alpha = rgba[p * 4 + 3]!;
    for (let c = 0; c < 3; c++) {
      const v = rgba[p * 4 + c]!;
      rgb[p * 3 + c] = alpha === 255 ? v : Math.round((v * alpha) / 255);
    }
    if (rgb[p * 3] !== rgb[p * 3 + 1] || rgb[p * 3] !== rgb[p * 3 + 2]) grey = false;
  }
  return { width, height, rgb, grey };
}

/** Encodes 8-bit pixels ([height, width, channels], channels 1 or 3) as a PNG file's bytes. */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3): Buffer {
  const png = new PNG({ width, height });
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) png.data[p * 4 + c] = pixels[p * channels + (channels === 1 ? 0 : c)]!;
    png.data[p * 4 + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: channels === 1 ? 0 : 2 });
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}
