// The dataset contract: what the trainer and evaluator read. A dataset is a set of named splits;
// a split is an indexable list of examples that can be gathered into a batch of plain typed arrays
// (no tfjs here: the trainer turns batches into tensors on whichever backend runs).

/** One field of a batch: row-major data with the batch axis first. */
export interface BatchField {
  dtype: "float32" | "int32";
  shape: number[];
  data: Float32Array | Int32Array;
}

/** A question–answer pair about an image (shapes world). */
export interface QAPair {
  /** "colour" | "shape" | "size" | "position" */
  type: string;
  question: string;
  answer: string;
}

/** Everything known about one example; image pixels are fetched through the split. */
export interface ExampleMeta {
  label: number;
  caption?: string;
  qa?: QAPair[];
  /** Free-form attributes (shapes world: shape, colour, size, position). */
  attrs?: Record<string, string>;
  /** Where the example came from (file path for folder datasets), for error messages. */
  source?: string;
}

export interface Split {
  readonly size: number;
  /** Image shape [H, W, C] shared by every example. */
  readonly imageShape: [number, number, number];
  meta(index: number): ExampleMeta;
  /**
   * Gathers examples into a batch. Always provides `image` (float32 [n, H, W, C], values in [0, 1]
   * then normalised as the dataset documents) and `label` (int32 [n]).
   */
  batch(indices: readonly number[]): { image: BatchField; label: BatchField };
}

export interface Dataset {
  /** "mnist" | "shapes" | a folder path */
  name: string;
  /** Class names, index = label. */
  classes: string[];
  /** At least "train" and "test"; the shapes world adds "heldout". */
  splits: Record<string, Split>;
}

/** A user-facing data error (corrupt file, label out of range...). The CLI prints it without a stack. */
export class DataError extends Error {
  constructor(message: string, readonly file?: string) {
    super(file ? `${file}: ${message}` : message);
    this.name = "DataError";
  }
}
