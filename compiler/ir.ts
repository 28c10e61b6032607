// The IR: a typed, JSON-serialisable dataflow graph. This file is the contract between the
// front end (grammar/ + compiler/elaborate, which produce it) and the back end (compiler/codegen
// and runtime/, which consume it). docs/ir.md documents the same schema for users.
//
// Invariants every producer guarantees:
// - `nodes` is in topological order; a node's `inputs` name earlier node ids only.
// - Every dimension is a concrete integer except symbolic batch-like dimensions, kept as strings
//   (normally "B"). A model's inputs fix every other dimension.
// - Output is deterministic: the same sources and overrides give byte-identical JSON
//   (object keys in the order written here, arrays in program order).

export const IR_SCHEMA = "vlmc.ir/1";

/** A dimension: an integer, or a symbolic name such as "B" (batch). */
export type Dim = number | string;
export type Shape = Dim[];
export type DType = "float32" | "int32";

/** A source location. Lines and columns are 1-based; `end*` is inclusive of the last character. */
export interface Span {
  file: string;
  line: number;
  col: number;
  endLine: number;
  endCol: number;
}

/** How a parameter is initialised. `fan_in`/`fan_out` are computed by the producer. */
export type Init =
  | { kind: "zeros" }
  | { kind: "ones" }
  | { kind: "constant"; value: number }
  | { kind: "normal"; std: number }
  | { kind: "truncated_normal"; std: number }
  | { kind: "glorot_uniform"; fanIn: number; fanOut: number }
  | { kind: "uniform"; bound: number }
  | { kind: "he_normal"; fanIn: number };

export interface IRParam {
  /** Hierarchical, dot-separated: "vision.layers.3.attn.q.kernel". Unique. Also the checkpoint tensor name. */
  name: string;
  shape: number[];
  init: Init;
  /** false for `frozen` parameters: the trainer never updates them. */
  trainable: boolean;
}

/** Attribute values are plain JSON. */
export type AttrValue = number | string | boolean | number[];

export interface IRNode {
  /** Unique, equal to the node's index in `nodes` ("n0", "n1", ...). */
  id: string;
  /** One of the ops in OP_TABLE below. */
  op: OpName;
  /** Ids of the nodes whose outputs this op consumes, in the op's declared input order. */
  inputs: string[];
  /** Op attributes (see OP_TABLE). Keys sorted as listed in the table. */
  attrs: Record<string, AttrValue>;
  /** Role → parameter name, e.g. { kernel: "c1.kernel", bias: "c1.bias" }. */
  params: Record<string, string>;
  shape: Shape;
  dtype: DType;
  /** The module path that owns this node ("" for the model itself, "vision.layers.0.attn"). */
  module: string;
  span: Span;
}

export type ModuleKind = "model" | "encoder" | "projection" | "connector" | "block" | "op";

/** One entry per instantiated module (block call or parametrised primitive), for inspect/diff. */
export interface IRModuleInfo {
  /** Dot path ("" is the model). Parents precede their children. */
  path: string;
  kind: ModuleKind;
  /** The block's name, or the op name for a primitive ("dense"). */
  block: string;
  /** Evaluated block arguments (scalars as JSON; a block-typed argument as its call text "Mlp(hidden=128)"). */
  args: Record<string, AttrValue>;
  /** Where each argument's value came from: "default" | "call" | "extends" | "set". */
  argSources: Record<string, "default" | "call" | "extends" | "set">;
  /** Output shape of the module's (first) output. */
  shape: Shape;
  /** Parameters owned by this module and all its children. */
  params: number;
  /** Forward FLOPs per example (batch 1), this module and its children; a multiply-add counts 2. */
  flops: number;
  span: Span;
}

export interface IRValueRef {
  name: string;
  /** Node id producing the value. Inputs are `input` nodes. */
  node: string;
  shape: Shape;
  dtype: DType;
}

