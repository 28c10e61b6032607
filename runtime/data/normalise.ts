// A dataset whose images go through a per-pixel transform on the way into the model: the rescale and
// per-channel normalisation of an imported model's image processor (preprocess.json), so that
// fine-tuning and evaluation feed the model the pixel statistics it was pretrained on, as `vlmc
// predict` does. Decoded pixels are bytes / 255 (types.ts), so a pixel becomes
// (x · 255 · rescale − mean[c]) / std[c]. Resizing and cropping are not repeated here: a dataset's
// images are fitted to the model's input by the data rules (fit.ts) instead.
import { DataError, type BatchField, type Dataset, type Split } from "./types.js";

export interface PixelTransform {
  /** Multiplies the byte value (0..255): HF's rescale_factor, 1/255 in every hub config. */
  rescale: number;
  /** Per channel, subtracted after rescaling, then divided by std; null: not normalised. */
  mean: readonly number[] | null;
  std: readonly number[] | null;
}

/** Throws DataError when the dataset's images have a channel count the transform has no statistics for. */
export function transformImages(dataset: Dataset, transform: PixelTransform): Dataset {
  for (const [name, split] of Object.entries(dataset.splits)) {
    const channels = split.imageShape[2];
    if (transform.mean && transform.mean.length !== channels) {
      throw new DataError(
        `the model's image preprocessing normalises ${transform.mean.length} channels, but the ${name} split of dataset ${dataset.name} has ${channels}-channel images: convert them to RGB`,
      );
    }
  }
  const splits = Object.fromEntries(Object.entries(dataset.splits).map(([name, split]) => [name, transformSplit(split, transform)]));
  return { ...dataset, splits };
}

function transformSplit(split: Split, transform: PixelTransform): Split {
  return {
    size: split.size,
    imageShape: split.imageShape,
    meta: (index) => split.meta(index),
    batch(indices) {
      const fields = split.batch(indices);
      return { ...fields, image: transformPixels(fields.image, transform) };
    },
  };
}

/** `image` [n, H, W, C] (values bytes / 255) through `transform`, as a new field. */
export function transformPixels(image: BatchField, { rescale, mean, std }: PixelTransform): BatchField {
  const channels = image.shape[image.shape.length - 1]!;
  const scale = 255 * rescale;
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++) {
    const c = i % channels;
    const v = image.data[i]! * scale;
    data[i] = mean && std ? (v - mean[c]!) / std[c]! : v;
  }
  return { ...image, data };
}
