// Golden IR: the JSON of every bundled model, byte for byte (regenerate with UPDATE_GOLDEN=1 after
// an intended change, and review the diff). Also: compiling twice gives the same bytes, and the
// source hash follows the sources and the overrides.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileFile } from "../compiler/index.js";
import { OP_TABLE } from "../compiler/ir.js";

const goldens: { spec: string; model?: string; golden: string }[] = [
  { spec: "specs/convnet.vlm", golden: "convnet.json" },
  { spec: "specs/vit.vlm", golden: "vit.json" },
  { spec: "specs/clip.vlm", golden: "clip.json" },
  { spec: "specs/clip.vlm", model: "ClipMlp", golden: "clip.ClipMlp.json" },
  { spec: "specs/kosmos.vlm", golden: "kosmos.json" },
  { spec: "specs/kosmos.vlm", model: "KosmosResampler", golden: "kosmos.KosmosResampler.json" },
  { spec: "specs/kosmos.vlm", model: "KosmosQFormer", golden: "kosmos.KosmosQFormer.json" },
  { spec: "specs/kosmos.vlm", model: "KosmosGated", golden: "kosmos.KosmosGated.json" },
  { spec: "specs/qwen-vl.vlm", golden: "qwen-vl.json" },
  { spec: "specs/idefics2.vlm", golden: "idefics2.json" },
  { spec: "specs/xcomposer2.vlm", golden: "xcomposer2.json" },
  { spec: "specs/internvl.vlm", golden: "internvl.json" },
];

function irText(spec: string, model?: string, set?: string[]): string {
  const result = compileFile(spec, { model, set });
  expect(result.diagnostics).toEqual([]);
  return JSON.stringify(result.program, null, 2) + "\n";
}

describe("golden IR of the bundled specs", () => {
  for (const { spec, model, golden } of goldens) {
    it(`${spec}${model ? ` --model ${model}` : ""}`, () => {
      const path = `test/golden/ir/${golden}`;
      const text = irText(spec, model);
      if (process.env.UPDATE_GOLDEN === "1" || !existsSync(path)) writeFileSync(path, text);
      expect(text).toBe(readFileSync(path, "utf8"));
    });
  }
});

describe("IR invariants", () => {
  for (const { spec, model } of goldens) {
    it(`${spec}${model ? ` ${model}` : ""}: topological, concrete, attrs in table order`, () => {
      const program = compileFile(spec, { model }).program!;
      const seen = new Set<string>();
      program.nodes.forEach((node, i) => {
        expect(node.id).toBe(`n${i}`);
        for (const input of node.inputs) expect(seen.has(input)).toBe(true);
        seen.add(node.id);
        expect(Object.keys(node.attrs)).toEqual(Object.keys(OP_TABLE[node.op].attrs).filter((k) => k in node.attrs));
        for (const role of Object.keys(node.params)) expect(OP_TABLE[node.op].params).toContain(role);
        // Only the batch stays symbolic (B, or B*T for the T tiles per example of tile_image).
        for (const d of node.shape) if (typeof d === "string") expect(d).toMatch(/^B(\*\d+)?$/);
      });
      const names = program.params.map((p) => p.name);
      expect(new Set(names).size).toBe(names.length);
      const paths = program.modules.map((m) => m.path);
      paths.forEach((p, i) => {
        if (p === "") return;
        const parent = program.modules.slice(0, i).some((m) => m.path === "" || p.startsWith(m.path + "."));
        expect(parent).toBe(true);
      });
      expect(program.loss).not.toBeNull();
    });
  }
});

describe("determinism and the source hash", () => {
  it("compiles to the same bytes twice", () => {
    expect(irText("specs/kosmos.vlm")).toBe(irText("specs/kosmos.vlm"));
  });

  it("the hash changes with the overrides and not otherwise", () => {
    const a = compileFile("specs/vit.vlm").program!.source.hash;
    const b = compileFile("specs/vit.vlm", { set: ["classes=5"] }).program!.source.hash;
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(b).not.toBe(a);
    expect(compileFile("specs/vit.vlm").program!.source.hash).toBe(a);
  });

  it("records where each argument came from", () => {
    const program = compileFile("specs/clip.vlm", { model: "ClipMlp", set: ["embed=32"] }).program!;
    const model = program.modules[0]!;
    expect(model.argSources.embed).toBe("set");
    expect(model.argSources.image_head).toBe("extends");
    expect(model.argSources.vision).toBe("default");
    expect(model.args.image_head).toBe("MlpHead(dim=64, out_dim=embed, hidden=128)");
    expect(program.train).toMatchObject({ task: "contrastive", epochs: 8 });
    expect(compileFile("specs/clip.vlm", { model: "ClipViT" }).program!.train.epochs).toBe(10);
  });
});
