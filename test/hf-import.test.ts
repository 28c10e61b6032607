// The importer's checks: config parsing (defaults, unsupported architectures and options), the
// header-only check that lists every problem of a checkpoint at once, and the layout transforms.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { parseHfConfig, readHfConfig } from "../runtime/hf/config.js";
import { importHf } from "../runtime/hf/importer.js";
import { LAYOUTS } from "../runtime/hf/layouts.js";
import { compileRules, MAPPING_TABLES } from "../runtime/hf/mappings.js";
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from "../runtime/io/safetensors.js";
import { errorOf, OWN_FIXTURES } from "./hf-helpers.js";

const work = mkdtempSync(join(tmpdir(), "vlmc-hf-import-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("config.json", () => {
  test("an unsupported architecture names the supported ones", () => {
    const err = errorOf(() => parseHfConfig({ architectures: ["Blip2ForConditionalGeneration"] }, "k/config.json"));
    expect(err.message).toBe(
      'k/config.json: architecture "Blip2ForConditionalGeneration" is not supported; vlmc imports ViTModel, ViTForImageClassification, CLIPModel, Kosmos2ForConditionalGeneration',
    );
  });

  test("no architectures and an unknown model_type", () => {
    const err = errorOf(() => parseHfConfig({ model_type: "bert" }, "c.json"));
    expect(err.message).toMatch(/c\.json: no "architectures" and model_type "bert"; expected one of ViTModel/);
  });

  test("unsupported options name the key, the value and what is accepted", () => {
    expect(errorOf(() => parseHfConfig({ architectures: ["ViTModel"], hidden_act: "mish" }, "c.json")).message).toMatch(
      /"hidden_act": activation "mish" is not supported; expected one of gelu, gelu_pytorch_tanh/,
    );
    expect(errorOf(() => parseHfConfig({ architectures: ["ViTModel"], image_size: [32, 48] }, "c.json")).message).toMatch(
      /"image_size": .*\[32,48\] \(non-square images are not supported\)/,
    );
    expect(errorOf(() => parseHfConfig({ architectures: ["ViTModel"], hidden_size: 64, num_attention_heads: 5 }, "c.json")).message).toMatch(
      /"hidden_size": 64 is not divisible by num_attention_heads = 5/,
    );
    expect(errorOf(() => parseHfConfig({ architectures: ["CLIPModel"], text_config: { hidden_act: 3 } }, "c.json")).message).toMatch(
      /"text_config.hidden_act": activation 3 is not supported/,
    );
    expect(errorOf(() => parseHfConfig({ architectures: ["ViTModel"], image_size: 30, patch_size: 4 }, "c.json")).message).toMatch(
      /"image_size": 30 is not a multiple of patch_size = 4/,
    );
  });

  test("keys a config omits take transformers' defaults; eos_token_id 2 selects the legacy rule", () => {
    const clip = parseHfConfig({ architectures: ["CLIPModel"], text_config: { eos_token_id: 2 } }, "c.json");
    expect(clip).toMatchObject({
      vision: { imageSize: 224, patch: 32, dim: 768, depth: 12, heads: 12, hidden: 3072, eps: 1e-5, act: "quick_gelu" },
      text: { vocab: 49408, maxPositions: 77, dim: 512, heads: 8, eosTokenId: 2, legacyEos: true },
      projectionDim: 512,
      logitScaleInit: 2.6592,
    });
    const vit = parseHfConfig({ architectures: ["ViTForImageClassification"], id2label: { 0: "a", 1: "b", 2: "c" } }, "c.json");
    expect(vit).toMatchObject({ imageSize: 224, patch: 16, eps: 1e-12, act: "gelu", qkvBias: true, classes: 3, poolerAct: "tanh" });
  });

  test("KOSMOS-2: transformers' defaults, its own key names, and the options it cannot take", () => {
    const kosmos = parseHfConfig({ model_type: "kosmos-2" }, "c.json");
    expect(kosmos).toMatchObject({
      architecture: "Kosmos2ForConditionalGeneration",
      vision: { imageSize: 224, patch: 14, dim: 1024, depth: 24, heads: 16, hidden: 4096, eps: 1e-5, act: "quick_gelu" },
      text: { vocab: 65037, maxPositions: 2048, dim: 2048, depth: 24, heads: 32, hidden: 8192, eps: 1e-5, act: "gelu", pad: 1, embedScale: Math.sqrt(2048) },
      latentQueries: 64,
      tied: true,
    });
    const small = parseHfConfig({
      architectures: ["Kosmos2ForConditionalGeneration"], latent_query_num: 4, tie_word_embeddings: false,
      text_config: { embed_dim: 32, layers: 2, attention_heads: 4, ffn_dim: 48, activation_function: "gelu_new", scale_embedding: false, pad_token_id: 3 },
    }, "c.json");
    expect(small).toMatchObject({ text: { dim: 32, depth: 2, heads: 4, hidden: 48, act: "gelu_tanh", pad: 3, embedScale: 1 }, latentQueries: 4, tied: false });
    expect(errorOf(() => parseHfConfig({ model_type: "kosmos-2", text_config: { embed_dim: 30, attention_heads: 4 } }, "c.json")).message).toMatch(
      /"text_config.embed_dim": 30 is not divisible by attention_heads = 4/,
    );
    expect(errorOf(() => parseHfConfig({ model_type: "kosmos-2", text_config: { add_cross_attention: true } }, "c.json")).message).toMatch(
      /"text_config.add_cross_attention": true is not supported/,
    );
    expect(errorOf(() => parseHfConfig({ model_type: "kosmos-2", text_config: { pad_token_id: null } }, "c.json")).message).toMatch(
      /"text_config.pad_token_id": null is not supported/,
    );
  });

  test("a missing or broken config.json is a clear error", () => {
    expect(errorOf(() => readHfConfig(join(work, "nope.json"))).message).toMatch(/nope\.json: cannot read the model config \(ENOENT\)/);
    const broken = join(work, "broken.json");
    writeFileSync(broken, "{");
    expect(errorOf(() => readHfConfig(broken)).message).toMatch(/broken\.json: not valid JSON/);
  });
});