/** Training defaults declared in the spec's `train { ... }` block; the CLI may override them. */
export interface TrainConfig {
  task?: "classify" | "contrastive" | "lm";
  data?: string;
  epochs?: number;
  steps?: number;
  batch?: number;
  optimizer?: "sgd" | "adam" | "adamw";
  lr?: number;
  momentum?: number;
  weight_decay?: number;
  schedule?: "constant" | "cosine";
  warmup?: number;
  clip?: number;
  [key: string]: number | string | boolean | undefined;
}

export interface IRProgram {
  schema: typeof IR_SCHEMA;
  model: string;
  /** The entry file and a sha256 (hex) over every source file read, in load order, plus the overrides. */
  source: { file: string; hash: string };
  inputs: IRValueRef[];
  /** Named outputs of the model (`out name = expr`); a single unnamed `out` is called "output". */
  outputs: IRValueRef[];
  /** The scalar loss node (`loss expr`), if the model declares one. */
  loss: string | null;
  params: IRParam[];
  nodes: IRNode[];
  modules: IRModuleInfo[];
  train: TrainConfig;
  totals: { params: number; trainableParams: number; flops: number };
}

// ---------------------------------------------------------------------------------------------
// The primitive ops. Each entry: inputs (names, in order; "?" suffix = optional), attributes with
// their types, parameter roles. Shape rules and FLOP formulas are in docs/ir.md; the runtime
// implements each op in runtime/ops (same name, camelCase in TypeScript).
// ---------------------------------------------------------------------------------------------

export type OpName =
  // graph
  | "input" | "const"
  // elementwise (numpy broadcasting)
  | "add" | "sub" | "mul" | "div" | "neg" | "exp"
  // activations
  | "relu" | "gelu" | "gelu_tanh" | "quick_gelu" | "silu" | "tanh" | "sigmoid" | "softmax"
  // layers with parameters
  | "dense" | "conv2d" | "layer_norm" | "attention" | "embedding"
  | "class_token" | "position_embedding" | "learned_tokens" | "scalar"
  // structure
  | "max_pool" | "avg_pool" | "flatten" | "reshape" | "patchify" | "concat" | "slice_tokens"
  | "select_token" | "mean_tokens" | "pool_eot" | "sinusoidal_positions" | "l2_normalize" | "matmul" | "transpose"
  // the lineage (Qwen-VL, Idefics2, XComposer2, InternVL): 2-D positions, token grids, tiles, masks, adapters
  | "sincos_2d_positions" | "pixel_shuffle" | "tile_image" | "merge_tiles" | "token_mask" | "attend" | "partial_lora"
  // Kosmos-2: embeddings substituted into a sequence at masked positions
  | "place_tokens"
  // losses (scalar outputs)
  | "cross_entropy" | "contrastive_loss" | "lm_loss";

export interface OpSignature {
  inputs: string[];
  attrs: Record<string, "int" | "float" | "bool" | "string" | "ints">;
  params: string[];
}

