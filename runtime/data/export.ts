// Writes a dataset split out as files a person can look at: one PNG per example, a JSONL line per
// example (file, label, class name, caption, QA, attributes) and a contact sheet of thumbnails.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import { describeSystemError } from "../io/errors.js";
import { encodePng } from "./images.js";
import type { Dataset, Split } from "./types.js";
import { DataError } from "./types.js";

export interface ExportOptions {
  /** Export at most this many examples (the first ones of the split). */
  limit?: number;
  /** Called after each chunk with the number of examples written so far. */
  onProgress?: (done: number, total: number) => void;
  /** Thumbnails per side of the contact sheet (default 16, so up to 256 images). */
  gridSide?: number;
}

export interface ExportResult {
  count: number;
  jsonlPath: string;
  gridPath: string;
  imageDir: string;
}

const CHUNK = 256;
const DEFAULT_GRID_SIDE = 16;

/**
 * Exports `splitName` of `dataset` into `dir`: `<split>/NNNNN.png`, `<split>.jsonl`, `<split>-grid.png`.
 * The images are written into a hidden temporary folder renamed to `<split>/` at the end (one
 * atomic step for thousands of files, without an fsync each); an earlier export of the same split
 * is replaced, but a `<split>/` folder that is not an export (no `<split>.jsonl` beside it) is
 * never touched.
 */
export function exportSplit(dataset: Dataset, splitName: string, dir: string, opts: ExportOptions = {}): ExportResult {
  const split = dataset.splits[splitName];
  if (!split) {
    throw new DataError(`dataset '${dataset.name}' has no split '${splitName}'; its splits are: ${Object.keys(dataset.splits).join(", ")}`);
  }
  const count = Math.min(split.size, opts.limit ?? split.size);
  const imageDir = join(dir, splitName);
  const jsonlPath = join(dir, `${splitName}.jsonl`);
  const gridPath = join(dir, `${splitName}-grid.png`);
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new DataError("is a file, not a folder: choose an output folder", dir);
  if (existsSync(imageDir) && readdirSync(imageDir).length > 0 && !existsSync(jsonlPath)) {
    throw new DataError(`${imageDir} already exists and is not an earlier export (no ${splitName}.jsonl beside it); choose another output folder`);
  }
  const tempDir = join(dir, `.${splitName}.${process.pid}.tmp`);
  try {
    rmSync(tempDir, { recursive: true, force: true });
    mkdirSync(tempDir, { recursive: true });
    const { lines, thumbnails } = writeImages(dataset, splitName, count, tempDir, opts);
    rmSync(imageDir, { recursive: true, force: true });
    renameSync(tempDir, imageDir);
    writeFileAtomic(jsonlPath, lines.join("\n") + (lines.length ? "\n" : ""));
    const [h, w, c] = split.imageShape;
    const grid = contactSheet(thumbnails, [h, w, c], opts.gridSide ?? DEFAULT_GRID_SIDE);
    writeFileAtomic(gridPath, encodePng(grid.pixels, grid.width, grid.height, c as 1 | 3));
  } catch (err) {
    removeQuietly(tempDir);
    if (err instanceof DataError) throw err;
    throw new DataError(`could not write the export: ${describeSystemError(err)}`, dir);
  }
  return { count, jsonlPath, gridPath, imageDir };
}

/** Writes the first `count` images of the split as PNGs into `folder`; returns the JSONL lines. */
function writeImages(
  dataset: Dataset,
  splitName: string,
  count: number,
  folder: string,
  opts: ExportOptions,
): { lines: string[]; thumbnails: Uint8Array[] } {
  const split = dataset.splits[splitName]!;
  const [h, w, c] = split.imageShape;
  const channels = checkChannels(c);
  const digits = Math.max(5, String(count - 1).length);
  const gridCount = (opts.gridSide ?? DEFAULT_GRID_SIDE) ** 2;
  const lines: string[] = [];
  const thumbnails: Uint8Array[] = [];
  for (let start = 0; start < count; start += CHUNK) {
    const indices = range(start, Math.min(count, start + CHUNK));
    const images = toBytes(split, indices);
    for (let k = 0; k < indices.length; k++) {
      const index = indices[k]!;
      const pixels = images.subarray(k * h * w * c, (k + 1) * h * w * c);
      const name = `${String(index).padStart(digits, "0")}.png`;
      writeFileSync(join(folder, name), encodePng(pixels, w, h, channels));
      const meta = split.meta(index);
      lines.push(
        JSON.stringify({
          file: `${splitName}/${name}`,
          label: meta.label,
          class: dataset.classes[meta.label] ?? null,
          ...(meta.caption !== undefined ? { caption: meta.caption } : {}),
          ...(meta.qa ? { qa: meta.qa } : {}),
          ...(meta.attrs ? { attrs: meta.attrs } : {}),
          ...(meta.source ? { source: meta.source } : {}),
        }),
      );
      if (thumbnails.length < gridCount) thumbnails.push(pixels.slice());
    }
    opts.onProgress?.(start + indices.length, count);
  }
  return { lines, thumbnails };
}

/**
 * Lays images out on a square grid with a 2-pixel mid-grey gutter. Each image is scaled by nearest
 * neighbour to a 64-pixel cell (so 28- and 32-pixel images appear doubled), or down to it.
 */
export function contactSheet(
  images: readonly Uint8Array[],
  [h, w, c]: [number, number, number],
  side: number,
): { pixels: Uint8Array; width: number; height: number } {
  const cell = 64;
  const scale = cell / Math.max(h, w);
  const th = Math.max(1, Math.round(h * scale));
  const tw = Math.max(1, Math.round(w * scale));
  const cols = Math.max(1, Math.min(side, images.length));
  const rows = Math.max(1, Math.ceil(Math.min(images.length, side * side) / cols));
  const gutter = 2;
  const width = cols * (tw + gutter) + gutter;
  const height = rows * (th + gutter) + gutter;
  const pixels = new Uint8Array(width * height * c).fill(128);
  images.slice(0, side * side).forEach((img, n) => {
    const ox = gutter + (n % cols) * (tw + gutter);
    const oy = gutter + Math.floor(n / cols) * (th + gutter);
    for (let y = 0; y < th; y++) {
      const sy = Math.min(h - 1, Math.floor(y / scale));
      for (let x = 0; x < tw; x++) {
        const sx = Math.min(w - 1, Math.floor(x / scale));
        for (let ch = 0; ch < c; ch++) pixels[((oy + y) * width + ox + x) * c + ch] = img[(sy * w + sx) * c + ch]!;
      }
    }
  });
  return { pixels, width, height };
}

/** Gathers examples as 8-bit pixels (batches are float in [0, 1]). */
function toBytes(split: Split, indices: number[]): Uint8Array {
  const data = split.batch(indices).image.data;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, data[i]!)) * 255);
  return out;
}

/** Best-effort clean-up while another error is on its way to the user. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // The original error says what went wrong; a leftover hidden temp folder is harmless.
  }
}

function checkChannels(c: number): 1 | 3 {
  if (c !== 1 && c !== 3) throw new DataError(`cannot export images with ${c} channels as PNG (expected 1 or 3)`);
  return c;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