describe("the header-only check", () => {
  test("lists every unmatched, missing, wrongly shaped and non-float tensor at once", () => {
    const source = join(OWN_FIXTURES, "vit-cls-quickgelu-grey");
    const dir = join(work, "doctored");
    const out = join(work, "doctored-out");
    const { tensors } = readSafetensors(join(source, "model.safetensors"));
    const doctored = new Map<string, SafetensorsTensor>(tensors);
    // a renamed layer norm weight: its old name is missing, its new name is unmatched
    doctored.set("vit.encoder.layer.0.layernorm_before.scale", doctored.get("vit.encoder.layer.0.layernorm_before.weight")!);
    doctored.delete("vit.encoder.layer.0.layernorm_before.weight");
    // a classifier with the wrong number of labels for the config
    doctored.set("classifier.weight", { dtype: "F32", shape: [7, 32], data: new Float32Array(7 * 32) });
    // a query bias stored as integers
    doctored.set("vit.encoder.layer.0.attention.attention.query.bias", { dtype: "I32", shape: [32], data: new Int32Array(32) });
    // a layer the config does not have
    doctored.set("vit.encoder.layer.3.output.dense.bias", { dtype: "F32", shape: [32], data: new Float32Array(32) });
    // a conv weight of the wrong rank
    doctored.set("vit.embeddings.patch_embeddings.projection.weight", { dtype: "F32", shape: [32, 16], data: new Float32Array(512) });
    writeSafetensors(join(dir, "model.safetensors"), doctored);
    copyFileSync(join(source, "config.json"), join(dir, "config.json"));

    const err = errorOf(() => importHf(dir, out));
    const lines = err.message.split("\n");
    expect(lines[0]).toMatch(/doctored\/model\.safetensors: the checkpoint does not fit the model its config describes \(6 problems\):$/);
    expect(lines.slice(1).sort()).toEqual(
      [
        "  unmatched:   vit.encoder.layer.0.layernorm_before.scale [32]: no mapping rule for this tensor",
        "  unmatched:   vit.encoder.layer.3.output.dense.bias [32]: maps to vit.layers.3.layer.mlp.fc2.bias, which the model does not have",
        "  missing:     vit.layers.0.layer.ln1.gamma [32]: no tensor in the checkpoint provides it",
        "  wrong shape: classifier.weight [7, 32] → classifier.kernel: Linear [out, in] → dense kernel [in, out] gives [32, 7], the model needs [32, 5]",
        "  wrong shape: vit.embeddings.patch_embeddings.projection.weight [32, 16] → vit.patch_embed.kernel: expected a 4-D [out, in, kh, kw] conv weight, found rank 2, the model needs [16, 32]",
        "  wrong dtype: vit.encoder.layer.0.attention.attention.query.bias: I32, expected F32, F16 or BF16",
      ].sort(),
    );
    expect(existsSync(join(out, "model.vlm")), "nothing is written when the check fails").toBe(false);
  });

  test("KOSMOS-2: the latent queries, the inner LayerNorms and the lm_head (tied or not) are checked too", () => {
    const source = join(OWN_FIXTURES, "kosmos2-tied");
    const dir = join(work, "kosmos-doctored");
    const out = join(work, "kosmos-doctored-out");
    const { tensors } = readSafetensors(join(source, "model.safetensors"));
    const doctored = new Map<string, SafetensorsTensor>(tensors);
    doctored.delete("image_to_text_projection.latent_query");
    doctored.set("text_model.model.layers.1.self_attn.inner_ln.weight", doctored.get("text_model.model.layers.1.self_attn.inner_attn_ln.weight")!);
    doctored.delete("text_model.model.layers.1.self_attn.inner_attn_ln.weight");
    doctored.set("text_model.model.layers.0.ffn.ffn_layernorm.bias", { dtype: "F32", shape: [32], data: new Float32Array(32) });
    writeSafetensors(join(dir, "model.safetensors"), doctored);
    const config = JSON.parse(readFileSync(join(source, "config.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(join(dir, "config.json"), JSON.stringify(config));
    const lines = errorOf(() => importHf(dir, out)).message.split("\n");
    expect(lines[0]).toMatch(/the checkpoint does not fit the model its config describes \(4 problems\):$/);
    expect(lines.slice(1).sort()).toEqual(
      [
        "  unmatched:   text_model.model.layers.1.self_attn.inner_ln.weight [32]: no mapping rule for this tensor",
        "  missing:     image_to_text_projection.latent_query.tokens [4, 32]: no tensor in the checkpoint provides it",
        "  missing:     layers.1.layer.inner_attn_ln.gamma [32]: no tensor in the checkpoint provides it",
        "  wrong shape: text_model.model.layers.0.ffn.ffn_layernorm.bias [32] → layers.0.layer.ffn_layernorm.beta: as stored gives [32], the model needs [48]",
      ].sort(),
    );
    // Untied by the config, the checkpoint must hold its own lm_head; the tied one has none.
    const untied = join(work, "kosmos-untied");
    mkdirSync(untied, { recursive: true });
    copyFileSync(join(source, "model.safetensors"), join(untied, "model.safetensors"));
    writeFileSync(join(untied, "config.json"), JSON.stringify({ ...config, tie_word_embeddings: false }));
    expect(errorOf(() => importHf(untied, join(work, "kosmos-untied-out"))).message).toMatch(
      /\(1 problem\):\n  missing:     lm_head\.kernel \[32, 48\]: no tensor in the checkpoint provides it$/,
    );
    expect(existsSync(join(out, "model.vlm"))).toBe(false);
  });

  test("a folder without config.json or model.safetensors says what it needs", () => {
    const dir = join(work, "incomplete");
    const out = join(work, "incomplete-out");
    expect(errorOf(() => importHf(dir, out)).message).toMatch(/incomplete: no config\.json here: a Hugging Face model folder holds config\.json and model\.safetensors/);
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(OWN_FIXTURES, "vit-cls-quickgelu-grey", "config.json"), join(dir, "config.json"));
    writeFileSync(join(dir, "pytorch_model.bin"), "");
    expect(errorOf(() => importHf(dir, out)).message).toMatch(
      /incomplete: no model\.safetensors \(or model\.safetensors\.index\.json\) here \(found PyTorch pickle weights: save the model with safe_serialization=True\)/,
    );
  });
});

describe("sharded checkpoints (model.safetensors.index.json)", () => {
  const FIXTURE = join(OWN_FIXTURES, "clip-tanh-first-eos");
  const whole = readSafetensors(join(FIXTURE, "model.safetensors")).tensors;
  const names = [...whole.keys()];

  /** The fixture split into `shards` files (round robin) with save_pretrained's index; `edit` may change the weight map. */
  function shardedFolder(name: string, shards: number, edit?: (map: Record<string, string>) => void): string {
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(FIXTURE, "config.json"), join(dir, "config.json"));
    const map: Record<string, string> = {};
    for (let k = 0; k < shards; k++) {
      const file = `model-${String(k + 1).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.safetensors`;
      const part = new Map(names.filter((_, i) => i % shards === k).map((n) => [n, whole.get(n)!] as const));
      writeSafetensors(join(dir, file), part);
      for (const n of part.keys()) map[n] = file;
    }
    edit?.(map);
    writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: { total_size: 0 }, weight_map: map }));
    return dir;
  }

  test("import the same weights as the single-file checkpoint", () => {
    const single = importHf(FIXTURE, join(work, "single-out"));
    const sharded = importHf(shardedFolder("sharded", 3), join(work, "sharded-out"));
    expect(sharded.values).toBe(single.values);
    expect(readFileSync(sharded.weightsFile)).toEqual(readFileSync(single.weightsFile));
    expect(readFileSync(sharded.specFile, "utf8").replace(/sharded/g, "X")).toBe(readFileSync(single.specFile, "utf8").replace(/clip-tanh-first-eos/g, "X"));
  });

  test("an index that does not match its shards lists every problem, and nothing is written", () => {
    const dir = shardedFolder("bad-shards", 2, (map) => {
      map[names[0]!] = "model-00002-of-00002.safetensors"; // that shard does not hold it
      map[names[1]!] = "model-00003-of-00002.safetensors"; // no such file
    });
    const out = join(work, "bad-shards-out");
    expect(errorOf(() => importHf(dir, out)).message).toBe(
      `${join(dir, "model.safetensors.index.json")}: the sharded checkpoint does not match its index (2 problems):\n` +
        `  "${names[0]}": the index puts it in model-00002-of-00002.safetensors, which does not hold it\n` +
        `  model-00003-of-00002.safetensors: missing (the index puts 1 tensor in it, e.g. "${names[1]}")`,
    );
    expect(existsSync(out)).toBe(false);
  });

  test("a malformed index is a clear error", () => {
    const dir = shardedFolder("bad-index", 1);
    const index = join(dir, "model.safetensors.index.json");
    const cases: [string, RegExp][] = [
      ["{", /model\.safetensors\.index\.json: not valid JSON/],
      [JSON.stringify({ weight_map: [] }), /expected \{"weight_map": \{tensor name: shard file, \.\.\.\}\}/],
      [JSON.stringify({ weight_map: {} }), /weight_map is empty/],
      [JSON.stringify({ weight_map: { x: "../outside.safetensors" } }), /weight_map\["x"\] must name a \.safetensors file in this folder, found "\.\.\/outside\.safetensors"/],
    ];
    for (const [text, message] of cases) {
      writeFileSync(index, text);
      expect(errorOf(() => importHf(dir, join(work, "bad-index-out"))).message).toMatch(message);
    }
  });
});

