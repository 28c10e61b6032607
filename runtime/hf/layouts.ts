// The layout transforms between a Hugging Face (PyTorch) tensor and the compiled spec's parameter.
// Each has a shape rule — what the HF shape becomes, used by the header-only check before any data
// is read — and the conversion of the data itself. Data is float32, flat, row-major.

export type Layout = "identity" | "transpose" | "conv_oihw_to_patch_dense" | "reshape" | "slice_rows";

export interface LayoutRule {
  /** One line for users and error messages. */
  describe: string;
  /**
   * The parameter shape this layout makes from an HF tensor of shape `source`, given the shape
   * the spec wants (`target`); a string says why `source` cannot be converted.
   */
  shape(source: readonly number[], target: readonly number[]): number[] | string;
  /** Converts the data; called only after `shape` returned `target`. */
  convert(data: Float32Array, source: readonly number[], target: readonly number[]): Float32Array;
}

export const LAYOUTS: Readonly<Record<Layout, LayoutRule>> = {
  identity: {
    describe: "as stored",
    shape: (source) => [...source],
    convert: (data) => data,
  },
  // PyTorch Linear weights are [out, in] (y = x Wᵀ + b); dense kernels are [in, out].
  transpose: {
    describe: "Linear [out, in] → dense kernel [in, out]",
    shape: (source) => (source.length === 2 ? [source[1]!, source[0]!] : `expected a 2-D [out, in] weight, found rank ${source.length}`),
    convert: (data, source) => transpose2d(data, source[0]!, source[1]!),
  },
  // The patch conv [D, C, P, P] (OIHW, stride = kernel = P) as dense over patchify: row
  // (r·P + s)·C + c of the kernel is input feature (row r, col s, channel c) of a patch, the order
  // patchify emits (compiler/ir.ts), i.e. the HWIO kernel [P, P, C, D] reshaped to [P·P·C, D].
  conv_oihw_to_patch_dense: {
    describe: "patch conv [D, C, P, P] → dense kernel [P·P·C, D]",
    shape: (source) => {
      if (source.length !== 4) return `expected a 4-D [out, in, kh, kw] conv weight, found rank ${source.length}`;
      const [d, c, p, q] = source as [number, number, number, number];
      if (p !== q) return `expected a square patch kernel, found ${p}×${q}`;
      return [p * q * c, d];
    },
    convert: (data, source) => {
      const [d, c, p, q] = source as [number, number, number, number];
      const out = new Float32Array(data.length);
      for (let o = 0; o < d; o++) {
        for (let ch = 0; ch < c; ch++) {
          for (let r = 0; r < p; r++) {
            for (let s = 0; s < q; s++) out[((r * q + s) * c + ch) * d + o] = data[((o * c + ch) * p + r) * q + s]!;
          }
        }
      }
      return out;
    },
  },
  // Leading unit axes dropped: ViT's CLS token [1, 1, D] → [D], its positions [1, N, D] → [N, D].
  reshape: {
    describe: "leading unit axes dropped",
    shape: (source) => {
      let start = 0;
      while (start < source.length - 1 && source[start] === 1) start++;
      return source.slice(start);
    },
    convert: (data) => data,
  },
  // CLIP's text position table [max_positions, D] when the spec's sequence is shorter: its first rows.
  slice_rows: {
    describe: "the first rows of a table",
    shape: (source, target) => {
      if (source.length !== 2) return `expected a 2-D table, found rank ${source.length}`;
      const rows = target.length === 2 && target[0]! <= source[0]! ? target[0]! : source[0]!;
      return [rows, source[1]!];
    },
    convert: (data, source, target) => data.slice(0, target[0]! * source[1]!),
  },
};

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j]!;
  }
  return out;
}
