// A split backed by 8-bit pixels. Images are kept as bytes (a quarter of the memory of floats:
// 20,000 shapes images are 61 MB instead of 245 MB) and converted to float32 in [0, 1] only for
// the examples a batch asks for.
import type { BatchField, ExampleMeta, Split } from "./types.js";

export interface Uint8SplitSource {
  size: number;
  imageShape: [number, number, number];
  /** Returns the buffer of all images, [size, H, W, C] row-major; called once, on the first batch. */
  pixels: () => Uint8Array;
  /**
   * Called with each index before its pixels are read, for sources that fill the buffer lazily
   * (the shapes world renders an image the first time it is asked for).
   */
  prepare?: (index: number) => void;
  /** Labels, one per example. */
  labels: Int32Array;
  meta: (index: number) => ExampleMeta;
}

export function createUint8Split(source: Uint8SplitSource): Split {
  let cached: Uint8Array | undefined;
  const pixels = (): Uint8Array => (cached ??= source.pixels());
  const [h, w, c] = source.imageShape;
  const imageSize = h * w * c;
  return {
    size: source.size,
    imageShape: source.imageShape,
    meta(index) {
      checkIndex(index, source.size);
      return source.meta(index);
    },
    batch(indices) {
      const all = pixels();
      const image = new Float32Array(indices.length * imageSize);
      const label = new Int32Array(indices.length);
      for (let b = 0; b < indices.length; b++) {
        const index = indices[b]!;
        checkIndex(index, source.size);
        source.prepare?.(index);
        const from = index * imageSize;
        const to = b * imageSize;
        for (let k = 0; k < imageSize; k++) image[to + k] = all[from + k]! / 255;
        label[b] = source.labels[index]!;
      }
      const imageField: BatchField = { dtype: "float32", shape: [indices.length, h, w, c], data: image };
      const labelField: BatchField = { dtype: "int32", shape: [indices.length], data: label };
      return { image: imageField, label: labelField };
    },
  };
}

function checkIndex(index: number, size: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= size) {
    throw new RangeError(`example index ${index} is out of range for a split of ${size} examples`);
  }
}