describe("mapping tables", () => {
  test("every rule's {i} placeholders agree between the HF and our name, and no two rules overlap", () => {
    for (const [arch, table] of Object.entries(MAPPING_TABLES)) {
      const rules = compileRules(table);
      for (const { rule } of rules) {
        expect(rule.hf.split("{i}").length, `${arch}: ${rule.hf}`).toBe(rule.ours.split("{i}").length);
        const example = rule.hf.replace(/\{i\}/g, "7");
        expect(rules.filter((r) => r.match(example) !== null).map((r) => r.rule.hf), `${arch}: ${example}`).toEqual([rule.hf]);
        expect(rules.find((r) => r.rule === rule)!.match(example)).toBe(rule.ours.replace(/\{i\}/g, "7"));
      }
    }
  });
});

describe("layouts", () => {
  test("conv_oihw_to_patch_dense makes dense(patchify(x)) equal the stride-P conv", () => {
    const [d, c, p] = [3, 2, 2];
    const size = 4;
    const weight = Float32Array.from({ length: d * c * p * p }, (_, i) => Math.sin(i + 1));
    const image = Float32Array.from({ length: size * size * c }, (_, i) => Math.cos(3 * i)); // NHWC, batch 1
    const kernel = LAYOUTS.conv_oihw_to_patch_dense.convert(weight, [d, c, p, p], [p * p * c, d]);
    const grid = size / p;
    for (let gy = 0; gy < grid; gy++) {
      for (let gx = 0; gx < grid; gx++) {
        for (let o = 0; o < d; o++) {
          let conv = 0; // PyTorch: sum over c, r, s of W[o, c, r, s] · x[c, gy·p + r, gx·p + s]
          let dense = 0; // patchify feature (r, s, c) = row (r·p + s)·C + c
          for (let ch = 0; ch < c; ch++)
            for (let r = 0; r < p; r++)
              for (let s = 0; s < p; s++) {
                const x = image[((gy * p + r) * size + gx * p + s) * c + ch]!;
                conv += weight[((o * c + ch) * p + r) * p + s]! * x;
                dense += kernel[((r * p + s) * c + ch) * d + o]! * x;
              }
          expect(dense).toBeCloseTo(conv, 5);
        }
      }
    }
  });

  test("transpose, reshape and slice_rows", () => {
    expect(Array.from(LAYOUTS.transpose.convert(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3], [3, 2]))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(LAYOUTS.reshape.shape([1, 1, 8], [8])).toEqual([8]);
    expect(LAYOUTS.reshape.shape([1, 65, 8], [65, 8])).toEqual([65, 8]);
    expect(LAYOUTS.slice_rows.shape([16, 4], [12, 4])).toEqual([12, 4]);
    expect(LAYOUTS.slice_rows.shape([8, 4], [12, 4])).toEqual([8, 4]); // too short: reported as a wrong shape
    expect(Array.from(LAYOUTS.slice_rows.convert(Float32Array.from([1, 2, 3, 4, 5, 6]), [3, 2], [2, 2]))).toEqual([1, 2, 3, 4]);
  });
});

describe("half-precision checkpoints", () => {
  test("F16 tensors are widened to F32 on import", () => {
    const source = join(OWN_FIXTURES, "vit-cls-quickgelu-grey");
    const dir = join(work, "f16");
    const { tensors } = readSafetensors(join(source, "model.safetensors"));
    const half = new Map<string, SafetensorsTensor>();
    for (const [name, t] of tensors) half.set(name, { dtype: "F16", shape: t.shape, data: t.data as Float32Array });
    writeSafetensors(join(dir, "model.safetensors"), half);
    copyFileSync(join(source, "config.json"), join(dir, "config.json"));
    const result = importHf(dir, join(work, "f16-out"));
    const written = readSafetensors(result.weightsFile).tensors;
    const bias = written.get("classifier.bias")!;
    expect(bias.dtype).toBe("F32");
    const original = tensors.get("classifier.bias")!.data as Float32Array;
    (bias.data as Float32Array).forEach((v, i) => expect(Math.abs(v - original[i]!)).toBeLessThanOrEqual(Math.abs(original[i]!) * 2 ** -10));
  });
});
