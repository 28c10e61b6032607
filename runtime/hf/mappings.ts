// The name and layout mapping from Hugging Face checkpoint tensors to the parameters of the bundled
// HF family specs (specs/hf/*.vlm), as data: one table per architecture. A rule's `hf` and `ours`
// are names in which `{i}` stands for a layer index; every HF tensor must match exactly one rule,
// and every parameter of the compiled spec must be the target of exactly one tensor.
import type { HfArchitecture, HfModelConfig } from "./config.js";
import type { Layout } from "./layouts.js";

export interface MappingRule {
  hf: string;
  ours: string;
  layout: Layout;
}

export interface MappingTable {
  rules: readonly MappingRule[];
  /** HF tensors that carry no weights the model uses (buffers some versions saved); skipped. */
  ignored: readonly string[];
  /**
   * Tied weights (tie_word_embeddings): a parameter the checkpoint leaves out because it is another
   * tensor. When no tensor provides `ours`, the tensor `hf` does, through `layout`. Applied only when
   * the config says the weights are tied (mappingTableFor).
   */
  tied?: readonly MappingRule[];
}

/** A PyTorch Linear (weight [out, in] + bias) → a dense op (kernel [in, out] + bias). */
const linear = (hf: string, ours: string, bias = true): MappingRule[] => [
  { hf: `${hf}.weight`, ours: `${ours}.kernel`, layout: "transpose" },
  ...(bias ? [{ hf: `${hf}.bias`, ours: `${ours}.bias`, layout: "identity" as const }] : []),
];

/** A LayerNorm (weight, bias) → layer_norm (gamma, beta). */
const norm = (hf: string, ours: string): MappingRule[] => [
  { hf: `${hf}.weight`, ours: `${ours}.gamma`, layout: "identity" },
  { hf: `${hf}.bias`, ours: `${ours}.beta`, layout: "identity" },
];

/** An HF attention projection (weight + bias) → one role pair of the attention op (q/k/v/o). */
const attentionProjection = (hf: string, ours: string, role: "q" | "k" | "v" | "o"): MappingRule[] => [
  { hf: `${hf}.weight`, ours: `${ours}.${role}_kernel`, layout: "transpose" },
  { hf: `${hf}.bias`, ours: `${ours}.${role}_bias`, layout: "identity" },
];

/** ViT's backbone (ViTModel without pooler); `hf` prefixes the HF names, `ours` the spec's. */
function vitBackbone(hf: string, ours: string): MappingRule[] {
  const layer = `${hf}encoder.layer.{i}`;
  const to = `${ours}layers.{i}.layer`;
  return [
    { hf: `${hf}embeddings.cls_token`, ours: `${ours}cls.token`, layout: "reshape" },
    { hf: `${hf}embeddings.position_embeddings`, ours: `${ours}pos.table`, layout: "reshape" },
    { hf: `${hf}embeddings.patch_embeddings.projection.weight`, ours: `${ours}patch_embed.kernel`, layout: "conv_oihw_to_patch_dense" },
    { hf: `${hf}embeddings.patch_embeddings.projection.bias`, ours: `${ours}patch_embed.bias`, layout: "identity" },
    ...norm(`${layer}.layernorm_before`, `${to}.ln1`),
    ...attentionProjection(`${layer}.attention.attention.query`, `${to}.attn`, "q"),
    ...attentionProjection(`${layer}.attention.attention.key`, `${to}.attn`, "k"),
    ...attentionProjection(`${layer}.attention.attention.value`, `${to}.attn`, "v"),
    ...attentionProjection(`${layer}.attention.output.dense`, `${to}.attn`, "o"),
    ...norm(`${layer}.layernorm_after`, `${to}.ln2`),
    ...linear(`${layer}.intermediate.dense`, `${to}.mlp.fc1`),
    ...linear(`${layer}.output.dense`, `${to}.mlp.fc2`),
    ...norm(`${hf}layernorm`, `${ours}norm`),
  ];
}

/** CLIP's vision tower (also KOSMOS-2's): `hf` prefixes the HF names, `ours` the spec's. */
function clipVision(hf: string, ours: string): MappingRule[] {
  return [
    // a 1-D class embedding, a bias-free patch conv, positions as an Embedding table
    { hf: `${hf}embeddings.class_embedding`, ours: `${ours}cls.token`, layout: "identity" },
    { hf: `${hf}embeddings.patch_embedding.weight`, ours: `${ours}patch_embed.kernel`, layout: "conv_oihw_to_patch_dense" },
    { hf: `${hf}embeddings.position_embedding.weight`, ours: `${ours}pos.table`, layout: "identity" },
    ...norm(`${hf}pre_layrnorm`, `${ours}pre_norm`), // sic: HF spells it "layrnorm"
    ...clipLayers(hf, ours),
    ...norm(`${hf}post_layernorm`, `${ours}post_norm`),
  ];
}

/** One CLIP encoder layer stack (vision or text). */
function clipLayers(hf: string, ours: string): MappingRule[] {
  const layer = `${hf}encoder.layers.{i}`;
  const to = `${ours}layers.{i}.layer`;
  return [
    ...norm(`${layer}.layer_norm1`, `${to}.ln1`),
    ...attentionProjection(`${layer}.self_attn.q_proj`, `${to}.attn`, "q"),
    ...attentionProjection(`${layer}.self_attn.k_proj`, `${to}.attn`, "k"),
    ...attentionProjection(`${layer}.self_attn.v_proj`, `${to}.attn`, "v"),
    ...attentionProjection(`${layer}.self_attn.out_proj`, `${to}.attn`, "o"),
    ...norm(`${layer}.layer_norm2`, `${to}.ln2`),
    ...linear(`${layer}.mlp.fc1`, `${to}.mlp.fc1`),
    ...linear(`${layer}.mlp.fc2`, `${to}.mlp.fc2`),
  ];
}

