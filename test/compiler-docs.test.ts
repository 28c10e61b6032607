// Every ```vlm example in docs/language.md compiles: without errors, or — when its first line is
// `# error: CODE` — with that code first. Keeps the language reference honest.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileSource } from "../compiler/index.js";

const doc = readFileSync("docs/language.md", "utf8");
const examples = [...doc.matchAll(/```vlm\n([\s\S]*?)```/g)].map((m) => ({ text: m[1]!, line: doc.slice(0, m.index).split("\n").length + 1 }));

describe("docs/language.md examples", () => {
  it("has examples", () => {
    expect(examples.length).toBeGreaterThan(20);
  });

  for (const { text, line } of examples) {
    const expected = /^# error: (\w+)/.exec(text)?.[1];
    it(`example at line ${line}${expected ? ` fails with ${expected}` : " compiles"}`, () => {
      const result = compileSource(text, `docs/language.md:${line}.vlm`);
      if (expected) {
        expect(result.diagnostics[0]?.code).toBe(expected);
      } else {
        expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
        expect(result.program).not.toBeNull();
      }
    });
  }
});
