// The models `npm run bench` measures: each bundled spec, the key it has in bench/results.json,
// the layer sizes its twins are built with, and (for LeNet-5 and the ViT) its hand-written
// plain-tfjs twin. bench/torch/models.py has the PyTorch twins under the same keys.
//
// The sizes are read from the compiled IR (the evaluated arguments of each module), so when a spec
// changes a size the twins follow; a structural change they do not follow shows up as a parameter
// count that differs from the IR's, and the harness then refuses to print a ratio.
import type { AttrValue, IRProgram } from "../compiler/ir.js";
import type { HandwrittenModel } from "./handwritten/common.js";
import { lenet5 } from "./handwritten/lenet5.js";
import { vit } from "./handwritten/vit.js";

export type ModelKey = "lenet5" | "vit" | "clip" | "kosmos";
export const MODEL_KEYS: readonly ModelKey[] = ["lenet5", "vit", "clip", "kosmos"];

/** Layer sizes by name, as the twins' constructors take them (keyword arguments in Python). */
export type Sizes = Record<string, number>;

export interface BenchModel {
  key: ModelKey;
  /** Relative to the repository root. */
  spec: string;
  model: string;
  sizes: (program: IRProgram) => Sizes;
  handwritten?: (sizes: Sizes, seed: number) => HandwrittenModel;
  /**
   * The pure-JS cpu backend is 12–400× slower than wasm (../shared/notes/tfjs-backends.md): only
   * LeNet-5 is cheap enough to measure there by default; --cpu measures every model.
   */
  cpuByDefault: boolean;
}

/** The numeric arguments of the module at `path` ("" is the model), picked and optionally renamed. */
function args(program: IRProgram, path: string, names: Record<string, string> | string[]): Sizes {
  const info = program.modules.find((m) => m.path === path);
  if (!info) throw new Error(`bench: ${program.model} has no module '${path}' (the spec changed: update bench/models.ts)`);
  const pairs = Array.isArray(names) ? names.map((n) => [n, n] as const) : Object.entries(names);
  const out: Sizes = {};
  for (const [arg, as] of pairs) {
    const value: AttrValue | undefined = info.args[arg];
    if (typeof value !== "number") throw new Error(`bench: ${program.model}.${path || "(model)"} has no numeric argument '${arg}'`);
    out[as] = value;
  }
  return out;
}

export const BENCH_MODELS: Record<ModelKey, BenchModel> = {
  lenet5: {
    key: "lenet5",
    spec: "specs/convnet.vlm",
    model: "LeNet5",
    sizes: (p) => args(p, "", ["image_size", "channels", "classes"]),
    handwritten: lenet5,
    cpuByDefault: true,
  },
  vit: {
    key: "vit",
    spec: "specs/vit.vlm",
    model: "ViTClassifier",
    sizes: (p) => ({
      ...args(p, "", ["classes"]),
      ...args(p, "vision", ["image_size", "channels", "patch", "dim", "depth", "heads", "mlp_ratio", "eps"]),
    }),
    handwritten: vit,
    cpuByDefault: false,
  },
  clip: {
    key: "clip",
    spec: "specs/clip.vlm",
    model: "Clip",
    sizes: (p) => ({
      ...args(p, "", ["image_size", "channels", "vocab", "seq_len", "embed"]),
      ...args(p, "vision", { width: "vision_width", dim: "vision_dim" }),
      ...args(p, "text", { dim: "text_dim", depth: "text_depth", heads: "text_heads", mlp_ratio: "text_mlp_ratio", eot: "eot" }),
      ...args(p, "connector", ["init_scale"]),
    }),
    cpuByDefault: false,
  },
  kosmos: {
    key: "kosmos",
    spec: "specs/kosmos.vlm",
    model: "Kosmos",
    sizes: (p) => ({
      ...args(p, "", ["image_size", "channels", "vocab", "seq_len", "width"]),
      ...args(p, "vision", { width: "vision_width", dim: "vision_dim" }),
      ...args(p, "projector", { hidden: "projector_hidden" }),
      ...args(p, "decoder", ["depth", "heads", "mlp_ratio"]),
    }),
    cpuByDefault: false,
  },
};