const VIT_MODEL: MappingTable = {
  rules: [...vitBackbone("", "vit."), ...linear("pooler.dense", "pooler")],
  ignored: ["embeddings.mask_token"],
};

const VIT_FOR_IMAGE_CLASSIFICATION: MappingTable = {
  rules: [...vitBackbone("vit.", "vit."), ...linear("classifier", "classifier")],
  ignored: ["vit.embeddings.mask_token"],
};

const CLIP_MODEL: MappingTable = {
  rules: [
    ...clipVision("vision_model.", "vision."),
    // text tower: the position table may be longer than the spec's sequence
    { hf: "text_model.embeddings.token_embedding.weight", ours: "text.token_embed.table", layout: "identity" },
    { hf: "text_model.embeddings.position_embedding.weight", ours: "text.pos.table", layout: "slice_rows" },
    ...clipLayers("text_model.", "text."),
    ...norm("text_model.final_layer_norm", "text.final_norm"),
    // the shared space
    ...linear("visual_projection", "visual_projection", false),
    ...linear("text_projection", "text_projection", false),
    { hf: "logit_scale", ours: "logit_scale.value", layout: "identity" },
  ],
  ignored: ["vision_model.embeddings.position_ids", "text_model.embeddings.position_ids"],
};

/** One KOSMOS-2 decoder block: the attention projections are dense modules of their own. */
function kosmos2TextLayers(hf: string, ours: string): MappingRule[] {
  const layer = `${hf}layers.{i}`;
  const to = `${ours}layers.{i}.layer`;
  return [
    ...norm(`${layer}.self_attn_layer_norm`, `${to}.self_attn_layer_norm`),
    ...linear(`${layer}.self_attn.q_proj`, `${to}.q_proj`),
    ...linear(`${layer}.self_attn.k_proj`, `${to}.k_proj`),
    ...linear(`${layer}.self_attn.v_proj`, `${to}.v_proj`),
    ...norm(`${layer}.self_attn.inner_attn_ln`, `${to}.inner_attn_ln`),
    ...linear(`${layer}.self_attn.out_proj`, `${to}.out_proj`),
    ...norm(`${layer}.final_layer_norm`, `${to}.final_layer_norm`),
    ...linear(`${layer}.ffn.fc1`, `${to}.fc1`),
    ...norm(`${layer}.ffn.ffn_layernorm`, `${to}.ffn_layernorm`),
    ...linear(`${layer}.ffn.fc2`, `${to}.fc2`),
  ];
}

const KOSMOS2_FOR_CONDITIONAL_GENERATION: MappingTable = {
  rules: [
    ...clipVision("vision_model.model.", "vision."),
    // image → text: dense, the latent queries, and their (unmasked) cross-attention
    ...linear("image_to_text_projection.dense", "image_to_text_projection.dense"),
    { hf: "image_to_text_projection.latent_query", ours: "image_to_text_projection.latent_query.tokens", layout: "identity" },
    ...attentionProjection("image_to_text_projection.x_attn.q_proj", "image_to_text_projection.x_attn", "q"),
    ...attentionProjection("image_to_text_projection.x_attn.k_proj", "image_to_text_projection.x_attn", "k"),
    ...attentionProjection("image_to_text_projection.x_attn.v_proj", "image_to_text_projection.x_attn", "v"),
    ...attentionProjection("image_to_text_projection.x_attn.out_proj", "image_to_text_projection.x_attn", "o"),
    // the decoder; its sinusoidal positions are computed, not stored
    { hf: "text_model.model.embed_tokens.weight", ours: "embed_tokens.table", layout: "identity" },
    ...kosmos2TextLayers("text_model.model.", ""),
    ...norm("text_model.model.layer_norm", "layer_norm"),
    ...linear("text_model.lm_head", "lm_head", false),
  ],
  ignored: ["vision_model.model.embeddings.position_ids", "text_model.model.embed_positions.weights"],
  // tie_word_embeddings: logits = h · embed_tokensᵀ, and the checkpoint has no lm_head.weight.
  tied: [{ hf: "text_model.model.embed_tokens.weight", ours: "lm_head.kernel", layout: "transpose" }],
};

export const MAPPING_TABLES: Readonly<Record<HfArchitecture, MappingTable>> = {
  ViTModel: VIT_MODEL,
  ViTForImageClassification: VIT_FOR_IMAGE_CLASSIFICATION,
  CLIPModel: CLIP_MODEL,
  Kosmos2ForConditionalGeneration: KOSMOS2_FOR_CONDITIONAL_GENERATION,
};

/** The table for one checkpoint: its architecture's, with the tied rules only when the config ties. */
export function mappingTableFor(config: HfModelConfig): MappingTable {
  const table = MAPPING_TABLES[config.architecture];
  const tied = config.family === "kosmos2" && config.tied;
  return tied ? table : { rules: table.rules, ignored: table.ignored };
}

/** A rule compiled to a matcher: the HF name → our name, or null. */
export interface CompiledRule {
  rule: MappingRule;
  match(hfName: string): string | null;
}

export function compileRules(table: MappingTable): CompiledRule[] {
  return table.rules.map((rule) => {
    const parts = rule.hf.split("{i}").map((p) => p.replace(/[.*+?^$()|[\]\\]/g, "\\$&"));
    const pattern = new RegExp(`^${parts.join("(0|[1-9][0-9]*)")}$`);
    return {
      rule,
      match(hfName: string) {
        const m = pattern.exec(hfName);
        if (!m) return null;
        let index = 1;
        return rule.ours.replace(/\{i\}/g, () => m[index++]!);
      },
    };
  });
}
