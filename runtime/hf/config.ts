// Reading a Hugging Face `config.json` into the handful of numbers and choices that the bundled HF
// family specs (specs/hf/) take as parameters. Keys a config omits take transformers' defaults
// (hub configs saved by older versions omit every key equal to its default). Anything the specs
// cannot reproduce — an unknown architecture or activation, non-square images, widths not divisible
// by the head count — is refused here with a message naming the key and what was expected.
import { readFileSync } from "node:fs";
import { HfImportError } from "./errors.js";

export const SUPPORTED_ARCHITECTURES = ["ViTModel", "ViTForImageClassification", "CLIPModel", "Kosmos2ForConditionalGeneration"] as const;
export type HfArchitecture = (typeof SUPPORTED_ARCHITECTURES)[number];

/** Hugging Face activation names (ACT2FN keys) → the language's activation names. */
export const HF_ACTIVATIONS: Readonly<Record<string, string>> = {
  gelu: "gelu",
  gelu_pytorch_tanh: "gelu_tanh",
  gelu_new: "gelu_tanh",
  gelu_fast: "gelu_tanh",
  quick_gelu: "quick_gelu",
  relu: "relu",
  silu: "silu",
  swish: "silu",
  tanh: "tanh",
  sigmoid: "sigmoid",
};

/** The transformer stack shared by ViT and both CLIP towers. */
export interface HfEncoderConfig {
  dim: number;
  depth: number;
  heads: number;
  /** intermediate_size: the MLP width. */
  hidden: number;
  eps: number;
  /** In the language's names (gelu, gelu_tanh, quick_gelu, ...). */
  act: string;
}

export interface HfImageConfig {
  imageSize: number;
  channels: number;
  patch: number;
}

export interface VitConfig extends HfEncoderConfig, HfImageConfig {
  family: "vit";
  architecture: "ViTModel" | "ViTForImageClassification";
  qkvBias: boolean;
  poolerDim: number;
  poolerAct: string;
  /** ViTForImageClassification: the number of labels. */
  classes: number;
}

export interface ClipTextConfig extends HfEncoderConfig {
  vocab: number;
  maxPositions: number;
  eosTokenId: number;
  /** eos_token_id == 2: the legacy pooling rule, at argmax(input_ids). */
  legacyEos: boolean;
}

export interface ClipConfig {
  family: "clip";
  architecture: "CLIPModel";
  vision: HfEncoderConfig & HfImageConfig;
  text: ClipTextConfig;
  projectionDim: number;
  logitScaleInit: number;
}

export interface Kosmos2TextConfig extends HfEncoderConfig {
  vocab: number;
  maxPositions: number;
  /** pad_token_id: the embedding's padding row and the sinusoidal positions' origin. */
  pad: number;
  /** sqrt(embed_dim) when scale_embedding, else 1. */
  embedScale: number;
}

export interface Kosmos2Config {
  family: "kosmos2";
  architecture: "Kosmos2ForConditionalGeneration";
  vision: HfEncoderConfig & HfImageConfig;
  text: Kosmos2TextConfig;
  latentQueries: number;
  /** tie_word_embeddings: the lm_head is embed_tokens (the checkpoint then has no lm_head tensor). */
  tied: boolean;
}

export type HfModelConfig = VitConfig | ClipConfig | Kosmos2Config;

type Json = Record<string, unknown>;

/** Reads and interprets `file` (a config.json). */
export function readHfConfig(file: string): HfModelConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new HfImportError(`cannot read the model config (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); a Hugging Face model folder holds config.json and model.safetensors`, file);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new HfImportError(`not valid JSON (${(err as Error).message})`, file);
  }
  return parseHfConfig(json, file);
}

/** Interprets a parsed config.json; `file` names it in errors. */
export function parseHfConfig(json: unknown, file: string): HfModelConfig {
  if (!isObject(json)) throw new HfImportError(`expected a JSON object, found ${describe(json)}`, file);
  const architecture = architectureOf(json, file);
  const read = new Reader(json, file);
  if (architecture === "CLIPModel") return parseClip(read);
  if (architecture === "Kosmos2ForConditionalGeneration") return parseKosmos2(read);
  return parseVit(read, architecture);
}

