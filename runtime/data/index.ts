// The data entry point: resolves a dataset name from the command line to a Dataset.
import { existsSync } from "node:fs";
import { loadImageFolder, type ImageFolderOptions } from "./folder.js";
import { loadMnist } from "./mnist.js";
import { loadShapes, type ShapesOptions } from "./shapes.js";
import { DataError, type Dataset } from "./types.js";

export { createRng, type Rng } from "./rng.js";
export { fitImages, planImageFit, formatShape, type FitPlan, type ImageShape } from "./fit.js";
export { loadImageFolder } from "./folder.js";
export { loadMnist } from "./mnist.js";
export * from "./shapes.js";
export { exportSplit, type ExportOptions, type ExportResult } from "./export.js";
export { DataError } from "./types.js";
export type { BatchField, Dataset, ExampleMeta, QAPair, Split } from "./types.js";

export const BUNDLED_DATASETS = ["mnist", "shapes"] as const;

export interface LoadDatasetOptions extends ShapesOptions, ImageFolderOptions {}

/**
 * "mnist", "shapes", or a path to a folder with a labels.jsonl. `seed` and the sizes apply to the
 * generated shapes world only (a different seed is a different world, so evaluate with the seed
 * you trained with); MNIST and folders have fixed splits.
 */
export function loadDataset(name: string, opts: LoadDatasetOptions = {}): Dataset {
  if (name === "mnist") return loadMnist();
  if (name === "shapes") return loadShapes(opts);
  if (looksLikePath(name) || existsSync(name)) {
    if (!existsSync(name)) throw new DataError("no such folder (expected a folder of images with a labels.jsonl)", name);
    return loadImageFolder(name, opts);
  }
  throw new DataError(
    `unknown dataset '${name}': expected one of ${BUNDLED_DATASETS.join(", ")}, or the path of a folder of images with a labels.jsonl`,
  );
}

function looksLikePath(name: string): boolean {
  return name.includes("/") || name.includes("\\") || name.startsWith(".");
}
