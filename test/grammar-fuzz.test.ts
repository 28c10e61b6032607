// Property: random edits of a valid spec (characters or whole tokens deleted, inserted,
// duplicated) never make parse or format throw nor hit an internal error (E0199, which parse
// reports when it catches an exception); every diagnostic has a code and a place; and whenever
// the edited text still parses, formatting it is idempotent and keeps its AST.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SourceFile } from "../grammar/ast.js";
import { format } from "../grammar/format.js";
import { parse } from "../grammar/parse.js";
import { vlmLexer } from "../grammar/tokens.js";

const SPEC = `# A small classifier.
import "std/layers.vlm"

block Mlp(dim: int, hidden: int = dim * 4, act: string = "gelu") {
  in x: [B, N, dim]  # tokens
  h = activation(dense(x, hidden) as fc1, act)
  out dense(h, dim) as fc2
}

encoder Tiny(image_size: int = 28, channels: int = 1, dim: int = 32, depth: int = 2) {
  in pixels: [B, image_size, image_size, channels]
  x = dense(patchify(pixels, 4), dim) as embed
  repeat depth as layers {
    # a residual MLP
    x = x + Mlp(dim, dim * 2)(layer_norm(x, 1e-5) as ln) as mlp
  }
  out x: [B, (image_size // 4) * (image_size // 4), dim]
}

model Classifier(classes: int = 10, vision: encoder = Tiny()) {
  in image: [B, 28, 28, 1]
  in label: [B] int
  out logits = dense(mean_tokens(vision(image)), classes) as head
  loss cross_entropy(logits, label)
  train { task = "classify", epochs = 2, lr = 2e-3, }
}

model Wide extends Classifier(vision = Tiny(dim = 64))
`;

/** Pieces worth inserting: every kind of token, and some trouble. */
const PIECES = [
  "(", ")", "[", "]", "{", "}", ",", ";", ":", ".", "=", "==", "-", "+", "*", "//", "%", "<", ">=",
  "as", "in", "out", "repeat", "loss", "train", "import", "extends", "block", "model", "connector",
  "int", "true", "x", "4", "1e-5", "4.", '"s"', '"', "\\", "#", "\n", "\r", "\r\n", "\t", " ", "@", "\0", "\ufffd",
];

type Edit = { kind: "delete" | "insert" | "duplicate" | "dropTokens"; at: number; length: number; piece: number };

const edit = fc.record({
  kind: fc.constantFrom<Edit["kind"]>("delete", "insert", "duplicate", "dropTokens"),
  at: fc.nat(),
  length: fc.integer({ min: 1, max: 12 }),
  piece: fc.nat(PIECES.length - 1),
});

function apply(text: string, e: Edit): string {
  const at = e.at % (text.length + 1);
  switch (e.kind) {
    case "delete":
      return text.slice(0, at) + text.slice(at + e.length);
    case "insert":
      return text.slice(0, at) + PIECES[e.piece] + text.slice(at);
    case "duplicate":
      return text.slice(0, at) + text.slice(at, at + e.length) + text.slice(at);
    case "dropTokens": {
      // Whole tokens: leaves the text lexically valid, so the parser's recovery is what is tested.
      const tokens = vlmLexer.tokenize(text).tokens;
      if (tokens.length === 0) return text;
      const first = e.at % tokens.length;
      const from = tokens[first].startOffset;
      const to = tokens[Math.min(tokens.length - 1, first + (e.length % 4) + 1)].startOffset;
      return text.slice(0, from) + text.slice(to);
    }
  }
}

function meaning(ast: SourceFile | null): unknown {
  if (!ast) return null;
  const { comments, ...rest } = ast;
  return {
    ...JSON.parse(JSON.stringify(rest, (k, v) => (k === "span" ? undefined : v))),
    comments: comments.map((c) => c.text.trimEnd()),
  };
}

describe("random edits of a valid spec", () => {
  it("the unedited spec parses cleanly", () => {
    expect(parse(SPEC, "t.vlm").diagnostics).toEqual([]);
  });

  it("never throw, always explain, and keep the formatter's promises", () => {
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        const text = edits.reduce(apply, SPEC);
        const parsed = parse(text, "t.vlm");
        for (const d of parsed.diagnostics) {
          expect(d.code).toMatch(/^E01\d\d$/);
          expect(d.code, "E0199 is an internal error: parse caught an exception").not.toBe("E0199");
          expect(d.span?.file).toBe("t.vlm");
          expect(d.span!.line).toBeGreaterThanOrEqual(1);
          expect(d.span!.col).toBeGreaterThanOrEqual(1);
        }
        const formatted = format(text, "t.vlm");
        if (parsed.diagnostics.length > 0) {
          expect(formatted.text).toBeNull();
          return;
        }
        const again = format(formatted.text!, "t.vlm");
        expect(again.text).toBe(formatted.text);
        expect(meaning(parse(formatted.text!, "t.vlm").ast)).toEqual(meaning(parsed.ast));
      }),
      { numRuns: 200, seed: 20261128 },
    );
  });
});