function architectureOf(json: Json, file: string): HfArchitecture {
  const list = json["architectures"];
  const supported = SUPPORTED_ARCHITECTURES.join(", ");
  if (Array.isArray(list) && list.length > 0) {
    if (list.length > 1) throw new HfImportError(`"architectures" lists ${list.length} (${list.join(", ")}); expected one of ${supported}`, file);
    const name = String(list[0]);
    if ((SUPPORTED_ARCHITECTURES as readonly string[]).includes(name)) return name as HfArchitecture;
    throw new HfImportError(`architecture "${name}" is not supported; vlmc imports ${supported}`, file);
  }
  // No "architectures": fall back on the model type (a config written by hand, say).
  const type = json["model_type"];
  if (type === "vit") return "ViTModel";
  if (type === "clip") return "CLIPModel";
  if (type === "kosmos-2") return "Kosmos2ForConditionalGeneration";
  throw new HfImportError(`no "architectures" and model_type ${describe(type)}; expected one of ${supported} (model_type "vit", "clip" or "kosmos-2")`, file);
}

function parseVit(read: Reader, architecture: VitConfig["architecture"]): VitConfig {
  const encoder = readEncoder(read, { dim: 768, depth: 12, heads: 12, hidden: 3072, eps: 1e-12, act: "gelu" });
  const image = readImage(read, { imageSize: 224, channels: 3, patch: 16 });
  const poolerAct = read.activation("pooler_act", "tanh");
  const labels = read.raw("id2label");
  const classes = isObject(labels) ? Object.keys(labels).length : read.int("num_labels", 2);
  return {
    family: "vit",
    architecture,
    ...encoder,
    ...image,
    qkvBias: read.bool("qkv_bias", true),
    poolerDim: read.intOrNull("pooler_output_size") ?? encoder.dim,
    poolerAct,
    classes,
  };
}

function parseClip(read: Reader): ClipConfig {
  const vision = read.child("vision_config");
  const text = read.child("text_config");
  const visionEncoder = readEncoder(vision, { dim: 768, depth: 12, heads: 12, hidden: 3072, eps: 1e-5, act: "quick_gelu" });
  const textEncoder = readEncoder(text, { dim: 512, depth: 12, heads: 8, hidden: 2048, eps: 1e-5, act: "quick_gelu" });
  const eosTokenId = text.int("eos_token_id", 49407);
  return {
    family: "clip",
    architecture: "CLIPModel",
    vision: { ...visionEncoder, ...readImage(vision, { imageSize: 224, channels: 3, patch: 32 }) },
    text: {
      ...textEncoder,
      vocab: text.int("vocab_size", 49408),
      maxPositions: text.int("max_position_embeddings", 77),
      eosTokenId,
      legacyEos: eosTokenId === 2,
    },
    projectionDim: read.int("projection_dim", 512),
    logitScaleInit: read.float("logit_scale_init_value", 2.6592),
  };
}

function parseKosmos2(read: Reader): Kosmos2Config {
  const vision = read.child("vision_config");
  const text = read.child("text_config");
  const visionEncoder = readEncoder(vision, { dim: 1024, depth: 24, heads: 16, hidden: 4096, eps: 1e-5, act: "quick_gelu" });
  // Kosmos2TextConfig's own key names (embed_dim, layers, attention_heads, ffn_dim,
  // activation_function); hidden_size & co. are its aliases.
  const dim = text.intOrNull("embed_dim") ?? text.int("hidden_size", 2048);
  const heads = text.intOrNull("attention_heads") ?? text.int("num_attention_heads", 32);
  if (dim % heads !== 0) text.fail("embed_dim", `${dim} is not divisible by attention_heads = ${heads}`);
  if (text.bool("add_cross_attention", false)) {
    text.fail("add_cross_attention", "true is not supported (Kosmos2ForConditionalGeneration never uses the cross-attention layers it adds)");
  }
  const pad = text.raw("pad_token_id") === null ? text.fail("pad_token_id", "null is not supported: the sinusoidal positions count from the pad id") : text.int("pad_token_id", 1);
  const scale = text.bool("scale_embedding", true);
  const latentQueries = read.int("latent_query_num", 64);
  if (latentQueries === 0) read.fail("latent_query_num", "expected a positive integer, found 0");
  return {
    family: "kosmos2",
    architecture: "Kosmos2ForConditionalGeneration",
    vision: { ...visionEncoder, ...readImage(vision, { imageSize: 224, channels: 3, patch: 14 }) },
    text: {
      dim,
      depth: text.intOrNull("layers") ?? text.int("num_hidden_layers", 24),
      heads,
      hidden: text.int("ffn_dim", 8192),
      eps: text.float("layer_norm_eps", 1e-5),
      act: text.activation("activation_function", "gelu"),
      vocab: text.int("vocab_size", 65037),
      maxPositions: text.int("max_position_embeddings", 2048),
      pad,
      embedScale: scale ? Math.sqrt(dim) : 1,
    },
    latentQueries,
    tied: read.bool("tie_word_embeddings", true),
  };
}

