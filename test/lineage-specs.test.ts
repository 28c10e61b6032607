// The later lineage (issue 8) as bundled specs and language: every new spec compiles with the
// shapes the design says (InternVL's tiles folded into the batch, 4× fewer tokens after pixel
// shuffle), `frozen` marks exactly the parameters it covers (on a call, a block value, a --set),
// the formatter keeps it, and Partial LoRA trained with the real trainer leaves the frozen base
// weights bit-identical while the outputs at positions before the first image token equal the
// base model's exactly.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileFile, compileSource } from "../compiler/index.js";
import type { IRProgram } from "../compiler/ir.js";
import { formatSummaryTable } from "../compiler/summary.js";
import { format } from "../grammar/format.js";
import { initBackend } from "../runtime/backend.js";
import type { BatchField, Dataset, Split } from "../runtime/data/types.js";
import { createRng } from "../runtime/data/rng.js";
import { loadModel } from "../runtime/model.js";
import { train } from "../runtime/train/trainer.js";

const work = mkdtempSync(join(tmpdir(), "vlmc-lineage-"));
beforeAll(async () => {
  await initBackend("cpu");
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function compiled(spec: string, opts: { set?: string[]; model?: string } = {}): IRProgram {
  const result = compileFile(spec, opts);
  expect(result.diagnostics).toEqual([]);
  return result.program!;
}
function source(text: string, set: string[] = []): IRProgram {
  const result = compileSource(text, "test/lineage.vlm", { set });
  expect(result.diagnostics).toEqual([]);
  return result.program!;
}
const moduleShape = (p: IRProgram, path: string) => p.modules.find((m) => m.path === path)?.shape;
const frozenNames = (p: IRProgram) => p.params.filter((q) => !q.trainable).map((q) => q.name);

describe("the lineage specs", () => {
  it("Qwen-VL: 16 patch tokens compressed to 8 by the adapter, decoder over 8 + 12", () => {
    const p = compiled("specs/qwen-vl.vlm");
    expect(moduleShape(p, "vision")).toEqual(["B", 17, 64]);
    expect(moduleShape(p, "adapter")).toEqual(["B", 8, 128]);
    expect(p.nodes.some((n) => n.op === "sincos_2d_positions" && n.shape[1] === 16)).toBe(true);
    expect(moduleShape(p, "decoder.pos")).toEqual(["B", 20, 128]);
  });

  it("Idefics2: MLP projection per token, then 8 latents through 2 perceiver layers", () => {
    const p = compiled("specs/idefics2.vlm");
    expect(moduleShape(p, "projector")).toEqual(["B", 16, 128]);
    expect(moduleShape(p, "resampler")).toEqual(["B", 8, 128]);
    expect(p.modules.filter((m) => m.block === "PerceiverLayer").length).toBe(2);
  });

  it("InternVL: 2×2 tiles + thumbnail = 5 tiles, a 2×2 grid → 1 token each, 5 visual tokens", () => {
    const p = compiled("specs/internvl.vlm");
    expect(p.nodes.find((n) => n.op === "tile_image")!.shape).toEqual(["B*5", 16, 16, 3]);
    expect(moduleShape(p, "vision")).toEqual(["B*5", 4, 64]);
    expect(moduleShape(p, "projector")).toEqual(["B*5", 1, 128]);
    expect(p.nodes.find((n) => n.op === "merge_tiles")!.shape).toEqual(["B", 5, 128]);
    expect(moduleShape(p, "decoder.pos")).toEqual(["B", 17, 128]);
    // The token count follows the tile count: a 64×64 image is 4×4 tiles + a thumbnail.
    const big = compiled("specs/internvl.vlm", { set: ["image_size=64", "max_tiles=17"] });
    expect(big.nodes.find((n) => n.op === "merge_tiles")!.shape).toEqual(["B", 17, 128]);
    expect(compileFile("specs/internvl.vlm", { set: ["image_size=64"] }).diagnostics[0]?.code).toBe("E0408");
    // FLOPs per example count every tile: a ViT on the tiles costs 5 times one 16×16 image's ViT
    // (attention included, which does not scale with the batch by itself).
    const onTiles = source(`import "std/encoders.vlm"
model Tiled(vision: encoder = ConvTower()) {
  in image: [B, 32, 32, 3]
  out merge_tiles(vision(tile_image(image, 16, 6)))
}`, ["vision=ViT(image_size = 16, patch = 4, dim = 64, depth = 2)"]);
    const single = source(`import "std/encoders.vlm"
model One() {
  in image: [B, 16, 16, 3]
  out ViT(image_size = 16, patch = 4, dim = 64, depth = 2)(image) as vision
}`);
    expect(onTiles.modules.find((m) => m.path === "vision")!.flops).toBe(5 * single.modules.find((m) => m.path === "vision")!.flops);
    expect(onTiles.modules.find((m) => m.path === "vision")!.shape).toEqual(["B*5", 17, 64]);
  });

  it("XComposer2: exactly the decoder's base projections are frozen", () => {
    const p = compiled("specs/xcomposer2.vlm");
    const frozen = frozenNames(p);
    expect(frozen.length).toBe(2 * 6 * 2); // 2 layers × 6 projections × (kernel, bias)
    for (const name of frozen) expect(name).toMatch(/^decoder\.layers\.[01]\.block\.(q_proj|k_proj|v_proj|o_proj|fc1|fc2)\.base\.(kernel|bias)$/);
    const table = formatSummaryTable(p);
    expect(table).toMatch(/decoder\.layers\.0\.block\.q_proj\.base\s+dense \(frozen\)/);
    expect(table).toContain(`${p.totals.trainableParams.toLocaleString("en-US")} trainable, ${(p.totals.params - p.totals.trainableParams).toLocaleString("en-US")} frozen`);
  });
});

describe("frozen", () => {
  const spec = `import "std/encoders.vlm"
model M(vision: encoder = ConvTower(image_size = 16, dim = 8)) {
  in image: [B, 16, 16, 3]
  a = frozen dense(vision(image), 4) as head
  out a + dense(vision(image) as v2, 4) as other
}`;

  it("on a call freezes the parameters it creates, and only those", () => {
    const p = source(spec);
    expect(frozenNames(p)).toEqual(["head.kernel", "head.bias"]);
    expect(p.totals.trainableParams).toBe(p.totals.params - (8 * 4 + 4));
  });

  it("on a block value freezes every application of it, also when given with --set", () => {
    const p = source(spec.replace("vision: encoder = ConvTower", "vision: encoder = frozen ConvTower"));
    const names = frozenNames(p);
    expect(names.filter((n) => n.startsWith("vision."))).toHaveLength(6);
    expect(names.filter((n) => n.startsWith("v2."))).toHaveLength(6);
    expect(p.modules.find((m) => m.path === "")!.args["vision"]).toBe("frozen ConvTower(image_size=16, dim=8)");
    const set = source(spec, ["vision=frozen ConvTower(image_size = 16, dim = 8)"]);
    expect(frozenNames(set)).toEqual(names);
  });

  it("reports a frozen expression that creates no parameters", () => {
    const r = compileSource(`model M() {\n  in x: [B, 4]\n  out frozen (x * 2)\n}`, "m.vlm");
    expect(r.diagnostics[0]?.code).toBe("E0305");
  });

  it("is kept by the formatter", () => {
    const { text } = format("model M(v: encoder = frozen   ViT()) {\n  in x: [B, 4]\n  out frozen dense(x, 2) as d + -x\n}\n", "m.vlm");
    expect(text).toContain("v: encoder = frozen ViT()");
    expect(text).toContain("out frozen dense(x, 2) as d + -x");
  });
});

describe("Partial LoRA trained with the real trainer", () => {
  // A 2-layer PLoraBlock decoder whose image mask is a model input, so a test can place it anywhere.
  const spec = `import "std/adapters.vlm"
model PLoraProbe(vocab: int = 12, seq_len: int = 6) {
  in tokens: [B, seq_len] int
  in image_mask: [B, seq_len]
  in targets: [B, seq_len] int
  in target_mask: [B, seq_len]
  x = position_embedding(embedding(tokens, vocab, 16) as embed) as pos
  repeat 2 as layers {
    x = PLoraBlock(16, 2, rank = 2, mlp_ratio = 2)(x, image_mask) as block
  }
  out logits = dense(layer_norm(x) as norm, vocab) as head
  loss lm_loss(logits, targets, target_mask)
}`;

  /** Sequences whose first two positions are "image" positions, targets the next token. */
  function split(count: number, seed: number): Split {
    const rng = createRng(seed);
    const ids = Int32Array.from({ length: count * 7 }, () => Math.floor(rng.next() * 12));
    const field = (dtype: "float32" | "int32", shape: number[], data: Float32Array | Int32Array): BatchField => ({ dtype, shape, data });
    return {
      size: count,
      imageShape: [1, 1, 1],
      meta: () => ({ label: 0 }),
      batch(indices) {
        const n = indices.length;
        const tokens = new Int32Array(n * 6), targets = new Int32Array(n * 6);
        indices.forEach((e, b) => {
          for (let t = 0; t < 6; t++) {
            tokens[b * 6 + t] = ids[e * 7 + t]!;
            targets[b * 6 + t] = ids[e * 7 + t + 1]!;
          }
        });
        const mask = Float32Array.from({ length: n * 6 }, (_, i) => (i % 6 < 2 ? 1 : 0));
        return {
          image: field("float32", [n, 1, 1, 1], new Float32Array(n)),
          label: field("int32", [n], new Int32Array(n)),
          tokens: field("int32", [n, 6], tokens),
          image_mask: field("float32", [n, 6], mask),
          targets: field("int32", [n, 6], targets),
          target_mask: field("float32", [n, 6], Float32Array.from({ length: n * 6 }, () => 1)),
        } as ReturnType<Split["batch"]>;
      },
    };
  }

  it("keeps the base weights bit-identical and the outputs before the first image token equal to the base model's", async () => {
    const program = source(spec);
    const model = await loadModel(program, { seed: 1, cacheDir: join(work, "cache") });
    const initial = model.readParams();
    const dataset: Dataset = { name: "synthetic", classes: ["x"], splits: { train: split(64, 1), test: split(16, 2) } };
    await train({
      model, dataset, outDir: join(work, "run"), backend: { name: "cpu", reason: "test" }, spec: "probe", data: "synthetic", arguments: {},
      epochs: 2, batch: 16, lr: 0.02, optimizer: { name: "adamw", weightDecay: 0.1 }, schedule: "constant", warmup: 0, seed: 3, logEvery: 100,
    });
    const after = model.readParams();
    let lora = 0;
    for (const p of program.params) {
      const before = initial.get(p.name)!.data, now = after.get(p.name)!.data;
      if (!p.trainable) expect(Buffer.from(now.buffer).equals(Buffer.from(before.buffer)), p.name).toBe(true);
      if (p.name.endsWith(".lora.b")) {
        expect(now.some((v) => v !== 0), p.name).toBe(true);
        lora++;
      }
    }
    expect(lora).toBe(12);

    // The trained model against its base (every LoRA update zeroed) on a sequence whose image
    // positions are 3..5: positions 0..2 cannot see them (causal), so they must match exactly.
    const inputs = () => ({
      tokens: tf.tensor2d([[1, 5, 7, 2, 9, 4]], [1, 6], "int32"),
      image_mask: tf.tensor2d([[0, 0, 0, 1, 1, 1]], [1, 6]),
    });
    const logits = () => tf.tidy(() => model.forward(inputs(), { loss: false }).outputs["logits"]!.dataSync().slice());
    const trained = logits();
    model.setParams(new Map(program.params.filter((p) => p.name.endsWith(".lora.b")).map((p) => [p.name, new Float32Array(p.shape[0]! * p.shape[1]!)])));
    const base = logits();
    const text = 3 * 12;
    expect(Array.from(trained.slice(0, text))).toEqual(Array.from(base.slice(0, text)));
    expect(Array.from(trained.slice(text))).not.toEqual(Array.from(base.slice(text)));
    model.dispose();
  });
});
