// Property: random token-level edits of the bundled specs never crash the compiler. Whatever the
// text, compileSource returns (a program or diagnostics) and never throws.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileSource } from "../compiler/index.js";

const specs = ["specs/convnet.vlm", "specs/vit.vlm", "specs/clip.vlm", "specs/kosmos.vlm", "specs/std/layers.vlm"];
const replacements = ["0", "-1", "2.5", "1e9", "x", "B", "dim", "(", ")", "[", "]", ",", "=", "as", "repeat", "in", "out", "loss", "+", "//", "\"s\"", "true", "Mlp", "ViT", "model", "extends", "."];

/** Splits text into tokens (words, numbers, single punctuation) and the spaces between them. */
function tokens(text: string): string[] {
  return text.match(/[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?(?:e-?\d+)?|\s+|"[^"\n]*"|./g) ?? [];
}

const edit = fc.record({
  spec: fc.constantFrom(...specs),
  edits: fc.array(
    fc.record({ at: fc.nat(), kind: fc.constantFrom("delete", "replace", "insert", "duplicate"), token: fc.constantFrom(...replacements) }),
    { minLength: 1, maxLength: 4 },
  ),
});

describe("random edits of the bundled specs", () => {
  it("never crash the compiler", () => {
    fc.assert(
      fc.property(edit, ({ spec, edits }) => {
        const parts = tokens(readFileSync(spec, "utf8"));
        for (const e of edits) {
          const i = e.at % parts.length;
          if (e.kind === "delete") parts.splice(i, 1);
          else if (e.kind === "replace") parts[i] = e.token;
          else if (e.kind === "insert") parts.splice(i, 0, " ", e.token, " ");
          else parts.splice(i, 0, parts[i]!);
        }
        const result = compileSource(parts.join(""), spec);
        expect(result.program !== null || result.diagnostics.some((d) => d.severity === "error")).toBe(true);
        for (const d of result.diagnostics) {
          expect(d.code).toMatch(/^[EW]\d{4}$/);
          expect(d.code, d.message).not.toBe("E0999"); // an internal error is a compiler bug
        }
      }),
      { numRuns: 150, seed: 20260101 },
    );
  });
});
