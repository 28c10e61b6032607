// The text of the `model.vlm` that `vlmc import hf` writes: a short spec that imports the bundled
// family spec (specs/hf/, reached as "hf/…" from anywhere) and instantiates it with the config's
// values, so the imported model compiles, trains and runs like any other spec.
import type { ClipConfig, HfModelConfig, Kosmos2Config, VitConfig } from "./config.js";

export interface SpecChoices {
  /** ViTModel checkpoints saved without the pooler (add_pooling_layer = False). */
  vitPooler: boolean;
  /** CLIP, KOSMOS-2: the text sequence length the spec is compiled for (≤ max_position_embeddings). */
  textLength: number;
}

/** The family spec and model each architecture instantiates. */
export function baseModelOf(config: HfModelConfig, choices: SpecChoices): { file: string; model: string } {
  if (config.family === "clip") return { file: "hf/clip.vlm", model: "CLIPModel" };
  if (config.family === "kosmos2") return { file: "hf/kosmos2.vlm", model: "Kosmos2ForConditionalGeneration" };
  if (config.architecture === "ViTForImageClassification") return { file: "hf/vit.vlm", model: "ViTForImageClassification" };
  return { file: "hf/vit.vlm", model: choices.vitPooler ? "ViTModel" : "ViTModelNoPooler" };
}

/** The spec text; `source` (the HF folder, as the user named it) goes in a comment only. */
export function importedSpecText(config: HfModelConfig, choices: SpecChoices, source: string, modelName: string): string {
  const base = baseModelOf(config, choices);
  const args =
    config.family === "clip" ? clipArgs(config, choices) : config.family === "kosmos2" ? kosmos2Args(config, choices) : vitArgs(config, choices);
  const lines = args.map(([name, value, note], i) => `    ${name} = ${value}${i < args.length - 1 ? "," : ""}${note ? `  # ${note}` : ""}`);
  return [
    `# Imported by \`vlmc import hf\` from ${oneLine(source)} (${config.architecture}).`,
    `# The weights, in this model's parameter names, are in weights.safetensors beside this file:`,
    `#   vlmc run model.vlm --weights weights.safetensors --inputs in.json -o out.json`,
    `import "${base.file}"`,
    ``,
    `model ${modelName} extends ${base.model}(`,
    ...lines,
    `)`,
    ``,
  ].join("\n");
}

/** A model argument: name, value as spec text, and an optional comment for the reader. */
type Arg = [string, string, string?];

function vitArgs(c: VitConfig, choices: SpecChoices): Arg[] {
  const args: Arg[] = [
    ["image_size", int(c.imageSize)],
    ["channels", int(c.channels)],
    ...(c.architecture === "ViTForImageClassification" ? [["classes", int(c.classes)] as Arg] : []),
    ["patch", int(c.patch)],
    ["dim", int(c.dim)],
    ["depth", int(c.depth)],
    ["heads", int(c.heads)],
    ["hidden", int(c.hidden)],
    ["eps", float(c.eps)],
    ["act", str(c.act)],
    ["qkv_bias", String(c.qkvBias)],
  ];
  if (c.architecture === "ViTModel" && choices.vitPooler) {
    args.push(["pooler_dim", int(c.poolerDim)], ["pooler_act", str(c.poolerAct)]);
  }
  return args;
}

/** The CLIP-style vision tower's arguments, shared by CLIP and Kosmos-2 (same config keys). */
function visionTowerArgs(v: ClipConfig["vision"]): Arg[] {
  return [
    ["image_size", int(v.imageSize)],
    ["channels", int(v.channels)],
    ["patch", int(v.patch)],
    ["vision_dim", int(v.dim)],
    ["vision_depth", int(v.depth)],
    ["vision_heads", int(v.heads)],
    ["vision_hidden", int(v.hidden)],
    ["vision_eps", float(v.eps)],
    ["vision_act", str(v.act)],
  ];
}

function clipArgs(c: ClipConfig, choices: SpecChoices): Arg[] {
  return [
    ...visionTowerArgs(c.vision),
    ["vocab", int(c.text.vocab)],
    ["seq", int(choices.textLength)],
    ["text_dim", int(c.text.dim)],
    ["text_depth", int(c.text.depth)],
    ["text_heads", int(c.text.heads)],
    ["text_hidden", int(c.text.hidden)],
    ["text_eps", float(c.text.eps)],
    ["text_act", str(c.text.act)],
    // -1 asks pool_eot for the legacy rule: the position of each row's highest id.
    c.text.legacyEos
      ? ["eot", "-1", "eos_token_id is 2 (a legacy config): pool at the highest id, argmax(input_ids)"]
      : ["eot", int(c.text.eosTokenId), "pool at the first eos_token_id"],
    ["projection_dim", int(c.projectionDim)],
    ["logit_scale_init", float(c.logitScaleInit)],
  ];
}

function kosmos2Args(c: Kosmos2Config, choices: SpecChoices): Arg[] {
  return [
    ...visionTowerArgs(c.vision),
    ["vocab", int(c.text.vocab)],
    ["seq", int(choices.textLength)],
    ["text_dim", int(c.text.dim)],
    ["text_depth", int(c.text.depth)],
    ["text_heads", int(c.text.heads)],
    ["text_ffn", int(c.text.hidden)],
    ["text_eps", float(c.text.eps)],
    ["text_act", str(c.text.act)],
    ["pad", int(c.text.pad), "pad_token_id: positions start at pad + 1"],
    ["embed_scale", float(c.text.embedScale), c.text.embedScale === 1 ? "scale_embedding is false" : "sqrt(embed_dim): scale_embedding is true"],
    ["latent_queries", int(c.latentQueries)],
  ];
}

const int = (n: number): string => String(n);

/** A float literal of the language: always with a point or an exponent, never an int. */
function float(x: number): string {
  const text = String(x);
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

/** Activation names come from a fixed table, but quote and escape them as any string. */
const str = (s: string): string => JSON.stringify(s);

const oneLine = (s: string): string => s.replace(/[\r\n]+/g, " ");