export const OP_TABLE: Record<OpName, OpSignature> = {
  input: { inputs: [], attrs: { name: "string" }, params: [] },
  const: { inputs: [], attrs: { value: "float" }, params: [] },

  add: { inputs: ["a", "b"], attrs: {}, params: [] },
  sub: { inputs: ["a", "b"], attrs: {}, params: [] },
  mul: { inputs: ["a", "b"], attrs: {}, params: [] },
  div: { inputs: ["a", "b"], attrs: {}, params: [] },
  neg: { inputs: ["x"], attrs: {}, params: [] },
  exp: { inputs: ["x"], attrs: {}, params: [] },

  relu: { inputs: ["x"], attrs: {}, params: [] },
  gelu: { inputs: ["x"], attrs: {}, params: [] }, // exact (erf)
  gelu_tanh: { inputs: ["x"], attrs: {}, params: [] },
  quick_gelu: { inputs: ["x"], attrs: {}, params: [] }, // x * sigmoid(1.702 x)
  silu: { inputs: ["x"], attrs: {}, params: [] },
  tanh: { inputs: ["x"], attrs: {}, params: [] },
  sigmoid: { inputs: ["x"], attrs: {}, params: [] },
  softmax: { inputs: ["x"], attrs: {}, params: [] }, // over the last axis

  // y = x @ kernel + bias over the last axis. kernel [in, units], bias [units].
  dense: { inputs: ["x"], attrs: { units: "int", bias: "bool" }, params: ["kernel", "bias"] },
  // NHWC input, HWIO kernel [k, k, in, filters]. padding "valid" | "same".
  conv2d: {
    inputs: ["x"],
    attrs: { filters: "int", kernel: "int", stride: "int", padding: "string", bias: "bool" },
    params: ["kernel", "bias"],
  },
  // Over the last axis, biased variance: (x - mean) / sqrt(var + eps) * gamma + beta.
  layer_norm: { inputs: ["x"], attrs: { eps: "float" }, params: ["gamma", "beta"] },
  // Multi-head attention. Self-attention when `context` is absent; cross-attention otherwise.
  // `mask` is a key mask [B, Nk] (1 = attend, 0 = padding). Scores scaled by (dim/heads)^-0.5.
  // q: [Dq, Dq], k/v: [Dk, Dq], o: [Dq, Dq]; biases [Dq] when `bias` (the output bias always exists).
  attention: {
    inputs: ["x", "context?", "mask?"],
    attrs: { heads: "int", causal: "bool", bias: "bool" },
    params: ["q_kernel", "q_bias", "k_kernel", "k_bias", "v_kernel", "v_bias", "o_kernel", "o_bias"],
  },
  // int ids [...] → [..., dim]; table [vocab, dim].
  embedding: { inputs: ["ids"], attrs: { vocab: "int", dim: "int" }, params: ["table"] },
  // [B, N, D] → [B, N + 1, D] with a learned token (param [D]) prepended.
  class_token: { inputs: ["x"], attrs: {}, params: ["token"] },
  // [B, N, D] + learned table [N, D].
  position_embedding: { inputs: ["x"], attrs: {}, params: ["table"] },
  // A learned [count, dim] set of tokens, tiled over the batch of `like`: → [B, count, dim].
  learned_tokens: { inputs: ["like"], attrs: { count: "int", dim: "int" }, params: ["tokens"] },
  // A learned scalar (e.g. CLIP's logit scale, stored as log): → [].
  scalar: { inputs: [], attrs: { init: "float" }, params: ["value"] },

  max_pool: { inputs: ["x"], attrs: { size: "int", stride: "int", padding: "string" }, params: [] },
  avg_pool: { inputs: ["x"], attrs: { size: "int", stride: "int", padding: "string" }, params: [] },
  // [B, d1, d2, ...] → [B, d1 * d2 * ...].
  flatten: { inputs: ["x"], attrs: {}, params: [] },
  // Keeps axis 0 (batch) and reshapes the rest to `shape` (which excludes the batch axis).
  reshape: { inputs: ["x"], attrs: { shape: "ints" }, params: [] },
  // [B, H, W, C] → [B, (H/p)(W/p), p*p*C]; patches row-major over the grid, features ordered (row, col, channel)
  // inside a patch, so dense(patchify(x, p)) equals a stride-p conv whose HWIO kernel is reshaped to [p*p*C, D].
  patchify: { inputs: ["x"], attrs: { patch: "int" }, params: [] },
  concat: { inputs: ["xs..."], attrs: { axis: "int" }, params: [] },
  // [B, N, D] → [B, end - start, D] (tokens start..end-1).
  slice_tokens: { inputs: ["x"], attrs: { start: "int", end: "int" }, params: [] },
  // [B, N, D] → [B, D] at token `index`.
  select_token: { inputs: ["x"], attrs: { index: "int" }, params: [] },
  // [B, N, D] → [B, D], the mean over tokens.
  mean_tokens: { inputs: ["x"], attrs: {}, params: [] },
  // [B, T, D] with int ids [B, T] → [B, D] at the first position where ids == eot; a negative eot
  // pools at the first position of each row's highest id instead (legacy CLIP: argmax(input_ids)).
  pool_eot: { inputs: ["x", "ids"], attrs: { eot: "int" }, params: [] },
  // x [B, N, D] + fixed sinusoidal positions (sin half, cos half; base 10000): row p of the table
  // is [sin(p·f_0..f_{h-1}), cos(p·f_0..f_{h-1})], f_i = 10000^(-i/(h-1)), h = D/2. Positions
  // 0..N-1; with int `ids` [B, N] (attribute `pad`, present exactly then) they are padding-aware as
  // in fairseq/Kosmos-2: p = pad + (count of non-pad ids up to and including this one), and a pad id
  // gets the zero row.
  sinusoidal_positions: { inputs: ["x", "ids?"], attrs: { pad: "int" }, params: [] },
  l2_normalize: { inputs: ["x"], attrs: { eps: "float" }, params: [] }, // over the last axis
  // Batched matmul over the last two axes; b transposed (last two axes) when transpose_b.
  matmul: { inputs: ["a", "b"], attrs: { transpose_b: "bool" }, params: [] },
  // Swaps the last two axes.
  transpose: { inputs: ["x"], attrs: {}, params: [] },
  // x [B, N, D] + fixed 2-D sin-cos positions of a √N × √N grid (row in the first D/2 features,
  // column in the rest; each half sin quarter, cos quarter; base 10000). N square, D % 4 == 0.
  sincos_2d_positions: { inputs: ["x"], attrs: {}, params: [] },
  // Space-to-depth on a token grid: [B, s·s, D] → [B, (s/f)², f·f·D]; output token (i, j) holds the
  // f × f block of tokens at rows i·f.., cols j·f.., features ordered (row, col, channel) as in patchify.
  pixel_shuffle: { inputs: ["x"], attrs: { factor: "int" }, params: [] },
  // [B, H, W, C] → [B*T, tile, tile, C]: per example, the (H/tile)·(W/tile) tiles row-major, then
  // (when there is more than one) a thumbnail, the whole image area-averaged to tile × tile.
  // T = tiles, checked ≤ max_tiles. The batch dimension becomes the symbol "B*T".
  tile_image: { inputs: ["x"], attrs: { tile: "int", tiles: "int", max_tiles: "int" }, params: [] },
  // [B*T, N, D] → [B, T·N, D]: each example's tiles' tokens side by side, in tile order.
  merge_tiles: { inputs: ["x"], attrs: { tiles: "int" }, params: [] },
  // [B, N, …] → float [B, N]: 1 at tokens start..end-1, 0 elsewhere (e.g. the image positions).
  token_mask: { inputs: ["x"], attrs: { start: "int", end: "int" }, params: [] },
  // Multi-head scaled dot-product attention without projections: q [B, N, D], k and v [B, M, D]
  // (key mask [B, M] optional) → [B, N, D]; the same heads, scaling and masks as `attention`.
  attend: { inputs: ["q", "k", "v", "mask?"], attrs: { heads: "int", causal: "bool" }, params: [] },
  // Partial LoRA (InternLM-XComposer2): scale · mask[…, None] · (x · a) · b, the low-rank update of a
  // projection at the masked positions only. x [B, N, D], mask [B, N] → [B, N, units];
  // a [D, rank] (glorot), b [rank, units] (zeros, so the update starts at 0).
  partial_lora: { inputs: ["x", "mask"], attrs: { units: "int", rank: "int", scale: "float" }, params: ["a", "b"] },

  // x [B, T, D], tokens [B, L, D], int mask [B, T] → [B, T, D]: the k-th position of row b whose mask
  // is 1 takes tokens[b, k] (k < L); every other position keeps x (Kosmos-2's image embeddings).
  place_tokens: { inputs: ["x", "tokens", "mask"], attrs: {}, params: [] },

  // Mean softmax cross-entropy. logits [B, C], labels int [B] → [].
  cross_entropy: { inputs: ["logits", "labels"], attrs: {}, params: [] },
  // Symmetric CLIP loss over logits_per_image [B, B] (targets on the diagonal) → [].
  contrastive_loss: { inputs: ["logits"], attrs: {}, params: [] },
  // Next-token loss: logits [B, T, V], int targets [B, T], float mask [B, T] (1 = counts) → [] (mean over counted).
  lm_loss: { inputs: ["logits", "targets", "mask"], attrs: {}, params: [] },
};