function readEncoder(read: Reader, defaults: HfEncoderConfig): HfEncoderConfig {
  const dim = read.int("hidden_size", defaults.dim);
  const heads = read.int("num_attention_heads", defaults.heads);
  if (dim % heads !== 0) read.fail("hidden_size", `${dim} is not divisible by num_attention_heads = ${heads}`);
  return {
    dim,
    depth: read.int("num_hidden_layers", defaults.depth),
    heads,
    hidden: read.int("intermediate_size", defaults.hidden),
    eps: read.float("layer_norm_eps", defaults.eps),
    act: read.activation("hidden_act", defaults.act),
  };
}

function readImage(read: Reader, defaults: HfImageConfig): HfImageConfig {
  const imageSize = read.squareSize("image_size", defaults.imageSize);
  const patch = read.squareSize("patch_size", defaults.patch);
  if (imageSize % patch !== 0) read.fail("image_size", `${imageSize} is not a multiple of patch_size = ${patch}`);
  return { imageSize, channels: read.int("num_channels", defaults.channels), patch };
}

/** Typed access to one config object (the top level or a sub-config), with defaults. */
class Reader {
  constructor(
    private readonly json: Json,
    private readonly file: string,
    private readonly prefix = "",
  ) {}

  fail(key: string, message: string): never {
    throw new HfImportError(`"${this.prefix}${key}": ${message}`, this.file);
  }

  raw(key: string): unknown {
    return this.json[key];
  }

  child(key: string): Reader {
    const value = this.json[key];
    if (value === undefined || value === null) return new Reader({}, this.file, `${this.prefix}${key}.`);
    if (!isObject(value)) this.fail(key, `expected an object, found ${describe(value)}`);
    return new Reader(value, this.file, `${this.prefix}${key}.`);
  }

  int(key: string, fallback: number): number {
    return this.intOrNull(key) ?? fallback;
  }

  intOrNull(key: string): number | null {
    const value = this.json[key];
    if (value === undefined || value === null) return null;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      this.fail(key, `expected a non-negative integer, found ${describe(value)}`);
    }
    return value;
  }

  float(key: string, fallback: number): number {
    const value = this.json[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "number" || !Number.isFinite(value)) this.fail(key, `expected a number, found ${describe(value)}`);
    return value;
  }

  bool(key: string, fallback: boolean): boolean {
    const value = this.json[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "boolean") this.fail(key, `expected true or false, found ${describe(value)}`);
    return value;
  }

  /** An image or patch size: an integer, or a [height, width] pair of equal integers. */
  squareSize(key: string, fallback: number): number {
    const value = this.json[key];
    if (Array.isArray(value)) {
      if (value.length === 2 && value[0] === value[1] && Number.isSafeInteger(value[0]) && value[0] > 0) return value[0] as number;
      this.fail(key, `expected a positive integer or a square [n, n], found ${JSON.stringify(value)} (non-square images are not supported)`);
    }
    const size = this.int(key, fallback);
    if (size === 0) this.fail(key, "expected a positive integer, found 0");
    return size;
  }

  activation(key: string, fallback: string): string {
    const value = this.json[key] ?? fallback;
    if (typeof value !== "string" || !(value in HF_ACTIVATIONS)) {
      this.fail(key, `activation ${describe(value)} is not supported; expected one of ${Object.keys(HF_ACTIVATIONS).join(", ")}`);
    }
    return HF_ACTIVATIONS[value]!;
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  return JSON.stringify(value);
}
