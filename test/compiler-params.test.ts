// Parameter counts of the bundled models against the closed-form count of each family, written
// out by hand here, so a change in the compiler or the specs that moves a count is caught.
import { describe, expect, it } from "vitest";
import { compileFile, compileSource } from "../compiler/index.js";

const params = (spec: string, opts: { model?: string; set?: string[] } = {}) => {
  const result = compileFile(spec, opts);
  expect(result.diagnostics).toEqual([]);
  return result.program!.totals.params;
};

const dense = (i: number, o: number, bias = true) => i * o + (bias ? o : 0);
const conv = (k: number, cin: number, cout: number) => k * k * cin * cout + cout;
const layerNorm = (d: number) => 2 * d;
// Self-attention with biases: q, k, v, o kernels d×d and four biases.
const attention = (d: number) => 4 * d * d + 4 * d;
const mlp = (d: number, hidden: number) => dense(d, hidden) + dense(hidden, d);
const transformerBlock = (d: number, ratio: number) => 2 * layerNorm(d) + attention(d) + mlp(d, d * ratio);

/** ConvTower: three 3×3 convolutions, channels → width → 2·width → dim. */
const convTower = (channels: number, width: number, dim: number) => conv(3, channels, width) + conv(3, width, 2 * width) + conv(3, 2 * width, dim);
/** TextTransformer: token table, position table, blocks, final norm. */
const textTransformer = (vocab: number, seq: number, d: number, depth: number, ratio: number) =>
  vocab * d + seq * d + depth * transformerBlock(d, ratio) + layerNorm(d);
/** ViT: patch embedding, class token, positions over patches + 1, blocks, final norm. */
const vit = (image: number, channels: number, patch: number, d: number, depth: number, ratio: number) => {
  const tokens = (image / patch) ** 2 + 1;
  return dense(patch * patch * channels, d) + d + tokens * d + depth * transformerBlock(d, ratio) + layerNorm(d);
};

describe("parameter counts match the closed forms", () => {
  it("LeNet-5: 61,706 for 10 classes on 28×28×1", () => {
    const lenet = (classes: number) => conv(5, 1, 6) + conv(5, 6, 16) + dense(400, 120) + dense(120, 84) + dense(84, classes);
    expect(lenet(10)).toBe(61_706);
    expect(params("specs/convnet.vlm")).toBe(lenet(10));
    expect(params("specs/convnet.vlm", { set: ["classes=5"] })).toBe(lenet(5));
  });

  it("ViT classifier (32×32×3, patch image_size / 4, dim 64, depth 4, mlp ratio 2)", () => {
    // The spec derives the patch from the image: a 4×4 grid of patches on any input size.
    const model = (image: number, channels: number, classes: number) =>
      vit(image, channels, Math.floor(image / 4), 64, 4, 2) + dense(64, classes);
    expect(params("specs/vit.vlm")).toBe(model(32, 3, 10));
    // Data-bound parameters flow into the encoder: MNIST-sized.
    expect(params("specs/vit.vlm", { set: ["image_size=28", "channels=1", "classes=10"] })).toBe(model(28, 1, 10));
    expect(params("specs/vit.vlm", { set: ["vision.depth=2"] })).toBe(model(32, 3, 10) - 2 * transformerBlock(64, 2));
  });

  it("CLIP (conv tower + text transformer + linear heads + logit scale)", () => {
    const clip = convTower(3, 32, 64) + textTransformer(64, 12, 64, 2, 2) + 2 * dense(64, 64, false) + 1;
    expect(params("specs/clip.vlm")).toBe(clip);
    const mlpHeads = convTower(3, 32, 64) + textTransformer(64, 12, 64, 2, 2) + 2 * (dense(64, 128) + dense(128, 64)) + 1;
    expect(params("specs/clip.vlm", { model: "ClipMlp" })).toBe(mlpHeads);
  });

  it("KOSMOS-style (conv tower + MLP projector, Resampler or Q-Former + causal decoder; or gated cross-attention)", () => {
    const width = 128;
    const decoder = (imageTokens: number) =>
      64 * width + (imageTokens + 12) * width + 2 * transformerBlock(width, 4) + layerNorm(width) + dense(width, 64);
    const kosmos = convTower(3, 32, 64) + dense(64, width) + dense(width, width) + decoder(16);
    expect(params("specs/kosmos.vlm")).toBe(kosmos);
    // Resampler: learned queries, two norms over the queries and one over the image tokens,
    // cross-attention (k/v kernels read the 64-wide image tokens), an MLP of ratio 2.
    const crossAttention = 2 * width * width + 2 * 64 * width + 4 * width;
    const resampler = 16 * width + 2 * layerNorm(width) + layerNorm(64) + crossAttention + mlp(width, 2 * width);
    expect(params("specs/kosmos.vlm", { model: "KosmosResampler" })).toBe(convTower(3, 32, 64) + resampler + decoder(16));
    // Q-Former: learned queries, a norm over the image tokens, two layers of (three norms,
    // self-attention among the queries, cross-attention to the image, MLP of ratio 2), a final norm.
    const qformerLayer = 3 * layerNorm(width) + attention(width) + crossAttention + mlp(width, 2 * width);
    const qformer = 16 * width + layerNorm(64) + 2 * qformerLayer + layerNorm(width);
    expect(params("specs/kosmos.vlm", { model: "KosmosQFormer" })).toBe(convTower(3, 32, 64) + qformer + decoder(16));
    // Gated decoder (Flamingo): the text alone is positioned (12 positions); each layer is a gated
    // cross-attention block (two norms, cross-attention to the 128-wide projected image, two gate
    // scalars, an MLP of ratio 4) and then a causal transformer block.
    const gatedCrossAttention = 2 * layerNorm(width) + attention(width) + 2 + mlp(width, 4 * width);
    const gatedDecoder = 64 * width + 12 * width + 2 * (gatedCrossAttention + transformerBlock(width, 4)) + layerNorm(width) + dense(width, 64);
    const projector = dense(64, width) + dense(width, width);
    expect(params("specs/kosmos.vlm", { model: "KosmosGated" })).toBe(convTower(3, 32, 64) + projector + gatedDecoder);
  });
});

