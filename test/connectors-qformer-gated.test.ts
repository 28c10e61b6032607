// The BLIP-2 Q-Former and Flamingo's gated cross-attention (specs/std/connectors.vlm) and the
// KOSMOS variants that use them (KosmosQFormer, KosmosGated): the compiler checks the widths and
// token counts they are given, a gated block is the identity at initialisation (its tanh gates start
// at 0), and on a tiny shapes world the training loss falls for both variants. How well they answer
// after a full run is measured by full runs, never here.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatDiagnostic } from "../compiler/diagnostics.js";
import { compileFile, compileSource } from "../compiler/index.js";
import { initBackend } from "../runtime/backend.js";
import { loadShapes } from "../runtime/data/shapes.js";
import { loadModel } from "../runtime/model.js";
import { compileForData } from "../runtime/train/setup.js";
import { train } from "../runtime/train/trainer.js";

const work = mkdtempSync(join(tmpdir(), "vlmc-connectors-"));
const cacheDir = join(work, "cache");
beforeAll(async () => {
  await initBackend("wasm");
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The first diagnostic line of a spec written inline beside the bundled ones (so std imports resolve). */
function firstError(source: string): string {
  const result = compileSource(source, "specs/inline-test.vlm");
  expect(result.program).toBeNull();
  return formatDiagnostic(result.diagnostics[0]!, result.sources).split("\n")[0]!;
}

describe("the compiler checks what the new connectors are given", () => {
  it("Q-Former: the image width it declares, and the token count it outputs", () => {
    const wrongWidth = compileFile("specs/kosmos.vlm", { model: "KosmosQFormer", set: ["projector=QFormer(dim = 32, out_dim = width)"] });
    expect(formatDiagnostic(wrongWidth.diagnostics[0]!, wrongWidth.sources).split("\n")[0]).toBe(
      "specs/kosmos.vlm:25:25: error[E0410]: QFormer: input 'image' expects [B, N, 32], found [B, 16, 64]",
    );
    // The queries are the output tokens: a consumer that wants 8 tokens is refused 16.
    expect(
      firstError(`import "std/connectors.vlm"
block EightTokens(dim: int) {
  in t: [B, 8, dim]
  out t
}
model M() {
  in image: [B, 49, 64]
  out EightTokens(128)(QFormer(dim = 64, out_dim = 128, queries = 16)(image))
}
`),
    ).toBe("specs/inline-test.vlm:8:24: error[E0410]: EightTokens: input 't' expects [B, 8, 128], found [B, 16, 128]");
    expect(firstError(`import "std/connectors.vlm"
model M() {
  in image: [B, 49, 64]
  out QFormer(dim = 64, out_dim = 100, heads = 3)(image)
}
`)).toMatch(/error\[E0404\]/);
  });

  it("gated cross-attention: the image width, and the decoder width against the projector's", () => {
    expect(
      firstError(`import "std/connectors.vlm"
model M() {
  in x: [B, 10, 32]
  in image: [B, 5, 48]
  out GatedCrossAttention(32, image_dim = 64)(x, image)
}
`),
    ).toBe("specs/inline-test.vlm:5:50: error[E0410]: GatedCrossAttention: input 'image' expects [B, N, 64], found [B, 5, 48]");
    const wrongWidth = compileFile("specs/kosmos.vlm", { model: "KosmosGated", set: ["decoder=GatedDecoder(dim = 96, vocab = vocab)"] });
    expect(formatDiagnostic(wrongWidth.diagnostics[0]!, wrongWidth.sources).split("\n")[0]).toBe(
      "specs/kosmos.vlm:25:15: error[E0410]: GatedDecoder: input 'image' expects [B, N, 96], found [B, 16, 128]",
    );
  });

  it("shapes: the Q-Former outputs [B, queries, out_dim]; gated cross-attention keeps the text's shape", () => {
    const ok = compileSource(`import "std/connectors.vlm"
model M() {
  in x: [B, 10, 32]
  in image: [B, 49, 64]
  q = QFormer(dim = 64, out_dim = 32, queries = 6, depth = 1)(image) as qformer
  out GatedCrossAttention(32, heads = 2)(x, q)
}
`, "specs/inline-test.vlm");
    expect(ok.diagnostics).toEqual([]);
    const program = ok.program!;
    expect(program.modules.find((m) => m.path === "qformer")?.shape).toEqual(["B", 6, 32]);
    expect(program.outputs[0]!.shape).toEqual(["B", 10, 32]);
    const gates = program.params.filter((p) => /\.(attn|mlp)_gate\.value$/.test(p.name));
    expect(gates.map((g) => [g.shape, g.init])).toEqual([
      [[], { kind: "constant", value: 0 }],
      [[], { kind: "constant", value: 0 }],
    ]);
  });
});

describe("gated cross-attention at initialisation", () => {
  it("passes the text through unchanged: tanh(0) closes both gates", async () => {
    const { program } = compileSource(`import "std/connectors.vlm"
model M() {
  in x: [B, 4, 16]
  in image: [B, 3, 8]
  out y = GatedCrossAttention(16, image_dim = 8, heads = 2)(x, image)
}
`, "specs/inline-test.vlm");
    const model = await loadModel(program!, { seed: 4, cacheDir });
    try {
      const x = tf.randomNormal([2, 4, 16], 0, 1, "float32", 1);
      const image = tf.randomNormal([2, 3, 8], 0, 1, "float32", 2);
      const y = model.forward({ x, image }, { loss: false }).outputs["y"]!;
      expect(Array.from(y.dataSync())).toEqual(Array.from(x.dataSync()));
      tf.dispose([x, image, y]);
    } finally {
      model.dispose();
    }
  });
});

describe("KOSMOS variants train on a tiny shapes world", () => {
  const tiny = loadShapes({ trainSize: 64, testSize: 32, heldoutSize: 24, seed: 5 });

  for (const name of ["KosmosQFormer", "KosmosGated"]) {
    it(`${name}: the loss falls`, async () => {
      const compiled = compileForData("specs/kosmos.vlm", { model: name, set: [] }, tiny);
      expect(compiled.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
      const model = await loadModel(compiled.program!, { seed: 1, cacheDir });
      const outDir = join(work, name);
      try {
        await train({
          model,
          dataset: compiled.dataset!,
          tokenizer: compiled.tokenizer!,
          finalEvalSplits: [],
          outDir,
          backend: { name: "wasm", reason: "test" },
          spec: "specs/kosmos.vlm",
          data: "shapes",
          arguments: {},
          steps: 20,
          epochs: 1,
          batch: 16,
          lr: 3e-3,
          optimizer: { name: "adamw", weightDecay: 0.01 },
          schedule: "constant",
          warmup: 0,
          seed: 3,
          logEvery: 5,
          evalEvery: 20,
          evalBatch: 64,
          limit: 32,
        });
        const losses = readFileSync(join(outDir, "metrics.jsonl"), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as { kind: string; loss: number })
          .filter((r) => r.kind === "train")
          .map((r) => r.loss);
        expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.8);
        if (name === "KosmosGated") {
          // The gates opened: the decoder learned to let the image in.
          const gate = model.params.get("decoder.layers.0.xattn.attn_gate.value")!.dataSync()[0]!;
          expect(gate).not.toBe(0);
        }
      } finally {
        model.dispose();
      }
    });
  }
});