describe("parameter counts of the later lineage (issue 8)", () => {
  const width = 128;
  // The decoder of DecoderFusion over imageTokens + 12 text positions (vocab 64).
  const decoder = (imageTokens: number) =>
    64 * width + (imageTokens + 12) * width + 2 * transformerBlock(width, 4) + layerNorm(width) + dense(width, 64);
  const mlpProjector = dense(64, width) + dense(width, width);

  it("Qwen-VL (ViT + one cross-attention adapter with 8 queries + decoder)", () => {
    // kv_proj to the width, the queries, norms on queries, keys/values and output, cross-attention.
    const adapter = dense(64, width) + 8 * width + 3 * layerNorm(width) + attention(width);
    expect(params("specs/qwen-vl.vlm")).toBe(vit(32, 3, 8, 64, 4, 2) + adapter + decoder(8));
  });

  it("Idefics2 (conv tower + MLP projection + 2-layer perceiver resampler to 8 latents + decoder)", () => {
    const perceiverLayer = 3 * layerNorm(width) + attention(width) + mlp(width, 2 * width);
    const resampler = 8 * width + 2 * perceiverLayer + layerNorm(width);
    expect(params("specs/idefics2.vlm")).toBe(convTower(3, 32, 64) + mlpProjector + resampler + decoder(8));
  });

  it("InternVL (conv tower on 16×16 tiles + pixel shuffle projector + decoder over 5 tiles × 1 token)", () => {
    const projector = layerNorm(4 * 64) + dense(4 * 64, width) + dense(width, width);
    expect(params("specs/internvl.vlm")).toBe(convTower(3, 32, 64) + projector + decoder(5));
  });

  it("XComposer2 (Partial LoRA decoder): total, trainable and frozen", () => {
    const rank = 8;
    const ploraLinear = (i: number, o: number) => dense(i, o) + i * rank + rank * o;
    const ploraBlock = 2 * layerNorm(width) + 4 * ploraLinear(width, width) + ploraLinear(width, 4 * width) + ploraLinear(4 * width, width);
    const decoderPlora = 64 * width + 28 * width + 2 * ploraBlock + layerNorm(width) + dense(width, 64);
    const frozen = 2 * (4 * dense(width, width) + dense(width, 4 * width) + dense(4 * width, width));
    const result = compileFile("specs/xcomposer2.vlm");
    expect(result.diagnostics).toEqual([]);
    const totals = result.program!.totals;
    expect(totals.params).toBe(convTower(3, 32, 64) + mlpProjector + decoderPlora);
    expect(totals.params - totals.trainableParams).toBe(frozen);
  });
});

describe("train { initializer = \"pytorch\" }", () => {
  /** ClipMlp (MLP heads: biased dense layers) with the given initializer. */
  const inits = (scheme: string) => {
    const text = `import "clip.vlm"\nmodel Tested extends ClipMlp() {\n  train { initializer = "${scheme}" }\n}\n`;
    const result = compileSource(text, "specs/initializer-test.vlm");
    expect(result.diagnostics).toEqual([]);
    return new Map(result.program!.params.map((p) => [p.name, p.init]));
  };

  it("gives kernels and their biases PyTorch's U(±1/√fanIn) and leaves every other parameter as it was", () => {
    const glorot = inits("glorot");
    const pytorch = inits("pytorch");
    // Conv kernel and bias: fanIn = 3·3·3.
    expect(pytorch.get("vision.conv1.kernel")).toEqual({ kind: "uniform", bound: 1 / Math.sqrt(27) });
    expect(pytorch.get("vision.conv1.bias")).toEqual({ kind: "uniform", bound: 1 / Math.sqrt(27) });
    // Attention: q_kernel / q_bias pair up by name; dense layers of an MLP head: fc1.kernel / fc1.bias.
    expect(pytorch.get("text.layers.0.block.attn.q_bias")).toEqual({ kind: "uniform", bound: 1 / 8 });
    expect(pytorch.get("image_head.fc2.bias")).toEqual({ kind: "uniform", bound: 1 / Math.sqrt(128) });
    // Embedding tables: nn.Embedding's N(0, 1); position tables keep N(0, 0.02).
    expect(pytorch.get("text.token_embed.table")).toEqual({ kind: "normal", std: 1 });
    expect(pytorch.get("text.pos.table")).toEqual({ kind: "normal", std: 0.02 });
    // A bias-free projection has no bias to change; norms, other tables and scalars are untouched.
    for (const [name, init] of glorot) {
      if (init.kind === "glorot_uniform" || /(\.|_)bias$/.test(name) || name === "text.token_embed.table") continue;
      expect(pytorch.get(name), name).toEqual(init);
    }
    expect([...glorot.keys()]).toEqual([...pytorch.keys()]);
  });
});
